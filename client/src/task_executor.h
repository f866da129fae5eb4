// A fixed pool of threads running tasks, at once or after a delay (the push
// consumer's pull service and consume pool).
#ifndef MQ_CLIENT_SRC_TASK_EXECUTOR_H_
#define MQ_CLIENT_SRC_TASK_EXECUTOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq {
namespace client_internal {

// Ready tasks run in submission order on the first free thread; a delayed task
// becomes ready at its due time. Thread-safe.
class TaskExecutor {
 public:
  // Starts `threads` (>= 1) threads.
  TaskExecutor(std::string name, int threads);
  // Shuts down.
  ~TaskExecutor();

  TaskExecutor(const TaskExecutor&) = delete;
  TaskExecutor& operator=(const TaskExecutor&) = delete;

  // False (and `task` dropped) after Shutdown().
  bool Submit(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);
  bool SubmitAfter(absl::Duration delay, std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

  // Drops the tasks not started yet, waits for the running ones and joins the
  // threads. Must not be called from a task. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // Tasks submitted and not yet started (ready or delayed).
  size_t pending() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string name_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::function<void()>> ready_ ABSL_GUARDED_BY(mu_);
  // (due, submission number) -> task; the number keeps equal due times in order.
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> delayed_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace client_internal
}  // namespace mq

#endif  // MQ_CLIENT_SRC_TASK_EXECUTOR_H_
