#include "common/shared_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, role, "ASYNC_MASTER",
          "ASYNC_MASTER, SYNC_MASTER (a send returns once a slave has it) or SLAVE.");
ABSL_FLAG(int64_t, max_message_size, 4 << 20, "Largest message body in bytes (4 MiB).");
