#include "common/rate_counter.h"

#include <algorithm>
#include <utility>

namespace mq {

RateCounter::RateCounter(absl::Duration window, const Clock* clock)
    : window_seconds_(std::max<int64_t>(1, absl::ToInt64Seconds(window))),
      clock_(clock),
      buckets_(static_cast<size_t>(window_seconds_ + 1)) {}

void RateCounter::Add(int64_t count) {
  int64_t second = absl::ToUnixSeconds(clock_->Now());
  absl::MutexLock lock(&mu_);
  Bucket& bucket = buckets_[static_cast<size_t>(second % static_cast<int64_t>(buckets_.size()))];
  if (bucket.second != second) bucket = Bucket{second, 0};
  bucket.count += count;
  total_ += count;
}

double RateCounter::Rate() const {
  int64_t now = absl::ToUnixSeconds(clock_->Now());
  int64_t sum = 0;
  absl::MutexLock lock(&mu_);
  for (const Bucket& bucket : buckets_) {
    if (bucket.second >= now - window_seconds_ && bucket.second < now) sum += bucket.count;
  }
  return static_cast<double>(sum) / static_cast<double>(window_seconds_);
}

int64_t RateCounter::total() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

}  // namespace mq
