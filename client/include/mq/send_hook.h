// Hooks that see every send attempt (for tracing, metrics, auditing).
#ifndef MQ_CLIENT_INCLUDE_MQ_SEND_HOOK_H_
#define MQ_CLIENT_INCLUDE_MQ_SEND_HOOK_H_

#include <string>

#include "absl/status/statusor.h"
#include "mq/message.h"
#include "mq/message_queue.h"
#include "mq/send_result.h"

namespace mq {

enum class SendMode { kSync, kAsync, kOneway };

// One attempt of one send. Pointers are valid only during the hook call.
struct SendContext {
  const std::string* producer_group = nullptr;
  // The message as the application passed it (for a batch, its first message).
  const Message* message = nullptr;
  // The unique id the message is sent with (for a batch, the ids joined by ',').
  std::string msg_id;
  SendMode mode = SendMode::kSync;
  // The queue and the broker (master) address of this attempt.
  MessageQueue queue;
  std::string broker_address;
  // 0 for the first attempt, 1 for the first retry, ...
  int attempt = 0;
};

// Hooks run on the thread that runs the attempt (a gRPC callback thread for
// async retries and outcomes), so they must be thread-safe and quick. A hook
// cannot change or stop the send.
class SendHook {
 public:
  virtual ~SendHook() = default;
  virtual void BeforeSend(const SendContext& context) = 0;
  // `result` is the outcome of this attempt (a oneway send reports only whether
  // the RPC itself succeeded, with an empty SendResult).
  virtual void AfterSend(const SendContext& context, const absl::StatusOr<SendResult>& result) = 0;
};

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_SEND_HOOK_H_
