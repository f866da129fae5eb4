// Follows the commit log and files every record in its consume queue and in
// the index (RocketMQ's ReputMessageService), then tells the queue watchers.
// A slave's store builds its queues the same way from replicated bytes.
#ifndef MQ_SERVICES_STORE_DISPATCHER_H_
#define MQ_SERVICES_STORE_DISPATCHER_H_

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/condition_log.h"
#include "services/store/commit_log.h"
#include "services/store/consume_queue_table.h"
#include "services/store/index_service.h"
#include "services/store/queue_watchers.h"

namespace mq::store {

// Thread-safe. CatchUp runs alone (at recovery); then Start() runs the
// dispatch thread until Stop(). Readers see a message once it is dispatched,
// which happens before it is flushed (as in RocketMQ).
class Dispatcher {
 public:
  // `index` may be null (index disabled). All must outlive the dispatcher.
  Dispatcher(CommitLog* commit_log, ConsumeQueueTable* queues, IndexService* index,
             QueueWatchers* watchers);
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;
  ~Dispatcher();

  // Dispatches every record from `from` to the end of the log on this thread
  // and returns the end offset reached. Errors from the queues or the index.
  absl::StatusOr<int64_t> CatchUp(int64_t from) ABSL_LOCKS_EXCLUDED(mu_);

  // Starts following the log from where CatchUp stopped.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Dispatches what is written (waiting up to `drain_timeout`), then stops.
  void Stop(absl::Duration drain_timeout = absl::Seconds(10)) ABSL_LOCKS_EXCLUDED(mu_);

  // New data was appended: dispatch it soon. Costs a fence and a load unless
  // the thread is idle (waiting for data); a busy thread finds the data on
  // its next round, at most 1 ms later.
  void Wake() ABSL_LOCKS_EXCLUDED(mu_);

  // Every record below this commit-log offset is dispatched.
  int64_t dispatched_offset() const { return offset_.load(std::memory_order_acquire); }

  // Records passed over because no consume queue can ever take them (a topic
  // or queue id the store refuses today, written by an older version or by a
  // bug): each is logged with its offset, stays in the log, and is never
  // served. Recovery and dispatch go on past them.
  int64_t skipped_records() const { return skipped_.load(std::memory_order_relaxed); }

 private:
  // Dispatches records (and moves past file ends) until the end of the log or
  // `max_steps`; returns the steps taken, or an error (the offset stays at the
  // record that failed, to be retried).
  absl::StatusOr<int> DispatchAvailable(int max_steps);
  absl::Status DispatchRecord(const format::MessageRecord& record, int32_t size,
                              std::vector<v1::QueueAdvance>* advances);
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  CommitLog* const commit_log_;
  ConsumeQueueTable* const queues_;
  IndexService* const index_;
  QueueWatchers* const watchers_;

  std::atomic<int64_t> offset_{0};
  std::atomic<int64_t> skipped_{0};
  // The thread found nothing to dispatch and waits to be woken.
  std::atomic<bool> idle_{false};
  // A record that cannot be dispatched stalls every round until it can:
  // logged when that starts and when it clears, not every retry.
  ConditionLog stalls_{"dispatch rounds"};
  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_DISPATCHER_H_
