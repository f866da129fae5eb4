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
// The broker group (master and slaves); empty means the host name (see
// mq::BrokerNameFromFlags). A slave store names it to its master.
ABSL_DECLARE_FLAG(std::string, broker_name);
// 0 for a master, > 0 for a slave.
ABSL_DECLARE_FLAG(int64_t, broker_id);

namespace mq {

// --broker_name, or the host name (with characters a broker name cannot have
// replaced by '-') when it is empty.
std::string BrokerNameFromFlags();

}  // namespace mq

#endif  // MQ_COMMON_SHARED_FLAGS_H_
