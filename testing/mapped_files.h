// Filling and selecting the store's mapped files in the store's tests.
#ifndef MQ_TESTING_MAPPED_FILES_H_
#define MQ_TESTING_MAPPED_FILES_H_

#include <cstdint>
#include <functional>

#include "services/store/mapped_file_queue.h"

namespace mq::testing {

// Appends `bytes` bytes of `c` to `queue` through its mappings, split over
// files where a file fills (the commit log would not split a record; this is
// enough to exercise queues, flushing and prefaulting). Fails the test on an
// error.
void AppendAcrossFiles(store::MappedFileQueue& queue, int64_t bytes, char c);

// For MappedFileQueue::DeleteFilesWhile: the files that end at or before
// `offset`.
std::function<bool(const store::MappedFile&)> EndsBy(int64_t offset);

}  // namespace mq::testing

#endif  // MQ_TESTING_MAPPED_FILES_H_
