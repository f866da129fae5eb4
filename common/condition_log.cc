#include "common/condition_log.h"

#include <glog/logging.h>

#include "absl/time/clock.h"

namespace mq {

void ConditionLog::Failure(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  ++failures_;
  if (on_.load(std::memory_order_relaxed)) return;
  on_.store(true, std::memory_order_relaxed);
  since_ = absl::Now();
  LOG(ERROR) << what_ << " fail: " << status
             << " (logged once; a line follows when they succeed again)";
}

void ConditionLog::Success() {
  if (!on_.load(std::memory_order_relaxed)) return;
  absl::MutexLock lock(&mu_);
  if (!on_.load(std::memory_order_relaxed)) return;
  on_.store(false, std::memory_order_relaxed);
  LOG(WARNING) << what_ << " succeed again after " << failures_ << " failed in "
               << absl::FormatDuration(absl::Now() - since_);
  failures_ = 0;
}

int64_t ConditionLog::failures() const {
  absl::MutexLock lock(&mu_);
  return on_.load(std::memory_order_relaxed) ? failures_ : 0;
}

}  // namespace mq
