// Command-line flags of a broker, shared by the broker binary and the
// standalone server, and their translation into BrokerOptions.
#ifndef MQ_SERVICES_BROKER_BROKER_FLAGS_H_
#define MQ_SERVICES_BROKER_BROKER_FLAGS_H_

#include "absl/status/statusor.h"
#include "services/broker/broker.h"

namespace mq::broker {

// Options from --broker_name, --cluster_name, --namesrv_addr, ... (and the
// shared --role and --max_message_size); INVALID_ARGUMENT naming the flag for
// a bad value. The store and HA addresses are the caller's to fill in.
absl::StatusOr<BrokerOptions> BrokerOptionsFromFlags();

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_BROKER_FLAGS_H_
