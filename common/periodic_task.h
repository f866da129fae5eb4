// Runs a callback on its own thread at a fixed interval until stopped.
#ifndef MQ_COMMON_PERIODIC_TASK_H_
#define MQ_COMMON_PERIODIC_TASK_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq {

// Thread-safe. The callback runs on the task's thread, never concurrently with
// itself; the first run is after `initial_delay`, then every `interval`.
// Stop() (also called by the destructor) wakes the thread and joins it; a run
// in progress finishes first.
class PeriodicTask {
 public:
  PeriodicTask(std::string name, absl::Duration initial_delay, absl::Duration interval,
               std::function<void()> callback);
  ~PeriodicTask();

  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Runs the callback as soon as possible on the task's thread.
  void TriggerNow() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string name_;
  const absl::Duration initial_delay_;
  const absl::Duration interval_;
  const std::function<void()> callback_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool triggered_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mq

#endif  // MQ_COMMON_PERIODIC_TASK_H_
