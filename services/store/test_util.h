// Helpers shared by the store's tests.
#ifndef MQ_SERVICES_STORE_TEST_UTIL_H_
#define MQ_SERVICES_STORE_TEST_UTIL_H_

#include <functional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "services/store/mapped_file_queue.h"

namespace mq::store {

// A new empty directory under the test's temporary directory.
std::string MakeTempDir();

// Polls `condition` every millisecond until it holds or `timeout` passes;
// returns its last value.
bool WaitFor(absl::FunctionRef<bool()> condition, absl::Duration timeout = absl::Seconds(10));

// Appends `bytes` bytes of `c` to `queue` through its mappings, split over
// files where a file fills (the commit log would not split a record; this is
// enough to exercise queues, flushing and prefaulting). Fails the test on an
// error.
void AppendAcrossFiles(MappedFileQueue& queue, int64_t bytes, char c);

// For MappedFileQueue::DeleteFilesWhile: the files that end at or before
// `offset`.
std::function<bool(const MappedFile&)> EndsBy(int64_t offset);

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_TEST_UTIL_H_
