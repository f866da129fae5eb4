#include "client/src/topic_publish_info.h"

#include <map>
#include <set>
#include <thread>

#include "gtest/gtest.h"

namespace mq::client_internal {
namespace {

using common::v1::TopicRouteData;

void AddBroker(TopicRouteData* route, const std::string& name, int32_t write_queues,
               uint32_t perm = 6, bool with_master = true) {
  common::v1::QueueData* qd = route->add_queue_datas();
  qd->set_broker_name(name);
  qd->set_read_queue_nums(write_queues);
  qd->set_write_queue_nums(write_queues);
  qd->set_perm(perm);
  common::v1::BrokerData* bd = route->add_broker_datas();
  bd->set_broker_name(name);
  (*bd->mutable_broker_addrs())[with_master ? 0 : 1] = name + ":10911";
}

TEST(TopicPublishInfoTest, WritableQueuesOfBrokersWithAMasterSortedByBroker) {
  TopicRouteData route;
  AddBroker(&route, "broker-b", 2);
  AddBroker(&route, "broker-a", 3);
  AddBroker(&route, "broker-readonly", 4, common::v1::PERM_READ);
  AddBroker(&route, "broker-slave-only", 4, 6, /*with_master=*/false);
  auto info = TopicPublishInfo::FromRoute("T", route);
  ASSERT_TRUE(info->ok());
  EXPECT_FALSE(info->order_topic());
  std::vector<MessageQueue> expected = {{"T", "broker-a", 0},
                                        {"T", "broker-a", 1},
                                        {"T", "broker-a", 2},
                                        {"T", "broker-b", 0},
                                        {"T", "broker-b", 1}};
  EXPECT_EQ(info->queues(), expected);
  EXPECT_EQ(info->WriteQueueNumsOf("broker-a"), 3);
  EXPECT_EQ(info->WriteQueueNumsOf("broker-readonly"), -1);
  EXPECT_EQ(info->WriteQueueNumsOf("nope"), -1);
}

TEST(TopicPublishInfoTest, OrderTopicConfDefinesTheQueues) {
  TopicRouteData route;
  AddBroker(&route, "broker-a", 8);
  route.set_order_topic_conf("broker-a:2;broker-b:1;bad");
  auto info = TopicPublishInfo::FromRoute("T", route);
  EXPECT_TRUE(info->order_topic());
  std::vector<MessageQueue> expected = {
      {"T", "broker-a", 0}, {"T", "broker-a", 1}, {"T", "broker-b", 0}};
  EXPECT_EQ(info->queues(), expected);
}

TEST(TopicPublishInfoTest, EmptyRouteIsNotOk) {
  auto info = TopicPublishInfo::FromRoute("T", TopicRouteData());
  EXPECT_FALSE(info->ok());
  ThreadLocalIndex index;
  EXPECT_EQ(info->SelectQueue(index), nullptr);
  EXPECT_EQ(info->SelectQueue(index, "", nullptr), nullptr);
}

TEST(TopicPublishInfoTest, RoundRobinVisitsEveryQueueEvenly) {
  TopicRouteData route;
  AddBroker(&route, "broker-a", 3);
  AddBroker(&route, "broker-b", 3);
  auto info = TopicPublishInfo::FromRoute("T", route);
  ThreadLocalIndex index;
  std::map<MessageQueue, int> hits;
  for (int i = 0; i < 600; ++i) ++hits[*info->SelectQueue(index)];
  ASSERT_EQ(hits.size(), 6u);
  for (const auto& [queue, count] : hits) EXPECT_EQ(count, 100) << queue.ToString();
}

TEST(TopicPublishInfoTest, AvoidsTheLastBrokerWhileAnotherHasQueues) {
  TopicRouteData route;
  AddBroker(&route, "broker-a", 4);
  AddBroker(&route, "broker-b", 1);
  auto info = TopicPublishInfo::FromRoute("T", route);
  ThreadLocalIndex index;
  for (int i = 0; i < 50; ++i) {
    const MessageQueue* queue = info->SelectQueue(index, "broker-a", nullptr);
    ASSERT_NE(queue, nullptr);
    EXPECT_EQ(queue->broker_name, "broker-b");
  }
  // With one broker only, nothing qualifies.
  TopicRouteData single;
  AddBroker(&single, "broker-a", 2);
  EXPECT_EQ(TopicPublishInfo::FromRoute("T", single)->SelectQueue(index, "broker-a", nullptr),
            nullptr);
}

TEST(TopicPublishInfoTest, UsablePredicateFilters) {
  TopicRouteData route;
  AddBroker(&route, "broker-a", 2);
  AddBroker(&route, "broker-b", 2);
  auto info = TopicPublishInfo::FromRoute("T", route);
  ThreadLocalIndex index;
  auto only_b = [](const MessageQueue& q) { return q.broker_name == "broker-b"; };
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(info->SelectQueue(index, "", only_b)->broker_name, "broker-b");
}

TEST(ThreadLocalIndexTest, EachThreadHasItsOwnCounter) {
  ThreadLocalIndex index;
  const uint32_t first = index.IncrementAndGet();
  EXPECT_EQ(index.IncrementAndGet(), (first + 1) & 0x7FFFFFFFu);
  // Another thread does not advance this thread's counter.
  std::thread([&index] {
    for (int i = 0; i < 10; ++i) index.IncrementAndGet();
  }).join();
  EXPECT_EQ(index.IncrementAndGet(), (first + 2) & 0x7FFFFFFFu);
  // Another index object has its own counter.
  ThreadLocalIndex other;
  other.IncrementAndGet();
  EXPECT_EQ(index.IncrementAndGet(), (first + 3) & 0x7FFFFFFFu);
}

}  // namespace
}  // namespace mq::client_internal
