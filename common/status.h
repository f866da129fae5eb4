// Errors as absl::Status inside the system; gRPC statuses with a RocketMQ-like
// response code on the wire.
//
// A server attaches the response code as trailing metadata `mq-response-code`;
// a client reads it back into the absl::Status payload of the same name, so the
// retry rules can look at it.
#ifndef MQ_COMMON_STATUS_H_
#define MQ_COMMON_STATUS_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "proto/broker.pb.h"
#include "proto/common.pb.h"

namespace mq {

// The metadata key and absl::Status payload type URL carrying a ResponseCode.
inline constexpr absl::string_view kResponseCodeKey = "mq-response-code";

// Returns `status` with `code` attached. `status` must not be OK.
absl::Status WithResponseCode(absl::Status status, common::v1::ResponseCode code);

// The response code attached to `status`, if any.
absl::optional<common::v1::ResponseCode> GetResponseCode(const absl::Status& status);

// The response code an error carries when its code path attached none, from
// its canonical code (RocketMQ's choices): UNAVAILABLE and DEADLINE_EXCEEDED
// SERVICE_NOT_AVAILABLE, RESOURCE_EXHAUSTED SYSTEM_BUSY, PERMISSION_DENIED and
// UNAUTHENTICATED NO_PERMISSION, NOT_FOUND QUERY_NOT_FOUND, UNIMPLEMENTED
// REQUEST_CODE_NOT_SUPPORTED, anything else (bad arguments included)
// SYSTEM_ERROR.
common::v1::ResponseCode DefaultResponseCode(absl::StatusCode code);

// An error message is cut to this many bytes on the wire ("... (N bytes)"
// follows), so no input an error quotes can make it too large to deliver
// (gRPC's metadata limit is 8 KiB by default).
inline constexpr size_t kMaxErrorMessageBytes = 2048;

// `message` cut to kMaxErrorMessageBytes.
std::string BoundedMessage(absl::string_view message);

// Converts for the wire; attaches the response code (its own, else
// DefaultResponseCode()) as trailing metadata of `context`, so every error a
// server answers carries one.
grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContextBase* context);

// Converts a finished call's status back, reading the response code from the
// trailing metadata of `context`.
absl::Status FromGrpcStatus(const grpc::Status& status, const grpc::ClientContext& context);

// Converts without metadata (for calls whose context is gone).
absl::Status FromGrpcStatus(const grpc::Status& status);

// `to` with the payloads of `from` (the response code among them) added.
absl::Status WithPayloadsOf(const absl::Status& from, absl::Status to);

// `status` with `prefix` put before its message, payloads (the response code)
// kept; OK stays OK.
absl::Status PrefixStatus(absl::string_view prefix, const absl::Status& status);

// The in-band error of one send on a send stream: `status` (not OK) with its
// response code, if it has one.
broker::v1::SendError ToSendError(const absl::Status& status);

// The status a SendError carries; INTERNAL when its code is OK (an answer
// that is neither a response nor an error).
absl::Status FromSendError(const broker::v1::SendError& error);

}  // namespace mq

#endif  // MQ_COMMON_STATUS_H_
