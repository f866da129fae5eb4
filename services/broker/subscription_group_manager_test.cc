#include "services/broker/subscription_group_manager.h"

#include <gtest/gtest.h>

#include "common/status.h"
#include "testing/fake_store.h"

namespace mq::broker {
namespace {

TEST(SubscriptionGroupManagerTest, AutoCreatesWithRocketMqDefaultsAndPersists) {
  testing::FakeStore store;
  SubscriptionGroupManager manager(&store, {});
  ASSERT_TRUE(manager.Load().ok());
  EXPECT_FALSE(manager.Find("G").has_value());
  absl::StatusOr<broker::v1::SubscriptionGroupConfig> created = manager.FindOrAutoCreate("G");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->consume_enable());
  EXPECT_EQ(created->retry_queue_nums(), 1);
  EXPECT_EQ(created->retry_max_times(), 16);
  EXPECT_EQ(store.put_metadata_calls(), 1);
  // Found again without a write.
  ASSERT_TRUE(manager.FindOrAutoCreate("G").ok());
  EXPECT_EQ(store.put_metadata_calls(), 1);

  SubscriptionGroupManager reloaded(&store, {});
  ASSERT_TRUE(reloaded.Load().ok());
  ASSERT_TRUE(reloaded.Find("G").has_value());
  EXPECT_EQ(reloaded.Find("G")->retry_max_times(), 16);
}

TEST(SubscriptionGroupManagerTest, NoAutoCreateWhenOff) {
  testing::FakeStore store;
  SubscriptionGroupOptions options;
  options.auto_create_subscription_group = false;
  SubscriptionGroupManager manager(&store, options);
  ASSERT_TRUE(manager.Load().ok());
  absl::StatusOr<broker::v1::SubscriptionGroupConfig> found = manager.FindOrAutoCreate("G");
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetResponseCode(found.status()), common::v1::SUBSCRIPTION_GROUP_NOT_EXIST);
  EXPECT_EQ(store.put_metadata_calls(), 0);
}

TEST(SubscriptionGroupManagerTest, CreateUpdateDeleteList) {
  testing::FakeStore store;
  SubscriptionGroupManager manager(&store, {});
  ASSERT_TRUE(manager.Load().ok());
  broker::v1::SubscriptionGroupConfig config = DefaultSubscriptionGroupConfig("B");
  config.set_retry_max_times(3);
  ASSERT_TRUE(manager.CreateOrUpdate(config).ok());
  ASSERT_TRUE(manager.CreateOrUpdate(DefaultSubscriptionGroupConfig("A")).ok());
  EXPECT_EQ(store.put_metadata_calls(), 2);
  ASSERT_TRUE(manager.CreateOrUpdate(config).ok());  // identical: no write
  EXPECT_EQ(store.put_metadata_calls(), 2);
  std::vector<broker::v1::SubscriptionGroupConfig> all = manager.GetAll();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].group_name(), "A");
  EXPECT_EQ(all[1].retry_max_times(), 3);

  ASSERT_TRUE(manager.Delete("A").ok());
  EXPECT_FALSE(manager.Find("A").has_value());
  absl::Status again = manager.Delete("A");
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetResponseCode(again), common::v1::SUBSCRIPTION_GROUP_NOT_EXIST);
}

TEST(SubscriptionGroupManagerTest, BadConfigsAreRefusedAndChangeNothing) {
  testing::FakeStore store;
  SubscriptionGroupManager manager(&store, {});
  ASSERT_TRUE(manager.Load().ok());
  broker::v1::SubscriptionGroupConfig bad = DefaultSubscriptionGroupConfig("bad name");
  EXPECT_EQ(manager.CreateOrUpdate(bad).code(), absl::StatusCode::kInvalidArgument);
  bad = DefaultSubscriptionGroupConfig("G");
  bad.set_retry_queue_nums(0);
  EXPECT_EQ(manager.CreateOrUpdate(bad).code(), absl::StatusCode::kInvalidArgument);
  bad = DefaultSubscriptionGroupConfig("G");
  bad.set_retry_max_times(-1);
  EXPECT_EQ(manager.CreateOrUpdate(bad).code(), absl::StatusCode::kInvalidArgument);
  bad.set_retry_max_times(kMaxRetryMaxTimes + 1);
  EXPECT_EQ(manager.CreateOrUpdate(bad).code(), absl::StatusCode::kInvalidArgument);
  // A group whose DLQ topic name would be too long.
  bad = DefaultSubscriptionGroupConfig(std::string(125, 'g'));
  EXPECT_EQ(manager.CreateOrUpdate(bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(manager.GetAll().empty());
  EXPECT_EQ(store.put_metadata_calls(), 0);
}

TEST(SubscriptionGroupManagerTest, StoreFailureLeavesTableUnchanged) {
  testing::FakeStore store;
  SubscriptionGroupManager manager(&store, {});
  ASSERT_TRUE(manager.Load().ok());
  store.SetCallError(absl::UnavailableError("store down"));
  EXPECT_FALSE(manager.FindOrAutoCreate("G").ok());
  store.SetCallError(absl::OkStatus());
  EXPECT_FALSE(manager.Find("G").has_value());
}

}  // namespace
}  // namespace mq::broker
