#include "client/src/task_executor.h"

#include "absl/time/clock.h"
#include "glog/logging.h"

namespace mq {
namespace client_internal {

TaskExecutor::TaskExecutor(std::string name, int threads) : name_(std::move(name)) {
  CHECK_GE(threads, 1) << "executor " << name_ << " needs a thread";
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

TaskExecutor::~TaskExecutor() { Shutdown(); }

bool TaskExecutor::Submit(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  ready_.push_back(std::move(task));
  return true;
}

bool TaskExecutor::SubmitAfter(absl::Duration delay, std::function<void()> task) {
  if (delay <= absl::ZeroDuration()) return Submit(std::move(task));
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  delayed_.emplace(std::make_pair(absl::Now() + delay, next_sequence_++), std::move(task));
  return true;
}

void TaskExecutor::Shutdown() {
  std::deque<std::function<void()>> dropped_ready;
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> dropped_delayed;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    // Destroyed outside the lock: a task's captures may have destructors that
    // submit (and so lock).
    dropped_ready.swap(ready_);
    dropped_delayed.swap(delayed_);
  }
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

size_t TaskExecutor::pending() const {
  absl::MutexLock lock(&mu_);
  return ready_.size() + delayed_.size();
}

void TaskExecutor::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    while (!delayed_.empty() && delayed_.begin()->first.first <= now) {
      ready_.push_back(std::move(delayed_.begin()->second));
      delayed_.erase(delayed_.begin());
    }
    if (ready_.empty()) {
      const absl::Time wake =
          delayed_.empty() ? absl::InfiniteFuture() : delayed_.begin()->first.first;
      const size_t delayed_count = delayed_.size();
      auto work = [this, delayed_count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !ready_.empty() || delayed_.size() != delayed_count;
      };
      mu_.AwaitWithDeadline(absl::Condition(&work), wake);
      continue;
    }
    std::function<void()> task = std::move(ready_.front());
    ready_.pop_front();
    mu_.Unlock();
    task();
    task = nullptr;
    mu_.Lock();
  }
}

}  // namespace client_internal
}  // namespace mq
