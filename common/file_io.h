// File helpers shared by every file the system writes (commit log, queues,
// index, metadata): the status of a failed system call, and allocation.
#ifndef MQ_COMMON_ERRNO_STATUS_H_
#define MQ_COMMON_ERRNO_STATUS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mq {

// "<what> <path>: <strerror>" with a code by `err`: ENOENT NOT_FOUND, EEXIST
// ALREADY_EXISTS, ENOSPC and EDQUOT UNAVAILABLE (a full disk: the store takes
// no writes until space is freed, and clients send elsewhere), anything else
// INTERNAL.
absl::Status ErrnoStatus(int err, absl::string_view what, absl::string_view path);

// Gives the open file `fd` `size` bytes with their blocks allocated (not
// sparse), so a full disk is an error here rather than a SIGBUS on a later
// write through a mapping. Falls back to ftruncate where the file system
// cannot allocate.
absl::Status AllocateFile(int fd, int64_t size, absl::string_view path);

}  // namespace mq

#endif  // MQ_COMMON_ERRNO_STATUS_H_
