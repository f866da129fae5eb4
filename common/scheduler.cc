#include "common/scheduler.h"

#include <utility>

#include "absl/time/clock.h"
#include "glog/logging.h"

namespace mq {

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Schedule(std::string name, absl::Duration initial_delay, absl::Duration period,
                         std::function<void()> task) {
  CHECK(period > absl::ZeroDuration()) << "task " << name << " needs a positive period";
  auto entry = std::make_shared<Task>();
  entry->name = std::move(name);
  entry->initial_delay = initial_delay;
  entry->period = period;
  entry->run = std::move(task);
  absl::MutexLock lock(&mu_);
  if (started_) entry->due = absl::Now() + initial_delay;
  tasks_.push_back(std::move(entry));
  ++generation_;
}

void Scheduler::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  const absl::Time now = absl::Now();
  for (const auto& task : tasks_) task->due = task->triggered ? now : now + task->initial_delay;
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Scheduler::TriggerNow(const std::string& name) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  for (const auto& task : tasks_) {
    if (task->name != name) continue;
    task->triggered = true;
    if (started_ && task->due > now) task->due = now;
  }
  ++generation_;
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
    next->triggered = false;
    // Run without the lock so Schedule(), TriggerNow() and Stop() do not wait
    // for the task.
    mu_.Unlock();
    next->run();
    mu_.Lock();
    next->due = next->triggered ? absl::Now() : absl::Now() + next->period;
  }
}

std::unique_ptr<Scheduler> StartDedicatedScheduler(std::string name, absl::Duration initial_delay,
                                                   absl::Duration period,
                                                   std::function<void()> task) {
  auto scheduler = std::make_unique<Scheduler>();
  scheduler->Schedule(std::move(name), initial_delay, period, std::move(task));
  scheduler->Start();
  return scheduler;
}

}  // namespace mq
