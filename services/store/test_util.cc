#include "services/store/test_util.h"

#include <stdlib.h>

#include <algorithm>
#include <string>
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

void AppendAcrossFiles(MappedFileQueue& queue, int64_t bytes, char c) {
  while (bytes > 0) {
    absl::StatusOr<std::shared_ptr<MappedFile>> file = queue.GetOrCreateLastFile(queue.MaxOffset());
    ASSERT_TRUE(file.ok()) << file.status();
    int64_t n = std::min(bytes, (*file)->remaining());
    ASSERT_TRUE((*file)->Append(std::string(n, c)));
    bytes -= n;
  }
}

std::function<bool(const MappedFile&)> EndsBy(int64_t offset) {
  return [offset](const MappedFile& file) { return file.end_offset() <= offset; };
}

}  // namespace mq::store
