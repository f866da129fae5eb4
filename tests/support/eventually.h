// Bounded waiting for a condition in tests that drive real processes.
#ifndef MQ_TESTS_SUPPORT_EVENTUALLY_H_
#define MQ_TESTS_SUPPORT_EVENTUALLY_H_

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace mq::testing {

// Polls `condition` every 20 ms until it holds (true) or `timeout` passes
// (false).
bool Eventually(absl::FunctionRef<bool()> condition, absl::Duration timeout = absl::Seconds(20));

}  // namespace mq::testing

#endif  // MQ_TESTS_SUPPORT_EVENTUALLY_H_
