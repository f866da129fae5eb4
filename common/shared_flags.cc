#include "common/shared_flags.h"

#include <unistd.h>

#include "absl/flags/flag.h"
#include "common/format/record_format.h"
#include "common/validation.h"

ABSL_FLAG(std::string, role, "ASYNC_MASTER",
          "ASYNC_MASTER, SYNC_MASTER (a send returns once a slave has it) or SLAVE.");
ABSL_FLAG(int64_t, max_message_size, mq::format::kDefaultMaxMessageBodyBytes,
          "Largest message body in bytes (4 MiB).");
ABSL_FLAG(std::string, broker_name, "",
          "Name of the broker group (master and slaves); default: the host name.");
ABSL_FLAG(int64_t, broker_id, 0, "0 for the master, > 0 for a slave.");

namespace mq {

std::string BrokerNameFromFlags() {
  std::string name = absl::GetFlag(FLAGS_broker_name);
  if (!name.empty()) return name;
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') return "broker-a";
  name = buffer;
  for (char& c : name) {
    if (!HasOnlyValidNameChars(absl::string_view(&c, 1))) c = '-';
  }
  return name.substr(0, kMaxNameLength);
}

}  // namespace mq
