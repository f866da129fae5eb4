// Command-line flags of a name server, shared by the namesrv binary and the
// standalone server, and their translation into NameServerOptions.
#ifndef MQ_SERVICES_NAMESRV_NAME_SERVER_FLAGS_H_
#define MQ_SERVICES_NAMESRV_NAME_SERVER_FLAGS_H_

#include "absl/status/statusor.h"
#include "services/namesrv/name_server.h"

namespace mq::namesrv {

// Options from --broker_expiry and --scan_interval; INVALID_ARGUMENT for a
// non-positive duration.
absl::StatusOr<NameServerOptions> NameServerOptionsFromFlags();

}  // namespace mq::namesrv

#endif  // MQ_SERVICES_NAMESRV_NAME_SERVER_FLAGS_H_
