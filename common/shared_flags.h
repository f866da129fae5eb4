// Flags that mean the same to a broker and its store, defined once so a
// process hosting both (the standalone server) has one of each.
#ifndef MQ_COMMON_SHARED_FLAGS_H_
#define MQ_COMMON_SHARED_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"

// ASYNC_MASTER, SYNC_MASTER or SLAVE.
ABSL_DECLARE_FLAG(std::string, role);
// Largest message body in bytes.
ABSL_DECLARE_FLAG(int64_t, max_message_size);

#endif  // MQ_COMMON_SHARED_FLAGS_H_
