#include "client/src/scheduler.h"

#include <utility>

#include "glog/logging.h"

namespace mq {
namespace client_internal {

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Schedule(std::string name, absl::Duration initial_delay, absl::Duration period,
                         std::function<void()> task) {
  CHECK(period > absl::ZeroDuration()) << "task " << name << " needs a positive period";
  auto entry = std::make_shared<Task>();
  entry->name = std::move(name);
  entry->period = period;
  entry->run = std::move(task);
  entry->due = absl::Now() + initial_delay;
  absl::MutexLock lock(&mu_);
  tasks_.push_back(std::move(entry));
  ++generation_;
}

void Scheduler::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    std::shared_ptr<Task> next;
    for (const auto& task : tasks_) {
      if (next == nullptr || task->due < next->due) next = task;
    }
    const absl::Time now = absl::Now();
    if (next == nullptr || next->due > now) {
      const int generation = generation_;
      auto woken = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || generation_ != generation;
      };
      const absl::Time deadline = next == nullptr ? absl::InfiniteFuture() : next->due;
      mu_.AwaitWithDeadline(absl::Condition(&woken), deadline);
      continue;
    }
    // Run without the lock so Schedule() and Stop() do not wait for the task.
    mu_.Unlock();
    next->run();
    mu_.Lock();
    next->due = absl::Now() + next->period;
  }
}

}  // namespace client_internal
}  // namespace mq
