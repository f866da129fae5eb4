#include "services/store/test_util.h"

#include <stdlib.h>

#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace mq::store {

std::string MakeTempDir() {
  std::string pattern = testing::TempDir();
  if (pattern.empty() || pattern.back() != '/') pattern.push_back('/');
  pattern += "store_test_XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  char* dir = ::mkdtemp(buffer.data());
  EXPECT_NE(dir, nullptr) << pattern;
  return dir == nullptr ? std::string() : std::string(dir);
}

bool WaitFor(absl::FunctionRef<bool()> condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return condition();
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace mq::store
