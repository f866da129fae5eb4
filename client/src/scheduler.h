// Periodic tasks on one background thread (route refresh, heartbeats).
#ifndef MQ_CLIENT_SRC_SCHEDULER_H_
#define MQ_CLIENT_SRC_SCHEDULER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq {
namespace client_internal {

// Runs each task first after its initial delay, then every period (measured
// from the end of the previous run, so a slow run never piles up). Tasks run
// one at a time, on the scheduler's thread, in order of due time; a long task
// delays the others. Thread-safe.
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

  // Starts the thread; later calls do nothing.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Waits for a task that is running, then joins the thread; no task runs
  // afterwards. Must not be called from a task. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Task {
    std::string name;
    absl::Duration period;
    std::function<void()> run;
    absl::Time due;
  };

  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::vector<std::shared_ptr<Task>> tasks_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Bumped on every Schedule() so the loop re-reads the due times.
  int generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace client_internal
}  // namespace mq

#endif  // MQ_CLIENT_SRC_SCHEDULER_H_
