// Bounded polling for tests: waits for a condition instead of sleeping.
#ifndef MQ_CLIENT_SRC_TESTING_WAIT_H_
#define MQ_CLIENT_SRC_TESTING_WAIT_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mq {
namespace client_internal {

// Polls `condition` every 5 ms; true as soon as it holds, false after `timeout`.
inline bool WaitUntil(const std::function<bool()>& condition,
                      absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

}  // namespace client_internal
}  // namespace mq

#endif  // MQ_CLIENT_SRC_TESTING_WAIT_H_
