// A fixed pool of threads running tasks from a FIFO queue, at once or after a
// delay, optionally bounded with RocketMQ's fast failure (BrokerFastFailure):
// a full queue refuses a task at once, and a task that waited in the queue
// longer than allowed is rejected ("busy") instead of run, so a backed-up
// broker sheds load rather than piling up work its clients have already given
// up on. The broker's send, pull and admin queues are bounded; the push
// consumer's pull and consume pools are not.
//
// A new task wakes the thread that went idle last (each idle thread waits on
// its own condition variable): a pool sized for tasks that block (a cold page
// read, a flush) keeps the same few threads running, warm, under CPU-bound
// load instead of rotating the wake-ups through all of them.
#ifndef MQ_COMMON_EXECUTOR_H_
#define MQ_COMMON_EXECUTOR_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq {

struct ExecutorOptions {
  static constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();

  // For logs and messages ("send", "pull").
  std::string name = "executor";
  // At least 1 by Start().
  int threads = 1;
  // Tasks waiting for a thread, delayed ones included (RocketMQ
  // sendThreadPoolQueueCapacity: 10000).
  size_t capacity = kUnbounded;
  // A task still queued after this long is rejected (RocketMQ
  // waitTimeMillsInSendQueue: 200 ms); a delayed task counts from when it is
  // due.
  absl::Duration max_queue_wait = absl::InfiniteDuration();
  // How often the queue is swept for such tasks (RocketMQ: 10 ms).
  absl::Duration sweep_interval = absl::Milliseconds(10);
};

// Ready tasks start in submission order on the first free thread; a delayed
// task becomes ready at its due time. Thread-safe.
class Executor {
 public:
  using Reject = std::function<void(absl::Status)>;

  explicit Executor(ExecutorOptions options);
  // Stops.
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Starts the threads. Tasks submitted before wait for them.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Rejects every queued task (ready or delayed) with UNAVAILABLE
  // (SERVICE_NOT_AVAILABLE) or drops it when it has no `reject`, lets running
  // tasks finish, and joins the threads. Later submissions fail. Must not be
  // called from a task. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Queues `run`. Returns an error without calling either function when the
  // queue is full (RESOURCE_EXHAUSTED with SYSTEM_BUSY) or the executor is
  // stopped (UNAVAILABLE with SERVICE_NOT_AVAILABLE). Once accepted, exactly
  // one of `run` (on a pool thread) or `reject` (with RESOURCE_EXHAUSTED and
  // SYSTEM_BUSY "[TIMEOUT_CLEAN_QUEUE]..." after waiting too long, or with
  // UNAVAILABLE at Stop) is called; a null `reject` drops the task instead.
  // The functions are destroyed without the executor's lock held.
  absl::Status Submit(std::function<void()> run, Reject reject = nullptr) ABSL_LOCKS_EXCLUDED(mu_);
  // As Submit(), but `run` becomes ready only after `delay`.
  absl::Status SubmitAfter(absl::Duration delay, std::function<void()> run, Reject reject = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Tasks submitted and not yet started (ready or delayed).
  size_t queue_size() const ABSL_LOCKS_EXCLUDED(mu_);
  // Pool threads waiting for work.
  size_t idle_threads() const ABSL_LOCKS_EXCLUDED(mu_);
  // Tasks rejected for waiting too long, since construction.
  int64_t timed_out_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Task {
    std::function<void()> run;
    Reject reject;
    // When it became ready.
    absl::Time enqueued;
  };
  // A pool thread waiting for work.
  struct IdleWorker {
    absl::CondVar wake;
    bool woken = false;
  };

  void WorkerLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Moves delayed tasks to the queue when due and sweeps it for tasks that
  // waited too long.
  void TimerLoop() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status TimeoutStatus(absl::Duration waited, size_t queue_size) const;
  // Returns an error when a task may not be queued now.
  absl::Status AdmitLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the expired tasks at the head of the queue to `expired`.
  void TakeExpiredLocked(absl::Time now, std::vector<Task>* expired)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes the most recently idle thread, if any is idle.
  void WakeOneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ExecutorOptions options_;

  mutable absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  // (due, submission number) -> task; the number keeps equal due times in order.
  std::map<std::pair<absl::Time, uint64_t>, Task> delayed_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  // Idle pool threads, the most recently idle last.
  std::vector<IdleWorker*> idle_ ABSL_GUARDED_BY(mu_);
  absl::CondVar timer_wake_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t timed_out_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace mq

#endif  // MQ_COMMON_EXECUTOR_H_
