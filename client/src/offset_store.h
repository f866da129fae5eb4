// Where a push consumer keeps its consume offsets (RocketMQ's OffsetStore):
// in memory while consuming, persisted to the brokers (clustering, shared by
// the group) or to a local file (broadcasting, private to this consumer).
#ifndef MQ_CLIENT_SRC_OFFSET_STORE_H_
#define MQ_CLIENT_SRC_OFFSET_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "mq/message_queue.h"

namespace mq::client_internal {

// An offset is the next message to consume. Thread-safe.
class OffsetStore {
 public:
  virtual ~OffsetStore() = default;

  // Reads what is persisted, if the store keeps it locally.
  virtual absl::Status Load() = 0;
  // The persisted offset of `queue`; NOT_FOUND when there is none.
  virtual absl::StatusOr<int64_t> ReadFromStore(const MessageQueue& queue) = 0;
  // Writes the in-memory offsets of `queues` out; failures are logged and
  // retried at the next persist.
  virtual void Persist(const std::vector<MessageQueue>& queues) = 0;
  // Persists `queue`'s offset, then forgets it (the queue went elsewhere).
  virtual void PersistAndRemove(const MessageQueue& queue) = 0;

  // Sets the in-memory offset; with `increase_only`, only moves it forward.
  void Update(const MessageQueue& queue, int64_t offset, bool increase_only)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::optional<int64_t> ReadFromMemory(const MessageQueue& queue) const ABSL_LOCKS_EXCLUDED(mu_);
  std::map<MessageQueue, int64_t> Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

 protected:
  void Forget(const MessageQueue& queue) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  std::map<MessageQueue, int64_t> offsets_ ABSL_GUARDED_BY(mu_);
};

// Offsets kept by the brokers, per group (clustering). The RPCs are supplied
// by the consumer so this class stays free of transport details.
class RemoteOffsetStore : public OffsetStore {
 public:
  using QueryFn = std::function<absl::StatusOr<int64_t>(const MessageQueue& queue)>;
  using UpdateFn = std::function<absl::Status(const MessageQueue& queue, int64_t offset)>;

  RemoteOffsetStore(QueryFn query, UpdateFn update);

  absl::Status Load() override { return absl::OkStatus(); }
  absl::StatusOr<int64_t> ReadFromStore(const MessageQueue& queue) override;
  void Persist(const std::vector<MessageQueue>& queues) override ABSL_LOCKS_EXCLUDED(mu_);
  void PersistAndRemove(const MessageQueue& queue) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const QueryFn query_;
  const UpdateFn update_;
  // What the broker last acknowledged, so unchanged offsets are not re-sent.
  absl::Mutex persisted_mu_;
  std::map<MessageQueue, int64_t> persisted_ ABSL_GUARDED_BY(persisted_mu_);
};

// Offsets in one file (broadcasting). The file holds every queue the consumer
// ever consumed; a line per queue, "topic<TAB>broker_name<TAB>queue_id<TAB>offset",
// and is replaced atomically (written aside, then renamed).
class LocalOffsetStore : public OffsetStore {
 public:
  explicit LocalOffsetStore(std::string path);

  const std::string& path() const { return path_; }

  // A missing file is an empty store; a malformed one is an error.
  absl::Status Load() override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<int64_t> ReadFromStore(const MessageQueue& queue) override
      ABSL_LOCKS_EXCLUDED(mu_);
  // Writes every offset in memory (the file must not lose the others).
  void Persist(const std::vector<MessageQueue>& queues) override ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps the offset: a broadcasting consumer may own the queue again.
  void PersistAndRemove(const MessageQueue& queue) override ABSL_LOCKS_EXCLUDED(mu_);

  // The whole table to the file.
  absl::Status WriteFile() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string path_;
  absl::Mutex file_mu_;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_OFFSET_STORE_H_
