// POP's receipt handle (proto/broker.proto, "POP consumption"): what a popped
// message's delivery is known by. Printable, colon-separated:
//   "1:<broker name>:<topic>:<queue id>:<queue offset>:<delivery id>"
// where topic is the queue the message was read from (the topic, or the
// group's %RETRY% topic) and delivery id names this one delivery (a later
// delivery or ChangeInvisibleTime of the same message gets another). Names
// cannot contain ':' (common/validation.h), so the fields split cleanly.
#ifndef MQ_SERVICES_BROKER_POP_RECEIPT_HANDLE_H_
#define MQ_SERVICES_BROKER_POP_RECEIPT_HANDLE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mq::broker {

// Longest handle a client may send (proto: at most 512 bytes).
inline constexpr size_t kMaxReceiptHandleBytes = 512;

struct ReceiptHandle {
  std::string broker_name;
  std::string topic;
  int32_t queue_id = 0;
  int64_t queue_offset = 0;
  int64_t delivery_id = 0;
};

std::string EncodeReceiptHandle(const ReceiptHandle& handle);

// INVALID_ARGUMENT + INVALID_RECEIPT_HANDLE when `text` is not a handle.
absl::StatusOr<ReceiptHandle> DecodeReceiptHandle(absl::string_view text);

// INVALID_ARGUMENT + INVALID_RECEIPT_HANDLE: `handle` (quoted) and why.
absl::Status InvalidReceiptHandle(absl::string_view handle, absl::string_view why);

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_POP_RECEIPT_HANDLE_H_
