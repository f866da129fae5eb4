// The broker's response codes (RocketMQ's ResponseCode), as errors of this
// library carry them. Every absl::Status the client returns keeps its gRPC
// code (UNAVAILABLE, INVALID_ARGUMENT, ...); an error a broker or name server
// answered also carries one of these:
//
//   absl::StatusOr<mq::SendResult> sent = producer.Send(message);
//   if (mq::ResponseCodeOf(sent.status()) == mq::ResponseCode::kTopicNotExist) ...
#ifndef MQ_CLIENT_INCLUDE_MQ_ERROR_CODE_H_
#define MQ_CLIENT_INCLUDE_MQ_ERROR_CODE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace mq {

// The values are RocketMQ's (and the wire's).
enum class ResponseCode : int32_t {
  kSuccess = 0,
  kSystemError = 1,
  // Overloaded: a request waited too long in the broker's queue.
  kSystemBusy = 2,
  kRequestCodeNotSupported = 3,
  // Stored, but not flushed to disk within the sync-flush timeout.
  kFlushDiskTimeout = 10,
  // Stored on the master, but no slave is connected or it lags too far.
  kSlaveNotAvailable = 11,
  // Stored on the master, but no slave acknowledged it in time.
  kFlushSlaveTimeout = 12,
  // Bad message: empty body, too large, bad topic name, oversized properties.
  kMessageIllegal = 13,
  // The broker cannot take writes now: a slave, shutting down, or disk full.
  kServiceNotAvailable = 14,
  kVersionNotSupported = 15,
  // The topic or broker does not allow the operation (permission bits).
  kNoPermission = 16,
  kTopicNotExist = 17,
  kTopicExistAlready = 18,
  kPullNotFound = 19,
  kPullRetryImmediately = 20,
  kPullOffsetMoved = 21,
  kQueryNotFound = 22,
  kSubscriptionParseFailed = 23,
  kSubscriptionNotExist = 24,
  kSubscriptionNotLatest = 25,
  kSubscriptionGroupNotExist = 26,
  kConsumerNotOnline = 206,
  // POP: the receipt handle is spent (acked, expired, replaced) or not one.
  kInvalidReceiptHandle = 212,
};

// The response code `status` carries, if any (none for OK, for errors of the
// transport, and for errors the client found itself).
absl::optional<ResponseCode> ResponseCodeOf(const absl::Status& status);

// "TOPIC_NOT_EXIST", ...; "UNKNOWN" for a value not listed.
absl::string_view ResponseCodeName(ResponseCode code);

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_ERROR_CODE_H_
