#include "common/periodic_task.h"

#include <utility>

namespace mq {

PeriodicTask::PeriodicTask(std::string name, absl::Duration initial_delay, absl::Duration interval,
                           std::function<void()> callback)
    : name_(std::move(name)),
      initial_delay_(initial_delay),
      interval_(interval),
      callback_(std::move(callback)) {}

PeriodicTask::~PeriodicTask() { Stop(); }

void PeriodicTask::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void PeriodicTask::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void PeriodicTask::TriggerNow() {
  absl::MutexLock lock(&mu_);
  triggered_ = true;
}

void PeriodicTask::Loop() {
  absl::Time next = absl::Now() + initial_delay_;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || triggered_; };
      mu_.AwaitWithDeadline(absl::Condition(&wake), next);
      if (stopping_) return;
      triggered_ = false;
    }
    callback_();
    next = absl::Now() + interval_;
  }
}

}  // namespace mq
