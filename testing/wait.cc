#include "testing/wait.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace mq::testing {

bool WaitUntil(absl::FunctionRef<bool()> condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration gap = absl::Milliseconds(1);
  while (!condition()) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return condition();
    absl::SleepFor(std::min(gap, deadline - now));
    gap = std::min(gap * 2, absl::Milliseconds(16));
  }
  return true;
}

}  // namespace mq::testing
