#include "services/broker/bounded_executor.h"

#include <glog/logging.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"

namespace mq::broker {

BoundedExecutor::BoundedExecutor(BoundedExecutorOptions options) : options_(std::move(options)) {}

BoundedExecutor::~BoundedExecutor() { Stop(); }

void BoundedExecutor::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  threads_.emplace_back([this] { SweepLoop(); });
}

void BoundedExecutor::Stop() {
  std::deque<Task> rejected;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    rejected.swap(queue_);
    for (IdleWorker* worker : idle_) {
      worker->woken = true;
      worker->wake.Signal();
    }
    idle_.clear();
    sweeper_wake_.Signal();
  }
  absl::Status status = WithResponseCode(
      absl::UnavailableError(absl::StrCat("broker is shutting down (", options_.name, " queue)")),
      common::v1::SERVICE_NOT_AVAILABLE);
  for (Task& task : rejected) task.reject(status);
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

absl::Status BoundedExecutor::Submit(std::function<void()> run, Reject reject) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return WithResponseCode(absl::UnavailableError("broker is shutting down"),
                            common::v1::SERVICE_NOT_AVAILABLE);
  }
  if (queue_.size() >= options_.capacity) {
    return WithResponseCode(
        absl::ResourceExhaustedError(absl::StrFormat(
            "[OVERLOAD]system busy, start flow control for a while: the %s queue is full (%d)",
            options_.name, options_.capacity)),
        common::v1::SYSTEM_BUSY);
  }
  queue_.push_back(Task{std::move(run), std::move(reject), absl::Now()});
  WakeOneLocked();
  return absl::OkStatus();
}

void BoundedExecutor::WakeOneLocked() {
  if (idle_.empty()) return;
  IdleWorker* worker = idle_.back();
  idle_.pop_back();
  worker->woken = true;
  worker->wake.Signal();
}

size_t BoundedExecutor::queue_size() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

size_t BoundedExecutor::idle_threads() const {
  absl::MutexLock lock(&mu_);
  return idle_.size();
}

int64_t BoundedExecutor::timed_out_count() const {
  absl::MutexLock lock(&mu_);
  return timed_out_;
}

absl::Status BoundedExecutor::TimeoutStatus(absl::Duration waited, size_t queue_size) const {
  return WithResponseCode(
      absl::ResourceExhaustedError(absl::StrFormat(
          "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in %s "
          "queue: %dms, size of queue: %d",
          options_.name, absl::ToInt64Milliseconds(waited), queue_size)),
      common::v1::SYSTEM_BUSY);
}

void BoundedExecutor::TakeExpiredLocked(absl::Time now, std::vector<Task>* expired) {
  while (!queue_.empty() && now - queue_.front().enqueued > options_.max_queue_wait) {
    expired->push_back(std::move(queue_.front()));
    queue_.pop_front();
    ++timed_out_;
  }
}

void BoundedExecutor::WorkerLoop() {
  while (true) {
    Task task;
    size_t remaining = 0;
    {
      absl::MutexLock lock(&mu_);
      IdleWorker self;
      while (!stopping_ && queue_.empty()) {
        self.woken = false;
        idle_.push_back(&self);
        while (!self.woken) self.wake.Wait(&mu_);
      }
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      remaining = queue_.size();
    }
    absl::Duration waited = absl::Now() - task.enqueued;
    if (waited > options_.max_queue_wait) {
      {
        absl::MutexLock lock(&mu_);
        ++timed_out_;
      }
      task.reject(TimeoutStatus(waited, remaining));
      continue;
    }
    task.run();
  }
}

void BoundedExecutor::SweepLoop() {
  while (true) {
    std::vector<Task> expired;
    size_t remaining = 0;
    absl::Time now;
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_) sweeper_wake_.WaitWithTimeout(&mu_, options_.sweep_interval);
      if (stopping_) return;
      now = absl::Now();
      TakeExpiredLocked(now, &expired);
      remaining = queue_.size();
    }
    if (!expired.empty()) {
      LOG_EVERY_N(WARNING, 100) << options_.name << " queue: " << expired.size()
                                << " tasks waited longer than "
                                << absl::FormatDuration(options_.max_queue_wait)
                                << ", answering busy";
    }
    for (Task& task : expired) task.reject(TimeoutStatus(now - task.enqueued, remaining));
  }
}

}  // namespace mq::broker
