#include "services/broker/topic_config_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status.h"
#include "common/testing/fake_clock.h"
#include "testing/fake_store.h"

namespace mq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

common::v1::TopicConfig Topic(const std::string& name, int read, int write, uint32_t perm = 6) {
  common::v1::TopicConfig config;
  config.set_topic_name(name);
  config.set_read_queue_nums(read);
  config.set_write_queue_nums(write);
  config.set_perm(perm);
  return config;
}

std::vector<std::string> Names(const TopicConfigManager::Snapshot& snapshot) {
  std::vector<std::string> names;
  for (const auto& config : snapshot.configs) names.push_back(config.topic_name());
  return names;
}

class TopicConfigManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<TopicConfigManager> NewManager(TopicConfigOptions options = {}) {
    auto manager = std::make_unique<TopicConfigManager>(&store_, options, &clock_);
    manager->SetChangeListener([this] { ++changes_; });
    return manager;
  }

  testing::FakeStore store_;
  FakeClock clock_;
  int changes_ = 0;
};

TEST_F(TopicConfigManagerTest, LoadCreatesDefaultTopicWhenAutoCreateIsOn) {
  auto manager = NewManager();
  ASSERT_TRUE(manager->Load().ok());
  absl::optional<common::v1::TopicConfig> tbw = manager->Find(kDefaultTopic);
  ASSERT_TRUE(tbw.has_value());
  EXPECT_EQ(tbw->read_queue_nums(), 8);
  EXPECT_EQ(tbw->write_queue_nums(), 8);
  EXPECT_EQ(tbw->perm(), 7u);
  TopicConfigManager::Snapshot snapshot = manager->GetSnapshot();
  EXPECT_EQ(snapshot.data_version.counter(), 1);
  EXPECT_EQ(snapshot.data_version.timestamp_ms(), 1700000000000);
  EXPECT_EQ(store_.put_metadata_calls(), 1);
}

TEST_F(TopicConfigManagerTest, NoDefaultTopicAndNoAutoCreateWhenOff) {
  TopicConfigOptions options;
  options.auto_create_topic_enable = false;
  auto manager = NewManager(options);
  ASSERT_TRUE(manager->Load().ok());
  EXPECT_FALSE(manager->Find(kDefaultTopic).has_value());
  absl::StatusOr<common::v1::TopicConfig> result =
      manager->FindOrCreateForSend("orders", kDefaultTopic, 4);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(GetResponseCode(result.status()), Optional(common::v1::TOPIC_NOT_EXIST));
  EXPECT_EQ(store_.put_metadata_calls(), 0);
}

TEST_F(TopicConfigManagerTest, AutoCreateTakesMinQueueCountAndDropsInherit) {
  auto manager = NewManager();
  ASSERT_TRUE(manager->Load().ok());
  clock_.Advance(absl::Seconds(1));
  absl::StatusOr<common::v1::TopicConfig> created =
      manager->FindOrCreateForSend("orders", kDefaultTopic, 4);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->read_queue_nums(), 4);
  EXPECT_EQ(created->write_queue_nums(), 4);
  EXPECT_EQ(created->perm(), kPermReadWrite);
  EXPECT_EQ(changes_, 1);
  EXPECT_EQ(manager->GetSnapshot().data_version.counter(), 2);
  EXPECT_EQ(manager->GetSnapshot().data_version.timestamp_ms(), 1700000001000);

  // Asking for more queues than the default topic has gives the default's count.
  absl::StatusOr<common::v1::TopicConfig> big =
      manager->FindOrCreateForSend("big", kDefaultTopic, 64);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->write_queue_nums(), 8);

  // An existing topic is returned as is, without a change.
  ASSERT_TRUE(manager->FindOrCreateForSend("orders", kDefaultTopic, 2).ok());
  EXPECT_EQ(changes_, 2);
  EXPECT_EQ(manager->GetSnapshot().data_version.counter(), 3);
}

