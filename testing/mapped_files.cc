#include "testing/mapped_files.h"

#include <algorithm>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace mq::testing {

void AppendAcrossFiles(store::MappedFileQueue& queue, int64_t bytes, char c) {
  while (bytes > 0) {
    absl::StatusOr<std::shared_ptr<store::MappedFile>> file =
        queue.GetOrCreateLastFile(queue.MaxOffset());
    ASSERT_TRUE(file.ok()) << file.status();
    int64_t n = std::min(bytes, (*file)->remaining());
    ASSERT_TRUE((*file)->Append(std::string(n, c)));
    bytes -= n;
  }
}

std::function<bool(const store::MappedFile&)> EndsBy(int64_t offset) {
  return [offset](const store::MappedFile& file) { return file.end_offset() <= offset; };
}

}  // namespace mq::testing
