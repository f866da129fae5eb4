#include "services/broker/admin_processor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status.h"
#include "testing/fake_store.h"

namespace mq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

common::v1::TopicConfig Topic(const std::string& name, int read, int write) {
  common::v1::TopicConfig config;
  config.set_topic_name(name);
  config.set_read_queue_nums(read);
  config.set_write_queue_nums(write);
  config.set_perm(6);
  return config;
}

class AdminProcessorTest : public ::testing::Test {
 protected:
  AdminProcessorTest() { Init(store::v1::ASYNC_MASTER); }

  void Init(store::v1::BrokerRole role) {
    topics_ = std::make_unique<TopicConfigManager>(&store_, TopicConfigOptions{});
    ASSERT_TRUE(topics_->Load().ok());
    BrokerIdentity identity{"DefaultCluster", "broker-a", role == store::v1::SLAVE ? 1 : 0, role};
    admin_ = std::make_unique<AdminProcessor>(
        &store_, topics_.get(), &offsets_, &stats_, identity, absl::FromUnixMillis(1234),
        [](std::map<std::string, std::string>* extra) { (*extra)["held_pulls"] = "3"; });
  }

  void Put(const std::string& topic, int32_t queue_id, int count) {
    store::v1::AppendBatchRequest request;
    for (int i = 0; i < count; ++i) {
      store::v1::AppendEntry* entry = request.add_entries();
      entry->mutable_message()->set_topic(topic);
      entry->mutable_message()->set_body("x");
      entry->set_queue_id(queue_id);
      entry->set_store_host("127.0.0.1:10911");
    }
    ASSERT_TRUE(store_.AppendBatch(request).ok());
  }

  testing::FakeStore store_;
  std::unique_ptr<TopicConfigManager> topics_;
  ConsumerOffsetManager offsets_{&store_};
  BrokerStats stats_;
  std::unique_ptr<AdminProcessor> admin_;
};

TEST_F(AdminProcessorTest, CreateListAndStats) {
  ASSERT_TRUE(admin_->CreateOrUpdateTopic(Topic("orders", 2, 3)).ok());
  Put("orders", 1, 5);
  broker::v1::GetAllTopicConfigsResponse all = admin_->GetAllTopicConfigs();
  ASSERT_EQ(all.configs_size(), 2);
  EXPECT_EQ(all.configs(1).topic_name(), "orders");
  EXPECT_EQ(all.data_version().counter(), 2);

  absl::StatusOr<broker::v1::GetTopicStatsResponse> stats = admin_->GetTopicStats("orders");
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->queues_size(), 3);
  EXPECT_EQ(stats->queues(1).queue().broker_name(), "broker-a");
  EXPECT_EQ(stats->queues(1).max_offset(), 5);
  EXPECT_GT(stats->queues(1).last_update_timestamp_ms(), 0);
  EXPECT_EQ(stats->queues(0).max_offset(), 0);

  absl::Status missing = admin_->GetTopicStats("nope").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(GetResponseCode(missing), Optional(common::v1::TOPIC_NOT_EXIST));
}

TEST_F(AdminProcessorTest, DeleteDropsConfigQueuesAndOffsets) {
  ASSERT_TRUE(admin_->CreateOrUpdateTopic(Topic("orders", 2, 2)).ok());
  Put("orders", 0, 2);
  offsets_.Commit("g", "orders", 0, 2);
  ASSERT_TRUE(admin_->DeleteTopic("orders").ok());
  EXPECT_FALSE(topics_->Find("orders").has_value());
  EXPECT_THAT(store_.deleted_topics(), ElementsAre("orders"));
  EXPECT_FALSE(offsets_.Query("g", "orders", 0).has_value());
  absl::Status again = admin_->DeleteTopic("orders");
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store_.deleted_topics(), ElementsAre("orders", "orders"));
}

