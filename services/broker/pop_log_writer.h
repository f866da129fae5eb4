// The POP log's one writer (group commit): records are appended in the order
// they were handed over, and every record that queued while an append was in
// flight goes into the next append together, so concurrent pops, acks and
// revive rounds share one store call (one lock, one flush wait with
// SYNC_FLUSH, one replication wait with SYNC_MASTER, one store RPC in the
// split deployment) instead of one each.
//
// Write() returns once its record is in the store (an ack answered SUCCESS is
// durable); Queue() does not wait (a pop's record: unlogged, its messages are
// still delivered again after a crash, only sooner). Because the order is
// kept, a record written after a queued one is never in the log before it.
#ifndef MQ_SERVICES_BROKER_POP_LOG_WRITER_H_
#define MQ_SERVICES_BROKER_POP_LOG_WRITER_H_

#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "services/broker/broker_metadata.pb.h"

namespace mq::broker {

// Thread-safe.
class PopLogWriter {
 public:
  // Appends the records, in order, as one store call.
  using Append = std::function<absl::Status(const std::vector<internal::PopLogRecord>& records)>;
  // Runs `work` off the caller's thread, or calls `refused` instead.
  using Runner = std::function<void(std::function<void()> work, std::function<void()> refused)>;

  // At most `max_batch_bytes` of records (serialized) go into one append;
  // a larger record goes alone.
  PopLogWriter(Append append, Runner runner, size_t max_batch_bytes);
  // Drains.
  ~PopLogWriter();

  PopLogWriter(const PopLogWriter&) = delete;
  PopLogWriter& operator=(const PopLogWriter&) = delete;

  // Appends `record` after every record handed over before it; the append's
  // status.
  absl::Status Write(internal::PopLogRecord record) ABSL_LOCKS_EXCLUDED(mu_);
  // Hands `record` over without waiting: it is appended with the next
  // Write(), or by a task on the runner. A failed append is logged.
  void Queue(internal::PopLogRecord record) ABSL_LOCKS_EXCLUDED(mu_);
  // As Queue(), for records that must stay together: nothing handed over
  // meanwhile goes between them.
  void QueueAll(std::vector<internal::PopLogRecord> records) ABSL_LOCKS_EXCLUDED(mu_);
  // Returns once every record handed over is appended (or failed).
  void Drain() ABSL_LOCKS_EXCLUDED(mu_);

  // Appends made, since construction.
  int64_t appends() const ABSL_LOCKS_EXCLUDED(mu_);
  // Records handed over, since construction.
  int64_t handed_over() const ABSL_LOCKS_EXCLUDED(mu_);
  // Records handed over and not yet taken by an append.
  size_t pending_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Waiter {
    absl::Status status;
    bool done = false;
  };
  struct Pending {
    internal::PopLogRecord record;
    // Null for a queued record.
    Waiter* waiter = nullptr;
  };

  // Appends the oldest pending records (up to the byte cap) with mu_
  // released meanwhile; the caller is the writer for that time. True when
  // queued records are left with nobody to write them: the caller must
  // Submit() (without mu_; counted in scheduled_ already).
  bool AppendOldestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A task on the runner that appends what is pending.
  void Submit() ABSL_LOCKS_EXCLUDED(mu_);
  void RunScheduled() ABSL_LOCKS_EXCLUDED(mu_);

  const Append append_;
  const Runner runner_;
  const size_t max_batch_bytes_;

  mutable absl::Mutex mu_;
  // Signalled when an append ends.
  absl::CondVar appended_;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Runner tasks not yet finished.
  int scheduled_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t appends_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t handed_over_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_POP_LOG_WRITER_H_
