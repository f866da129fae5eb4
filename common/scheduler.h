// Periodic tasks on one background thread per Scheduler (route refresh,
// heartbeats, scans, flushes).
#ifndef MQ_COMMON_SCHEDULER_H_
#define MQ_COMMON_SCHEDULER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq {

// Runs each task first after its initial delay (counted from Start() for a
// task scheduled before it, else from Schedule()), then every period measured
// from the end of the previous run, so a slow run never piles up. Tasks run one
// at a time, on the scheduler's thread, in order of due time; a long task
// delays the others (give a task that may block a Scheduler of its own).
// Thread-safe.
class Scheduler {
 public:
  Scheduler() = default;
  // Stops.
  ~Scheduler();

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // May be called before or after Start(). `period` must be positive.
  void Schedule(std::string name, absl::Duration initial_delay, absl::Duration period,
                std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

  // Starts the thread; later calls, and calls after Stop(), do nothing.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Waits for a task that is running, then joins the thread; no task runs
  // afterwards. Must not be called from a task. Idempotent; safe before Start().
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Runs the tasks named `name` as soon as possible (once the scheduler has
  // started), without waiting for them; a trigger during a run of the task
  // runs it again right after. Triggers before a run coalesce.
  void TriggerNow(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Task {
    std::string name;
    absl::Duration initial_delay;
    absl::Duration period;
    std::function<void()> run;
    // Set from Start() (or Schedule() once started).
    absl::Time due = absl::InfiniteFuture();
    bool triggered = false;
  };

  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  // Tasks and their fields are guarded by mu_ (except `run`, which is const
  // once scheduled).
  std::vector<std::shared_ptr<Task>> tasks_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Bumped whenever a due time moves earlier so the loop re-reads them.
  int generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

// A started Scheduler running just `task` on a thread of its own (a task that
// may block must not delay others).
std::unique_ptr<Scheduler> StartDedicatedScheduler(std::string name, absl::Duration initial_delay,
                                                   absl::Duration period,
                                                   std::function<void()> task);

}  // namespace mq

#endif  // MQ_COMMON_SCHEDULER_H_
