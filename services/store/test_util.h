// Helpers shared by the store's tests.
#ifndef MQ_SERVICES_STORE_TEST_UTIL_H_
#define MQ_SERVICES_STORE_TEST_UTIL_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace mq::store {

// A new empty directory under the test's temporary directory.
std::string MakeTempDir();

// Polls `condition` every millisecond until it holds or `timeout` passes;
// returns its last value.
bool WaitFor(absl::FunctionRef<bool()> condition, absl::Duration timeout = absl::Seconds(10));

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_TEST_UTIL_H_
