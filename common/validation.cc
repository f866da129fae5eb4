#include "common/validation.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mq {

bool HasOnlyValidNameChars(absl::string_view name) {
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '%' || c == '|' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

absl::Status ValidateNameWithLimit(absl::string_view what, absl::string_view name, size_t limit) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  if (name.size() > limit) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s is %d characters, longer than the limit %d", what, name.size(), limit));
  }
  if (!HasOnlyValidNameChars(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", name, "\" has characters outside [%|a-zA-Z0-9_-]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTopic(absl::string_view topic) {
  return ValidateNameWithLimit("topic", topic, kMaxTopicLength);
}

absl::Status ValidateName(absl::string_view what, absl::string_view name) {
  return ValidateNameWithLimit(what, name, kMaxNameLength);
}

absl::Status ValidateGroup(absl::string_view group) {
  return ValidateNameWithLimit("group", group, kMaxGroupLength);
}

absl::Status ValidateQueueNums(absl::string_view what, int32_t nums) {
  if (nums <= 0 || nums > kMaxQueueNums) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s is %d, must be in 1..%d", what, nums, kMaxQueueNums));
  }
  return absl::OkStatus();
}

absl::Status ValidateQueueId(int32_t queue_id) {
  if (queue_id < 0 || queue_id >= kMaxQueueNums) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "queue id %d is out of range, must be in 0..%d", queue_id, kMaxQueueNums - 1));
  }
  return absl::OkStatus();
}

absl::Status ValidateBrokerId(int64_t broker_id) {
  if (broker_id < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("broker id is %d, must be >= 0 (0 is the master)", broker_id));
  }
  return absl::OkStatus();
}

absl::Status ValidateAddress(absl::string_view what, absl::string_view address) {
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", address, "\" is not host:port with a port in 1..65535"));
  }
  return absl::OkStatus();
}

}  // namespace mq
