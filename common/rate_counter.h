// Counts events and reports their rate over a sliding window of whole seconds,
// for the put/get TPS figures of the store and the broker.
#ifndef MQ_COMMON_RATE_COUNTER_H_
#define MQ_COMMON_RATE_COUNTER_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace mq {

// Thread-safe.
class RateCounter {
 public:
  // `clock` must outlive the counter.
  explicit RateCounter(absl::Duration window = absl::Seconds(10),
                       const Clock* clock = Clock::Real());

  void Add(int64_t count) ABSL_LOCKS_EXCLUDED(mu_);

  // Events of the last `window` whole seconds (the current second excluded)
  // divided by the window.
  double Rate() const ABSL_LOCKS_EXCLUDED(mu_);

  int64_t total() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Bucket {
    int64_t second = -1;
    int64_t count = 0;
  };

  const int64_t window_seconds_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  // window + 1 buckets, indexed by second modulo their count.
  std::vector<Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  int64_t total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mq

#endif  // MQ_COMMON_RATE_COUNTER_H_
