// Bounded polling for tests: waits for a condition instead of sleeping.
#ifndef MQ_TESTING_WAIT_H_
#define MQ_TESTING_WAIT_H_

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace mq::testing {

// Polls `condition` until it holds (true) or `timeout` passes (false, after one
// last look at the deadline). The first polls are 1 ms apart, so in-process
// conditions are seen at once; the gap doubles up to 16 ms, so conditions that
// make an RPC to a server process do not flood it.
bool WaitUntil(absl::FunctionRef<bool()> condition, absl::Duration timeout = absl::Seconds(10));

}  // namespace mq::testing

#endif  // MQ_TESTING_WAIT_H_
