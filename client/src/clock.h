// A source of the current time, injectable so tests can move time by hand.
#ifndef MQ_CLIENT_SRC_CLOCK_H_
#define MQ_CLIENT_SRC_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mq {
namespace client_internal {

// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // absl::Now(); a process-wide object that is never destroyed.
  static const Clock* Real();
};

}  // namespace client_internal
}  // namespace mq

#endif  // MQ_CLIENT_SRC_CLOCK_H_
