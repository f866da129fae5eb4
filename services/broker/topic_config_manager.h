// The broker's topic table: every topic's queue counts and permission, with a
// data version the name servers use to notice changes. The table lives in the
// store's metadata (key "topics"), never in a file of the broker.
//
// RocketMQ rules kept here:
//  - the default topic TBW102 (8 queues, perm INHERIT|READ|WRITE) exists when
//    auto-creation is on;
//  - a send to a missing topic creates it from the request's default topic if
//    that topic has the INHERIT bit: min(client's queue count, default topic's
//    write queues) read and write queues, the default's perm without INHERIT;
//  - every change bumps the data version {timestamp, counter} and is persisted
//    before it becomes visible; then the change listener runs (the broker
//    re-registers with the name servers at once).
#ifndef MQ_SERVICES_BROKER_TOPIC_CONFIG_MANAGER_H_
#define MQ_SERVICES_BROKER_TOPIC_CONFIG_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "common/clock.h"
#include "proto/common.pb.h"
#include "services/store/store_api.h"

namespace mq::broker {

// The topic producers name as their default (createTopicKey) so the broker
// creates the topic they send to.
inline constexpr absl::string_view kDefaultTopic = "TBW102";
// Metadata key of the table.
inline constexpr absl::string_view kTopicsMetadataKey = "topics";
// Queue count a producer asks for when it does not say (DefaultMQProducer).
inline constexpr int32_t kDefaultClientTopicQueueNums = 4;
// READ | WRITE.
inline constexpr uint32_t kPermReadWrite = common::v1::PERM_READ | common::v1::PERM_WRITE;

struct TopicConfigOptions {
  // Create TBW102 and allow creating topics from a default topic on send.
  bool auto_create_topic_enable = true;
  // Queue count of TBW102 (BrokerConfig.defaultTopicQueueNums).
  int32_t default_topic_queue_nums = 8;
};

// Thread-safe. Reads never wait for a write's store round trip: changes are
// serialized among themselves, written to the store, then swapped in.
class TopicConfigManager {
 public:
  // `store` must outlive the manager.
  TopicConfigManager(store::StoreApi* store, TopicConfigOptions options,
                     const Clock* clock = Clock::Real());

  TopicConfigManager(const TopicConfigManager&) = delete;
  TopicConfigManager& operator=(const TopicConfigManager&) = delete;

  // Runs after every change, outside the manager's locks. Set it before the
  // manager is used from more than one thread.
  void SetChangeListener(std::function<void()> listener);

  // Reads the table from the store (an absent key is an empty table) and adds
  // TBW102 when auto-creation is on and it is missing. Call once, first.
  // Errors: the store's; DATA_LOSS when the stored value does not parse.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // Re-reads the table from the store without adding anything (a slave follows
  // its master's table this way). Runs the change listener when it changed.
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  absl::optional<common::v1::TopicConfig> Find(absl::string_view topic) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The config of an existing topic: INVALID_ARGUMENT for a bad name,
  // NOT_FOUND with TOPIC_NOT_EXIST for a topic this broker does not have
  // (never created, or deleted).
  absl::StatusOr<common::v1::TopicConfig> FindExisting(absl::string_view topic) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // FindExisting(), and `queue_id` one of its read queues (INVALID_ARGUMENT
  // otherwise): the check of every call that names a queue to read from or
  // keep an offset of.
  absl::Status CheckReadQueue(absl::string_view topic, int32_t queue_id) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The topic's config, created from `default_topic` when it is missing (see
  // the rules above; `client_queue_nums` <= 0 means 4). NOT_FOUND with
  // TOPIC_NOT_EXIST when it is missing and cannot be created; the store's error
  // when persisting fails.
  absl::StatusOr<common::v1::TopicConfig> FindOrCreateForSend(absl::string_view topic,
                                                              absl::string_view default_topic,
                                                              int32_t client_queue_nums)
      ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // The topic's config, created with `queue_nums` read and write queues and
  // `perm` when it is missing (RocketMQ's createTopicInSendMessageBackMethod:
  // a group's retry and dead-letter topics, created on demand whatever the
  // auto-creation setting). INVALID_ARGUMENT for a bad name or count; the
  // store's error when persisting fails.
  absl::StatusOr<common::v1::TopicConfig> FindOrCreateSystemTopic(absl::string_view topic,
                                                                  int32_t queue_nums, uint32_t perm)
      ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // Creates or replaces a topic. INVALID_ARGUMENT for a bad name, queue count
  // or perm. An identical config changes nothing (no version bump).
  absl::Status CreateOrUpdate(const common::v1::TopicConfig& config)
      ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // Removes a topic's config. NOT_FOUND with TOPIC_NOT_EXIST if it is missing.
  absl::Status Delete(absl::string_view topic) ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  struct Snapshot {
    // Sorted by topic name.
    std::vector<common::v1::TopicConfig> configs;
    common::v1::DataVersion data_version;
  };
  Snapshot GetSnapshot() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Table = std::map<std::string, common::v1::TopicConfig, std::less<>>;

  // Writes `table` with the next data version to the store, then makes both
  // current. The caller holds write_mu_, so `table` is based on the latest.
  absl::Status CommitLocked(Table table) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::pair<Table, common::v1::DataVersion>> ReadFromStore() const;
  void NotifyChanged();

  store::StoreApi* const store_;
  const TopicConfigOptions options_;
  const Clock* const clock_;
  std::function<void()> change_listener_;

  // Serializes changes (read-modify-persist-swap).
  absl::Mutex write_mu_;
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(write_mu_);
  Table table_ ABSL_GUARDED_BY(mu_);
  common::v1::DataVersion data_version_ ABSL_GUARDED_BY(mu_);
};

// True when `perm` has every bit of `bits`.
inline bool HasPerm(uint32_t perm, uint32_t bits) { return (perm & bits) == bits; }

// INVALID_ARGUMENT unless `queue_id` is one of `config`'s read queues.
absl::Status CheckReadQueueId(const common::v1::TopicConfig& config, int32_t queue_id);

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_TOPIC_CONFIG_MANAGER_H_
