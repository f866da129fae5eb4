#include "common/condition_log.h"

#include <gtest/gtest.h>

#include "absl/status/status.h"

namespace mq {
namespace {

// The log lines themselves go to glog; what is checked here is the state
// that decides them: one start per run of failures, counted, reset by a
// success.
TEST(ConditionLogTest, CountsARunOfFailuresUntilASuccess) {
  ConditionLog log("appends");
  EXPECT_EQ(log.failures(), 0);
  log.Success();
  for (int i = 0; i < 1000; ++i) log.Failure(absl::UnavailableError("No space left on device"));
  EXPECT_EQ(log.failures(), 1000);
  log.Success();
  EXPECT_EQ(log.failures(), 0);
  log.Failure(absl::UnavailableError("again"));
  EXPECT_EQ(log.failures(), 1);
}

}  // namespace
}  // namespace mq
