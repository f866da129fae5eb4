// The callback of an asynchronous send.
#ifndef MQ_CLIENT_INCLUDE_MQ_SEND_CALLBACK_H_
#define MQ_CLIENT_INCLUDE_MQ_SEND_CALLBACK_H_

#include <functional>

#include "absl/status/statusor.h"
#include "mq/send_result.h"

namespace mq {

// Receives the outcome of an asynchronous send exactly once: the SendResult, or
// the error left after the async retries. Runs on a gRPC callback thread, or on
// the calling thread when the send fails before any RPC starts (bad message, no
// route); it should return quickly and must not call Producer::Shutdown().
using SendCallback = std::function<void(absl::StatusOr<SendResult>)>;

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_SEND_CALLBACK_H_
