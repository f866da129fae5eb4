// Committed consumer offsets: for each consumer group, topic and queue, the
// next offset the group will consume. Kept in memory, written to the store's
// metadata (key "consumer_offsets") by Persist(), which the broker runs every
// 5 s (RocketMQ's flushConsumerOffsetInterval) and at shutdown; read back by
// Load() at start. An offset committed after the last Persist() is lost on a
// crash, as in RocketMQ: consumers then see some messages again.
#ifndef MQ_SERVICES_BROKER_CONSUMER_OFFSET_MANAGER_H_
#define MQ_SERVICES_BROKER_CONSUMER_OFFSET_MANAGER_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "services/store/store_api.h"

namespace mq::broker {

inline constexpr absl::string_view kConsumerOffsetsMetadataKey = "consumer_offsets";

// Thread-safe. Persist() calls are serialized; Commit() never waits for one.
class ConsumerOffsetManager {
 public:
  // (topic, queue id) -> offset.
  using QueueOffsetMap = std::map<std::pair<std::string, int32_t>, int64_t>;

  // `store` must outlive the manager.
  explicit ConsumerOffsetManager(store::StoreApi* store) : store_(store) {}

  ConsumerOffsetManager(const ConsumerOffsetManager&) = delete;
  ConsumerOffsetManager& operator=(const ConsumerOffsetManager&) = delete;

  // Replaces the table with the stored one (an absent key is an empty table).
  // Offsets committed since the last Persist() are dropped. Errors: the
  // store's; DATA_LOSS when the stored value does not parse.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(persist_mu_, mu_);

  // The committed offset, if the group ever committed one for the queue.
  absl::optional<int64_t> Query(absl::string_view group, absl::string_view topic,
                                int32_t queue_id) const ABSL_LOCKS_EXCLUDED(mu_);

  // Sets the offset (arguments validated by the caller). Moving backwards is
  // allowed: it is how a consumer resets its progress.
  void Commit(absl::string_view group, absl::string_view topic, int32_t queue_id, int64_t offset)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The group's offsets, of one topic or (topic empty) of every topic.
  QueueOffsetMap GroupOffsets(absl::string_view group, absl::string_view topic) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every group with a committed offset, sorted.
  std::vector<std::string> Groups() const ABSL_LOCKS_EXCLUDED(mu_);

  // Forgets every group's offsets of `topic` (the topic was deleted).
  void RemoveTopic(absl::string_view topic) ABSL_LOCKS_EXCLUDED(mu_);

  // Writes the table to the store if it changed since the last successful
  // write. The store's error otherwise (the changes stay pending).
  absl::Status Persist() ABSL_LOCKS_EXCLUDED(persist_mu_, mu_);

 private:
  // (group, topic) -> queue id -> offset.
  using Table = std::map<std::pair<std::string, std::string>, std::map<int32_t, int64_t>>;

  store::StoreApi* const store_;

  absl::Mutex persist_mu_;
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(persist_mu_);
  Table table_ ABSL_GUARDED_BY(mu_);
  // Bumped by every change; the version the last successful Persist() wrote.
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t persisted_version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_CONSUMER_OFFSET_MANAGER_H_
