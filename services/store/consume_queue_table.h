// Every consume queue of a store: topic -> queue id -> ConsumeQueue, in
// `<root>/consumequeue/<topic>/<queueId>/`. Queues are created on demand by
// the dispatcher and found again from the directory tree at start.
//
// Thread-safety: all methods may be called concurrently. The queues handed
// out stay usable after DeleteTopic (their writes then fail with
// FAILED_PRECONDITION; their reads find nothing).
#ifndef MQ_SERVICES_STORE_CONSUME_QUEUE_TABLE_H_
#define MQ_SERVICES_STORE_CONSUME_QUEUE_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/store/consume_queue.h"
#include "services/store/offsets.h"

namespace mq::store {

struct ConsumeQueueTableOptions {
  // `<root>/consumequeue`; created if missing.
  std::string dir;
  // Options of every queue.
  ConsumeQueueOptions queue;
};

class ConsumeQueueTable {
 public:
  explicit ConsumeQueueTable(ConsumeQueueTableOptions options);
  ConsumeQueueTable(const ConsumeQueueTable&) = delete;
  ConsumeQueueTable& operator=(const ConsumeQueueTable&) = delete;

  // Scans the directory and loads (and recovers, see ConsumeQueue::Recover)
  // every `<topic>/<queueId>` found. Entries that are not a valid topic name
  // or a queue id are logged and skipped. Errors name the failing queue.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);

  // The queue, or nullptr if it does not exist.
  std::shared_ptr<ConsumeQueue> Find(absl::string_view topic, int32_t queue_id) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The queue, created (empty, directory made) if missing. INVALID_ARGUMENT
  // for a topic outside RocketMQ's name rules or a negative queue id.
  absl::StatusOr<std::shared_ptr<ConsumeQueue>> FindOrCreate(absl::string_view topic,
                                                             int32_t queue_id)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The queues of `topic`, by queue id (empty if none).
  std::vector<std::shared_ptr<ConsumeQueue>> QueuesOf(absl::string_view topic) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every queue, by topic then queue id: for recovery, stats and cleaning.
  std::vector<std::shared_ptr<ConsumeQueue>> All() const ABSL_LOCKS_EXCLUDED(mu_);

  // Removes the topic's queues and their directory. OK if there are none.
  absl::Status DeleteTopic(absl::string_view topic) ABSL_LOCKS_EXCLUDED(mu_);

  // The largest MaxPhysicalOffset() of any queue (0 without queues): the
  // commit-log offset where dispatch resumes after a restart.
  PhysicalOffset MaxPhysicalOffset() const ABSL_LOCKS_EXCLUDED(mu_);

  // Recovery: ConsumeQueue::TruncateByPhysicalOffset on every queue.
  absl::Status TruncateByPhysicalOffset(PhysicalOffset commit_log_offset) ABSL_LOCKS_EXCLUDED(mu_);

  // Retention: ConsumeQueue::DeleteFilesBelowPhysicalOffset on every queue;
  // returns the files deleted.
  int DeleteFilesBelowPhysicalOffset(PhysicalOffset min_commit_log_offset) ABSL_LOCKS_EXCLUDED(mu_);

  // ConsumeQueue::Flush on every queue; goes on after an error and returns the first.
  absl::Status Flush(int least_pages) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::string QueueDir(absl::string_view topic, int32_t queue_id) const;

  const ConsumeQueueTableOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::map<int32_t, std::shared_ptr<ConsumeQueue>>, std::less<>> queues_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_CONSUME_QUEUE_TABLE_H_
