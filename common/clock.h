// A source of the current time, injectable so tests can move time by hand
// (common/testing/fake_clock.h).
#ifndef MQ_COMMON_CLOCK_H_
#define MQ_COMMON_CLOCK_H_

#include "absl/time/time.h"

namespace mq {

// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // absl::Now(); a process-wide object that is never destroyed.
  static const Clock* Real();
};

}  // namespace mq

#endif  // MQ_COMMON_CLOCK_H_
