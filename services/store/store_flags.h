// Command-line flags of a store, shared by the store binary and the
// standalone server, and their translation into MessageStoreOptions.
#ifndef MQ_SERVICES_STORE_STORE_FLAGS_H_
#define MQ_SERVICES_STORE_STORE_FLAGS_H_

#include "absl/status/statusor.h"
#include "services/store/message_store.h"

namespace mq::store {

// Options from the --data_dir, --commit_log_file_size, --flush_disk_type, ...
// flags; INVALID_ARGUMENT naming the flag for a bad value.
absl::StatusOr<MessageStoreOptions> MessageStoreOptionsFromFlags();

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_STORE_FLAGS_H_
