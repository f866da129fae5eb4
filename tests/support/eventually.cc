#include "tests/support/eventually.h"

#include "absl/time/clock.h"

namespace mq::testing {

bool Eventually(absl::FunctionRef<bool()> condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

}  // namespace mq::testing
