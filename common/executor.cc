#include "common/executor.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "glog/logging.h"

namespace mq {

Executor::Executor(ExecutorOptions options) : options_(std::move(options)) {}

Executor::~Executor() { Stop(); }

void Executor::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  CHECK_GE(options_.threads, 1) << "executor " << options_.name << " needs a thread";
  started_ = true;
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  threads_.emplace_back([this] { TimerLoop(); });
}

void Executor::Stop() {
  std::deque<Task> rejected;
  std::map<std::pair<absl::Time, uint64_t>, Task> rejected_delayed;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    // Rejected (and destroyed) outside the lock: a task's captures may submit.
    rejected.swap(queue_);
    rejected_delayed.swap(delayed_);
    for (IdleWorker* worker : idle_) {
      worker->woken = true;
      worker->wake.Signal();
    }
    idle_.clear();
    timer_wake_.Signal();
  }
  // The texts here and below are the broker's answers (RocketMQ's wording).
  absl::Status status = WithResponseCode(
      absl::UnavailableError(absl::StrCat("broker is shutting down (", options_.name, " queue)")),
      common::v1::SERVICE_NOT_AVAILABLE);
  for (Task& task : rejected) {
    if (task.reject) task.reject(status);
  }
  for (auto& [due, task] : rejected_delayed) {
    if (task.reject) task.reject(status);
  }
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

absl::Status Executor::AdmitLocked() const {
  if (stopping_) {
    return WithResponseCode(absl::UnavailableError("broker is shutting down"),
                            common::v1::SERVICE_NOT_AVAILABLE);
  }
  if (queue_.size() + delayed_.size() >= options_.capacity) {
    return WithResponseCode(
        absl::ResourceExhaustedError(absl::StrFormat(
            "[OVERLOAD]system busy, start flow control for a while: the %s queue is full (%d)",
            options_.name, options_.capacity)),
        common::v1::SYSTEM_BUSY);
  }
  return absl::OkStatus();
}

absl::Status Executor::Submit(std::function<void()> run, Reject reject) {
  absl::MutexLock lock(&mu_);
  absl::Status admitted = AdmitLocked();
  if (!admitted.ok()) return admitted;
  queue_.push_back(Task{std::move(run), std::move(reject), absl::Now()});
  WakeOneLocked();
  return absl::OkStatus();
}

absl::Status Executor::SubmitAfter(absl::Duration delay, std::function<void()> run, Reject reject) {
  if (delay <= absl::ZeroDuration()) return Submit(std::move(run), std::move(reject));
  absl::MutexLock lock(&mu_);
  absl::Status admitted = AdmitLocked();
  if (!admitted.ok()) return admitted;
  const absl::Time due = absl::Now() + delay;
  const bool earliest = delayed_.empty() || due < delayed_.begin()->first.first;
  delayed_.emplace(std::make_pair(due, next_sequence_++),
                   Task{std::move(run), std::move(reject), absl::InfiniteFuture()});
  if (earliest) timer_wake_.Signal();
  return absl::OkStatus();
}

void Executor::WakeOneLocked() {
  if (idle_.empty()) return;
  IdleWorker* worker = idle_.back();
  idle_.pop_back();
  worker->woken = true;
  worker->wake.Signal();
}

size_t Executor::queue_size() const {
  absl::MutexLock lock(&mu_);
  return queue_.size() + delayed_.size();
}

size_t Executor::idle_threads() const {
  absl::MutexLock lock(&mu_);
  return idle_.size();
}

int64_t Executor::timed_out_count() const {
  absl::MutexLock lock(&mu_);
  return timed_out_;
}

absl::Status Executor::TimeoutStatus(absl::Duration waited, size_t queue_size) const {
  return WithResponseCode(
      absl::ResourceExhaustedError(absl::StrFormat(
          "[TIMEOUT_CLEAN_QUEUE]broker busy, start flow control for a while, period in %s "
          "queue: %dms, size of queue: %d",
          options_.name, absl::ToInt64Milliseconds(waited), queue_size)),
      common::v1::SYSTEM_BUSY);
}

void Executor::TakeExpiredLocked(absl::Time now, std::vector<Task>* expired) {
  while (!queue_.empty() && now - queue_.front().enqueued > options_.max_queue_wait) {
    expired->push_back(std::move(queue_.front()));
    queue_.pop_front();
    ++timed_out_;
  }
}

void Executor::WorkerLoop() {
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
      if (task.reject) task.reject(TimeoutStatus(waited, remaining));
      continue;
    }
    task.run();
  }
}

void Executor::TimerLoop() {
  const bool sweeps = options_.max_queue_wait != absl::InfiniteDuration();
  while (true) {
    std::vector<Task> expired;
    size_t remaining = 0;
    absl::Time now;
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        absl::Time deadline =
            delayed_.empty() ? absl::InfiniteFuture() : delayed_.begin()->first.first;
        if (sweeps) deadline = std::min(deadline, absl::Now() + options_.sweep_interval);
        timer_wake_.WaitWithDeadline(&mu_, deadline);
      }
      if (stopping_) return;
      now = absl::Now();
      // A delayed task is queued behind those already waiting, as if submitted
      // now.
      while (!delayed_.empty() && delayed_.begin()->first.first <= now) {
        Task task = std::move(delayed_.begin()->second);
        delayed_.erase(delayed_.begin());
        task.enqueued = now;
        queue_.push_back(std::move(task));
        WakeOneLocked();
      }
      if (sweeps) TakeExpiredLocked(now, &expired);
      remaining = queue_.size();
    }
    if (!expired.empty()) {
      LOG_EVERY_N(WARNING, 100) << options_.name << " queue: " << expired.size()
                                << " tasks waited longer than "
                                << absl::FormatDuration(options_.max_queue_wait)
                                << ", answering busy";
    }
    for (Task& task : expired) {
      if (task.reject) task.reject(TimeoutStatus(now - task.enqueued, remaining));
    }
  }
}

}  // namespace mq
