// Synchronous flushing by group commit (RocketMQ's GroupCommitService, used
// with SYNC_FLUSH). An appender, after releasing the append lock, waits until
// the flushed offset reaches the end of its records. One background thread
// flushes; every flush covers all data written by then, so one msync serves
// every appender waiting at that moment. A second thread runs the callbacks a
// flush satisfied (NotifyWhenFlushed: answering gRPC calls), so the next flush
// starts while they run instead of after them.
//
// Thread-safe. Stop() (also run by the destructor) flushes everything,
// releases all waiters and returns once every callback has been answered.
#ifndef MQ_SERVICES_STORE_GROUP_COMMIT_SERVICE_H_
#define MQ_SERVICES_STORE_GROUP_COMMIT_SERVICE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "services/store/mapped_file_queue.h"

namespace mq::store {

struct GroupCommitOptions {
  // RocketMQ's syncFlushTimeout.
  absl::Duration sync_flush_timeout = absl::Seconds(5);
  // Each flush that wrote something is timed here, if set.
  metrics::Histogram* flush_latency = nullptr;
};

class GroupCommitService {
 public:
  // `queue` must outlive the service. `on_flushed`, if set, is called on the
  // service's thread with the new flushed offset after each flush, before the
  // waiters it satisfies are released.
  GroupCommitService(MappedFileQueue* queue, GroupCommitOptions options,
                     std::function<void(int64_t flushed_offset)> on_flushed = nullptr);
  GroupCommitService(const GroupCommitService&) = delete;
  GroupCommitService& operator=(const GroupCommitService&) = delete;
  ~GroupCommitService();

  // Starts the flushing thread. Call once.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Flushes what is written, stops the thread, and wakes every waiter. Returns
  // the last flush error, if any. Idempotent.
  absl::Status Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until every byte below `end_offset` is flushed. OK when it is;
  // DEADLINE_EXCEEDED (RocketMQ's FLUSH_DISK_TIMEOUT) after the sync flush
  // timeout; UNAVAILABLE if the service stopped first without reaching it.
  // Must not be called with the append lock held.
  absl::Status WaitForFlush(int64_t end_offset) ABSL_LOCKS_EXCLUDED(mu_);

  // As WaitForFlush, without blocking: `done` gets the same status, on the
  // service's answering thread (or at once on the caller's, if already
  // flushed or stopped). No thread is parked per waiting appender, so an appender
  // (a gRPC call) costs nothing while its flush is pending.
  void NotifyWhenFlushed(int64_t end_offset, std::function<void(absl::Status)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Asks for a flush without waiting for it (a message sent without
  // waitStoreMsgOK).
  void RequestFlush(int64_t end_offset) ABSL_LOCKS_EXCLUDED(mu_);

  // Number of flushes done (each may have served many waiters).
  int64_t flush_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // Number of appenders blocked in WaitForFlush now.
  int waiters() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Raises the requested offset and wakes the flushing thread.
  void RequestLocked(int64_t end_offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  struct Callback {
    absl::Time deadline;
    std::function<void(absl::Status)> done;
  };
  // Wakes the waiters whose end offset is flushed and moves their callbacks
  // to `*ready`, for the caller to hand to the answering thread.
  void ReleaseFlushedLocked(std::vector<std::function<void(absl::Status)>>* ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues callbacks of a flush for the answering thread.
  void Answer(std::vector<std::function<void(absl::Status)>> ready) ABSL_LOCKS_EXCLUDED(answer_mu_);
  // The answering thread: runs queued callbacks (with OK) until Stop() has
  // queued the last ones.
  void RunAnswers() ABSL_LOCKS_EXCLUDED(answer_mu_);
  // Answers (DEADLINE_EXCEEDED) callbacks whose timeout passed.
  void ExpireCallbacks() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status TimeoutError(int64_t end_offset) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Flushes until the flushed offset reaches `target` or stops moving,
  // publishing it to waiters after each file. Returns the last flush error.
  absl::Status FlushTo(int64_t target) ABSL_LOCKS_EXCLUDED(mu_);

  MappedFileQueue* const queue_;
  const GroupCommitOptions options_;
  const std::function<void(int64_t)> on_flushed_;

  mutable absl::Mutex mu_;
  // Signalled when there is a new request (or a stop) for the thread.
  absl::CondVar work_cv_;
  // Appenders blocked in WaitForFlush, by the end offset they wait for; an
  // entry is removed (and its CondVar signalled) once flushed or stopped.
  std::multimap<int64_t, absl::CondVar*> waiting_ ABSL_GUARDED_BY(mu_);
  // NotifyWhenFlushed callbacks, by end offset.
  std::multimap<int64_t, Callback> callbacks_ ABSL_GUARDED_BY(mu_);
  // The highest end offset anyone asked to be flushed.
  int64_t requested_ ABSL_GUARDED_BY(mu_) = 0;
  // The request the thread last flushed for; a larger request is new work.
  int64_t attempted_ ABSL_GUARDED_BY(mu_) = 0;
  // The flushed offset as last published to waiters.
  int64_t flushed_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  int64_t flush_count_ ABSL_GUARDED_BY(mu_) = 0;
  int waiters_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;

  // Callbacks of finished flushes, in flush order, for the answering thread.
  absl::Mutex answer_mu_;
  absl::CondVar answer_cv_;
  std::vector<std::function<void(absl::Status)>> to_answer_ ABSL_GUARDED_BY(answer_mu_);
  bool answers_closed_ ABSL_GUARDED_BY(answer_mu_) = false;
  std::thread answer_thread_;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_GROUP_COMMIT_SERVICE_H_
