// The broker's consumer groups (RocketMQ's SubscriptionGroupManager): each
// group's config (consume enabled, retry queue count, max attempts, ...). The
// table lives in the store's metadata (key "subscription_groups"), so it
// survives restarts and replicates to slaves like the topic table.
//
// RocketMQ rules kept here:
//  - a group is created with the defaults on its first heartbeat when the
//    broker auto-creates groups (autoCreateSubscriptionGroup, default on);
//  - a change is persisted before it becomes visible.
#ifndef MQ_SERVICES_BROKER_SUBSCRIPTION_GROUP_MANAGER_H_
#define MQ_SERVICES_BROKER_SUBSCRIPTION_GROUP_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "proto/broker.pb.h"
#include "proto/common.pb.h"
#include "services/broker/topic_config_manager.h"
#include "services/store/store_api.h"

namespace mq::broker {

// Metadata key of the table.
inline constexpr absl::string_view kSubscriptionGroupsMetadataKey = "subscription_groups";
// Bounds of SubscriptionGroupConfig.retry_max_times.
inline constexpr int32_t kMaxRetryMaxTimes = 64;

struct SubscriptionGroupOptions {
  // Create a group with the defaults on its first heartbeat.
  bool auto_create_subscription_group = true;
};

// Perm of %DLQ%<group>: write only, so no consumer can pull it (admins read it
// through ListDeadLetters). RocketMQ 4.x creates it the same way.
inline constexpr uint32_t kDlqTopicPerm = common::v1::PERM_WRITE;

// A group's config with RocketMQ's defaults: consume enabled, one retry queue,
// 16 attempts, clustering.
broker::v1::SubscriptionGroupConfig DefaultSubscriptionGroupConfig(absl::string_view group);

// INVALID_ARGUMENT naming the first bad field.
absl::Status ValidateSubscriptionGroupConfig(const broker::v1::SubscriptionGroupConfig& config);

// NOT_FOUND + SUBSCRIPTION_GROUP_NOT_EXIST for `group`.
absl::Status SubscriptionGroupNotExist(absl::string_view group);

// %RETRY%<group>: found, or created read-write with the group's retry queue
// count. Errors as TopicConfigManager::FindOrCreateSystemTopic.
absl::StatusOr<common::v1::TopicConfig> FindOrCreateRetryTopic(
    TopicConfigManager* topics, const broker::v1::SubscriptionGroupConfig& group);
// %DLQ%<group>: found, or created with one queue and kDlqTopicPerm.
absl::StatusOr<common::v1::TopicConfig> FindOrCreateDlqTopic(TopicConfigManager* topics,
                                                             absl::string_view group);

class SubscriptionGroupManager;

// What a consumer group's heartbeat sets up on a master (RocketMQ's
// ClientManageProcessor.heartBeat): the group's config (FindOrAutoCreate) and
// its %RETRY% topic, so the group's members find the retry topic's route.
// ConsumerGroupReady() tells, without any store call, whether there is
// anything to do.
bool ConsumerGroupReady(const SubscriptionGroupManager& groups, const TopicConfigManager& topics,
                        absl::string_view group);
absl::Status PrepareConsumerGroup(SubscriptionGroupManager* groups, TopicConfigManager* topics,
                                  absl::string_view group);

// Thread-safe. Reads never wait for a write's store round trip.
class SubscriptionGroupManager {
 public:
  // `store` must outlive the manager.
  SubscriptionGroupManager(store::StoreApi* store, SubscriptionGroupOptions options);

  SubscriptionGroupManager(const SubscriptionGroupManager&) = delete;
  SubscriptionGroupManager& operator=(const SubscriptionGroupManager&) = delete;

  // Reads the table from the store (an absent key is an empty table); a
  // slave calls it again to follow its master's table. Errors: the store's;
  // DATA_LOSS when the stored value does not parse.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  absl::optional<broker::v1::SubscriptionGroupConfig> Find(absl::string_view group) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The group's config; when it is missing and auto-creation is on, creates
  // it with the defaults (persisted). NOT_FOUND + SUBSCRIPTION_GROUP_NOT_EXIST
  // when it is missing and auto-creation is off; INVALID_ARGUMENT for a bad
  // name; the store's error when persisting fails.
  absl::StatusOr<broker::v1::SubscriptionGroupConfig> FindOrAutoCreate(absl::string_view group)
      ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // Creates or replaces a group. INVALID_ARGUMENT (nothing changes) for a bad
  // config. An identical config writes nothing.
  absl::Status CreateOrUpdate(const broker::v1::SubscriptionGroupConfig& config)
      ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // Removes a group's config. NOT_FOUND + SUBSCRIPTION_GROUP_NOT_EXIST if it
  // is missing.
  absl::Status Delete(absl::string_view group) ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // Every group's config, sorted by name.
  std::vector<broker::v1::SubscriptionGroupConfig> GetAll() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Table = std::map<std::string, broker::v1::SubscriptionGroupConfig, std::less<>>;

  // Writes `table` to the store, then makes it current. The caller holds
  // write_mu_, so `table` is based on the latest.
  absl::Status CommitLocked(Table table) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);

  store::StoreApi* const store_;
  const SubscriptionGroupOptions options_;

  // Serializes changes (read-modify-persist-swap).
  absl::Mutex write_mu_;
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(write_mu_);
  Table table_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_SUBSCRIPTION_GROUP_MANAGER_H_
