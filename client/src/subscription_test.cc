#include "client/src/subscription.h"

#include "gtest/gtest.h"

namespace mq::client_internal {
namespace {

TEST(SubscriptionTest, TagHashIsJavasStringHashCode) {
  EXPECT_EQ(TagHashCode(""), 0);
  EXPECT_EQ(TagHashCode("TagA"), 2598919);
  // Overflows wrap as in Java: "hello world".hashCode() == 1794106052.
  EXPECT_EQ(TagHashCode("hello world"), 1794106052);
  EXPECT_EQ(TagHashCode("abcdefghij"), -634317659);
}

TEST(SubscriptionTest, StarAndEmptyMatchEverything) {
  for (const char* expression : {"*", "", "  "}) {
    broker::v1::SubscriptionData data = ParseSubscription("T", expression);
    EXPECT_EQ(data.sub_string(), "*");
    EXPECT_TRUE(MatchesSubscription(data, "Anything"));
    EXPECT_TRUE(MatchesSubscription(data, ""));
  }
}

TEST(SubscriptionTest, TagListMatchesExactly) {
  broker::v1::SubscriptionData data = ParseSubscription("T", " TagA || TagB ||  ");
  EXPECT_EQ(data.topic(), "T");
  ASSERT_EQ(data.tags_size(), 2);
  EXPECT_EQ(data.tags(0), "TagA");
  EXPECT_EQ(data.codes(1), TagHashCode("TagB"));
  EXPECT_TRUE(MatchesSubscription(data, "TagB"));
  EXPECT_FALSE(MatchesSubscription(data, "TagC"));
  EXPECT_FALSE(MatchesSubscription(data, ""));
  EXPECT_FALSE(MatchesSubscription(data, "Tag"));
}

TEST(SubscriptionTest, ReadableQueuesWithoutNeedingAMaster) {
  common::v1::TopicRouteData route;
  auto add = [&route](const std::string& name, int32_t reads, uint32_t perm) {
    common::v1::QueueData* qd = route.add_queue_datas();
    qd->set_broker_name(name);
    qd->set_read_queue_nums(reads);
    qd->set_write_queue_nums(1);
    qd->set_perm(perm);
  };
  add("b", 2, common::v1::PERM_READ);
  add("a", 1, common::v1::PERM_READ | common::v1::PERM_WRITE);
  add("write-only", 4, common::v1::PERM_WRITE);
  std::vector<MessageQueue> expected = {{"T", "a", 0}, {"T", "b", 0}, {"T", "b", 1}};
  EXPECT_EQ(SubscribeQueuesFromRoute("T", route), expected);
}

}  // namespace
}  // namespace mq::client_internal
