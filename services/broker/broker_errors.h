// The broker's errors: gRPC-style codes with the RocketMQ response code a
// client's retry rule reads (see common/status.h).
#ifndef MQ_SERVICES_BROKER_BROKER_ERRORS_H_
#define MQ_SERVICES_BROKER_BROKER_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mq::broker {

// INVALID_ARGUMENT + MESSAGE_ILLEGAL.
absl::Status IllegalMessage(absl::string_view message);
// UNAVAILABLE + SERVICE_NOT_AVAILABLE.
absl::Status ServiceNotAvailable(absl::string_view message);
// PERMISSION_DENIED + NO_PERMISSION.
absl::Status NoPermission(absl::string_view message);

// A failed store call as the broker reports it: the same code, the message
// prefixed with `what`, and a response code if it has none (UNAVAILABLE and
// DEADLINE_EXCEEDED: SERVICE_NOT_AVAILABLE; RESOURCE_EXHAUSTED: SYSTEM_BUSY;
// NOT_FOUND: none; anything else: SYSTEM_ERROR).
absl::Status StoreCallError(absl::string_view what, const absl::Status& status);

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_BROKER_ERRORS_H_
