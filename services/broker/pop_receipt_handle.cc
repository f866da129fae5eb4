#include "services/broker/pop_receipt_handle.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/validation.h"

namespace mq::broker {

namespace {
constexpr absl::string_view kVersion = "1";
}  // namespace

std::string EncodeReceiptHandle(const ReceiptHandle& handle) {
  return absl::StrCat(kVersion, ":", handle.broker_name, ":", handle.topic, ":", handle.queue_id,
                      ":", handle.queue_offset, ":", handle.delivery_id);
}

absl::Status InvalidReceiptHandle(absl::string_view handle, absl::string_view why) {
  return WithResponseCode(
      absl::InvalidArgumentError(absl::StrCat("receipt handle ", QuoteInput(handle), ": ", why)),
      common::v1::INVALID_RECEIPT_HANDLE);
}

absl::StatusOr<ReceiptHandle> DecodeReceiptHandle(absl::string_view text) {
  if (text.empty()) return InvalidReceiptHandle(text, "is empty");
  if (text.size() > kMaxReceiptHandleBytes) {
    return InvalidReceiptHandle(text,
                                absl::StrCat("is longer than ", kMaxReceiptHandleBytes, " bytes"));
  }
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() != 6 || parts[0] != kVersion) {
    return InvalidReceiptHandle(text, "is not a receipt handle of this broker's format");
  }
  ReceiptHandle handle;
  handle.broker_name = std::string(parts[1]);
  handle.topic = std::string(parts[2]);
  if (!ValidateName("broker name", handle.broker_name).ok() || !ValidateTopic(handle.topic).ok() ||
      !absl::SimpleAtoi(parts[3], &handle.queue_id) || !ValidateQueueId(handle.queue_id).ok() ||
      !absl::SimpleAtoi(parts[4], &handle.queue_offset) || handle.queue_offset < 0 ||
      !absl::SimpleAtoi(parts[5], &handle.delivery_id) || handle.delivery_id <= 0) {
    return InvalidReceiptHandle(text, "does not parse");
  }
  return handle;
}

}  // namespace mq::broker