TEST_F(TopicConfigManagerTest, AutoCreateNeedsAnInheritingDefaultTopic) {
  auto manager = NewManager();
  ASSERT_TRUE(manager->Load().ok());
  ASSERT_TRUE(manager->CreateOrUpdate(Topic("plain", 4, 4, 6)).ok());
  EXPECT_EQ(manager->FindOrCreateForSend("orders", "plain", 4).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(manager->FindOrCreateForSend("orders", "", 4).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(manager->FindOrCreateForSend("orders", "missing", 4).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(manager->Find("orders").has_value());
}

TEST_F(TopicConfigManagerTest, TableAndVersionSurviveReload) {
  {
    auto manager = NewManager();
    ASSERT_TRUE(manager->Load().ok());
    ASSERT_TRUE(manager->CreateOrUpdate(Topic("orders", 8, 4, 6)).ok());
    ASSERT_TRUE(manager->FindOrCreateForSend("auto", kDefaultTopic, 2).ok());
  }
  auto reloaded = NewManager();
  ASSERT_TRUE(reloaded->Load().ok());
  TopicConfigManager::Snapshot snapshot = reloaded->GetSnapshot();
  EXPECT_THAT(Names(snapshot), ElementsAre("TBW102", "auto", "orders"));
  EXPECT_EQ(snapshot.data_version.counter(), 3);
  absl::optional<common::v1::TopicConfig> orders = reloaded->Find("orders");
  ASSERT_TRUE(orders.has_value());
  EXPECT_EQ(orders->read_queue_nums(), 8);
  EXPECT_EQ(orders->write_queue_nums(), 4);
  // Loading an existing table writes nothing.
  EXPECT_EQ(store_.put_metadata_calls(), 3);
}

TEST_F(TopicConfigManagerTest, ReloadFollowsTheStoredTable) {
  auto follower = NewManager();
  ASSERT_TRUE(follower->Load().ok());
  auto writer = NewManager();
  ASSERT_TRUE(writer->Load().ok());
  ASSERT_TRUE(writer->CreateOrUpdate(Topic("orders", 2, 2)).ok());
  int before = changes_;
  ASSERT_TRUE(follower->Reload().ok());
  EXPECT_TRUE(follower->Find("orders").has_value());
  EXPECT_EQ(changes_, before + 1);
  ASSERT_TRUE(follower->Reload().ok());
  EXPECT_EQ(changes_, before + 1);
}

TEST_F(TopicConfigManagerTest, CreateOrUpdateValidatesAndSkipsIdenticalConfigs) {
  auto manager = NewManager();
  ASSERT_TRUE(manager->Load().ok());
  EXPECT_EQ(manager->CreateOrUpdate(Topic("bad topic", 4, 4)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager->CreateOrUpdate(Topic("t", 0, 4)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager->CreateOrUpdate(Topic("t", 4, 1025)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager->CreateOrUpdate(Topic("t", 4, 4, 64)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(changes_, 0);

  ASSERT_TRUE(manager->CreateOrUpdate(Topic("t", 4, 4)).ok());
  ASSERT_TRUE(manager->CreateOrUpdate(Topic("t", 4, 4)).ok());
  EXPECT_EQ(changes_, 1);
  ASSERT_TRUE(manager->CreateOrUpdate(Topic("t", 4, 2, 4)).ok());
  EXPECT_EQ(changes_, 2);
  EXPECT_EQ(manager->Find("t")->perm(), 4u);
}

TEST_F(TopicConfigManagerTest, DeleteRemovesAndBumpsVersion) {
  auto manager = NewManager();
  ASSERT_TRUE(manager->Load().ok());
  ASSERT_TRUE(manager->CreateOrUpdate(Topic("t", 4, 4)).ok());
  int64_t counter = manager->GetSnapshot().data_version.counter();
  ASSERT_TRUE(manager->Delete("t").ok());
  EXPECT_FALSE(manager->Find("t").has_value());
  EXPECT_EQ(manager->GetSnapshot().data_version.counter(), counter + 1);
  absl::Status again = manager->Delete("t");
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(GetResponseCode(again), Optional(common::v1::TOPIC_NOT_EXIST));
}

TEST_F(TopicConfigManagerTest, FailedPersistChangesNothing) {
  auto manager = NewManager();
  ASSERT_TRUE(manager->Load().ok());
  common::v1::DataVersion before = manager->GetSnapshot().data_version;
  store_.SetCallError(absl::UnavailableError("store down"));
  EXPECT_EQ(manager->CreateOrUpdate(Topic("t", 4, 4)).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(manager->FindOrCreateForSend("u", kDefaultTopic, 4).status().code(),
            absl::StatusCode::kUnavailable);
  store_.SetCallError(absl::OkStatus());
  EXPECT_FALSE(manager->Find("t").has_value());
  EXPECT_FALSE(manager->Find("u").has_value());
  EXPECT_EQ(manager->GetSnapshot().data_version.counter(), before.counter());
  EXPECT_EQ(changes_, 0);
}

TEST_F(TopicConfigManagerTest, UnreadableStoredTableIsDataLoss) {
  store::v1::PutMetadataRequest request;
  store::v1::MetadataEntry* entry = request.add_entries();
  entry->set_key(std::string(kTopicsMetadataKey));
  entry->set_value("{not json");
  ASSERT_TRUE(store_.PutMetadata(request).ok());
  auto manager = NewManager();
  EXPECT_EQ(manager->Load().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace mq::broker
