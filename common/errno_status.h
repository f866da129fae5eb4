// The status of a failed system call on a file, one mapping for every file the
// system writes (commit log, queues, index, metadata).
#ifndef MQ_COMMON_ERRNO_STATUS_H_
#define MQ_COMMON_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mq {

// "<what> <path>: <strerror>" with a code by `err`: ENOENT NOT_FOUND, EEXIST
// ALREADY_EXISTS, ENOSPC and EDQUOT UNAVAILABLE (a full disk: the store takes
// no writes until space is freed, and clients send elsewhere), anything else
// INTERNAL.
absl::Status ErrnoStatus(int err, absl::string_view what, absl::string_view path);

}  // namespace mq

#endif  // MQ_COMMON_ERRNO_STATUS_H_
