// A fixed pool of threads fed by a bounded FIFO queue, with RocketMQ's fast
// failure (BrokerFastFailure): a full queue refuses a task at once, and a task
// that waited in the queue longer than allowed is answered "busy" instead of
// run, so a backed-up broker sheds load rather than piling up work its
// clients have already given up on.
//
// A new task wakes the thread that went idle last (each idle thread waits on
// its own condition variable): the pool is sized for tasks that block (a cold
// page read, a flush), but under CPU-bound load the same few threads keep
// running, warm, instead of the wake-ups rotating through all of them.
#ifndef MQ_SERVICES_BROKER_BOUNDED_EXECUTOR_H_
#define MQ_SERVICES_BROKER_BOUNDED_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq::broker {

struct BoundedExecutorOptions {
  // For logs and messages ("send", "pull").
  std::string name = "executor";
  int threads = 4;
  // Tasks waiting for a thread (RocketMQ sendThreadPoolQueueCapacity: 10000).
  size_t capacity = 10000;
  // A task still queued after this long is rejected (RocketMQ
  // waitTimeMillsInSendQueue: 200 ms).
  absl::Duration max_queue_wait = absl::Milliseconds(200);
  // How often the queue is swept for such tasks (RocketMQ: 10 ms).
  absl::Duration sweep_interval = absl::Milliseconds(10);
};

// Thread-safe.
class BoundedExecutor {
 public:
  using Reject = std::function<void(absl::Status)>;

  explicit BoundedExecutor(BoundedExecutorOptions options);
  // Stops.
  ~BoundedExecutor();

  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Starts the threads. Tasks submitted before wait for them.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Rejects every queued task with UNAVAILABLE (SERVICE_NOT_AVAILABLE), lets
  // running tasks finish, and joins the threads. Later submissions fail.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Queues `run`. Returns an error without calling either function when the
  // queue is full (RESOURCE_EXHAUSTED with SYSTEM_BUSY) or the executor is
  // stopped (UNAVAILABLE with SERVICE_NOT_AVAILABLE). Once accepted, exactly
  // one of `run` (on a pool thread) or `reject` (with RESOURCE_EXHAUSTED and
  // SYSTEM_BUSY "[TIMEOUT_CLEAN_QUEUE]..." after waiting too long, or with
  // UNAVAILABLE at Stop) is called.
  absl::Status Submit(std::function<void()> run, Reject reject) ABSL_LOCKS_EXCLUDED(mu_);

  size_t queue_size() const ABSL_LOCKS_EXCLUDED(mu_);
  // Pool threads waiting for work.
  size_t idle_threads() const ABSL_LOCKS_EXCLUDED(mu_);
  // Tasks rejected for waiting too long, since construction.
  int64_t timed_out_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Task {
    std::function<void()> run;
    Reject reject;
    absl::Time enqueued;
  };
  // A pool thread waiting for work.
  struct IdleWorker {
    absl::CondVar wake;
    bool woken = false;
  };

  void WorkerLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void SweepLoop() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status TimeoutStatus(absl::Duration waited, size_t queue_size) const;
  // Moves the expired tasks at the head of the queue to `expired`.
  void TakeExpiredLocked(absl::Time now, std::vector<Task>* expired)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes the most recently idle thread, if any is idle.
  void WakeOneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const BoundedExecutorOptions options_;

  mutable absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  // Idle pool threads, the most recently idle last.
  std::vector<IdleWorker*> idle_ ABSL_GUARDED_BY(mu_);
  absl::CondVar sweeper_wake_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t timed_out_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_BOUNDED_EXECUTOR_H_