TEST_F(AdminProcessorTest, SlaveRefusesTopicChanges) {
  Init(store::v1::SLAVE);
  EXPECT_EQ(admin_->CreateOrUpdateTopic(Topic("orders", 2, 2)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(admin_->DeleteTopic("TBW102").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(AdminProcessorTest, ConsumeStatsCoversEveryQueueOfTheTopic) {
  ASSERT_TRUE(admin_->CreateOrUpdateTopic(Topic("orders", 3, 3)).ok());
  Put("orders", 0, 10);
  Put("orders", 1, 4);
  offsets_.Commit("g", "orders", 0, 6);
  broker::v1::GetConsumeStatsRequest request;
  request.set_consumer_group("g");
  absl::StatusOr<broker::v1::GetConsumeStatsResponse> stats = admin_->GetConsumeStats(request);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->queues_size(), 3);
  EXPECT_EQ(stats->queues(0).broker_offset(), 10);
  EXPECT_EQ(stats->queues(0).consumer_offset(), 6);
  EXPECT_GT(stats->queues(0).last_timestamp_ms(), 0);
  EXPECT_EQ(stats->queues(1).broker_offset(), 4);
  EXPECT_EQ(stats->queues(1).consumer_offset(), 0);
  EXPECT_EQ(stats->queues(1).last_timestamp_ms(), 0);
  EXPECT_EQ(stats->diff_total(), 4 + 4);

  request.set_consumer_group("unknown");
  stats = admin_->GetConsumeStats(request);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->queues_size(), 0);
  request.set_topic("orders");
  stats = admin_->GetConsumeStats(request);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->queues_size(), 3);
  EXPECT_EQ(stats->diff_total(), 14);
}

TEST_F(AdminProcessorTest, ListsGroupsWithOffsetsAndOnlineGroupsWithTheirLag) {
  ASSERT_TRUE(admin_->CreateOrUpdateTopic(Topic("orders", 2, 2)).ok());
  ASSERT_TRUE(admin_->CreateOrUpdateTopic(Topic("audit", 1, 1)).ok());
  Put("orders", 0, 10);
  Put("audit", 0, 3);
  offsets_.Commit("billing", "orders", 0, 6);
  offsets_.Commit("billing", "audit", 0, 3);
  offsets_.Commit("archiver", "audit", 0, 1);
  absl::StatusOr<broker::v1::ListConsumerGroupsResponse> listed =
      admin_->ListConsumerGroups({{"billing", 2}, {"fresh", 1}});
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->groups_size(), 3);
  const broker::v1::ConsumerGroupSummary& archiver = listed->groups(0);
  EXPECT_EQ(archiver.consumer_group(), "archiver");
  EXPECT_EQ(archiver.online_clients(), 0);
  EXPECT_THAT(archiver.topics(), ::testing::ElementsAre("audit"));
  EXPECT_EQ(archiver.diff_total(), 2);
  const broker::v1::ConsumerGroupSummary& billing = listed->groups(1);
  EXPECT_EQ(billing.consumer_group(), "billing");
  EXPECT_EQ(billing.online_clients(), 2);
  EXPECT_THAT(billing.topics(), ::testing::ElementsAre("audit", "orders"));
  EXPECT_EQ(billing.diff_total(), 4);
  // Online but nothing committed yet.
  EXPECT_EQ(listed->groups(2).consumer_group(), "fresh");
  EXPECT_EQ(listed->groups(2).online_clients(), 1);
  EXPECT_EQ(listed->groups(2).topics_size(), 0);
}

TEST_F(AdminProcessorTest, RuntimeStatsCombineBrokerAndStoreFigures) {
  Put("TBW102", 0, 3);
  stats_.AddPuts(3);
  broker::v1::GetRuntimeStatsResponse stats = admin_->GetRuntimeStats();
  EXPECT_EQ(stats.cluster_name(), "DefaultCluster");
  EXPECT_EQ(stats.broker_name(), "broker-a");
  EXPECT_EQ(stats.role(), "ASYNC_MASTER");
  EXPECT_EQ(stats.total_put_messages(), 3);
  EXPECT_EQ(stats.start_timestamp_ms(), 1234);
  EXPECT_GT(stats.commit_log_max_offset(), 0);
  EXPECT_DOUBLE_EQ(stats.disk_used_ratio(), 0.25);
  EXPECT_EQ(stats.extra().at("held_pulls"), "3");

  store_.SetCallError(absl::UnavailableError("down"));
  stats = admin_->GetRuntimeStats();
  EXPECT_EQ(stats.extra().at("store_error"), "down");
  EXPECT_EQ(stats.total_put_messages(), 3);
}

}  // namespace
}  // namespace mq::broker
