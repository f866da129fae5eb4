#include "common/validation.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace mq {

std::string QuoteInput(absl::string_view input) {
  constexpr size_t kMaxQuoted = 64;
  std::string quoted = absl::StrCat(
      "\"", absl::CHexEscape(input.substr(0, std::min(input.size(), kMaxQuoted))), "\"");
  if (input.size() > kMaxQuoted) absl::StrAppend(&quoted, "... (", input.size(), " bytes)");
  return quoted;
}

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
        absl::StrCat(what, " ", QuoteInput(name), " has characters outside [%|a-zA-Z0-9_-]"));
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

namespace {

bool IsDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsValidIpv4(absl::string_view host) {
  std::vector<absl::string_view> parts = absl::StrSplit(host, '.');
  if (parts.size() != 4) return false;
  for (absl::string_view part : parts) {
    int value = 0;
    if (!IsDigits(part) || part.size() > 3 || !absl::SimpleAtoi(part, &value) || value > 255) {
      return false;
    }
  }
  return true;
}

bool IsValidDnsName(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  bool all_numeric = true;
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && c != '-') return false;
    }
    all_numeric = all_numeric && IsDigits(label);
  }
  // "999.1.1.1" is a broken IPv4 address, not a name.
  return !all_numeric;
}

bool IsValidBracketedIpv6(absl::string_view host) {
  if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
  absl::string_view inner = host.substr(1, host.size() - 2);
  if (inner.find(':') == absl::string_view::npos) return false;
  return std::all_of(inner.begin(), inner.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
  });
}

}  // namespace

absl::Status ValidateAddress(absl::string_view what, absl::string_view address) {
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 || !IsDigits(address.substr(colon + 1)) ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", QuoteInput(address), " is not host:port with a port in 1..65535"));
  }
  absl::string_view host = address.substr(0, colon);
  if (!IsValidIpv4(host) && !IsValidDnsName(host) && !IsValidBracketedIpv6(host)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", QuoteInput(address),
                     " has a host that is neither an IPv4 address, a DNS name nor [IPv6]"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTopicAttribute(absl::string_view key, absl::string_view value) {
  if (key != kTopicMessageTypeAttribute) {
    return absl::InvalidArgumentError(absl::StrCat("topic attribute ", QuoteInput(key),
                                                   " is unknown; the one known is ",
                                                   kTopicMessageTypeAttribute));
  }
  std::string upper = absl::AsciiStrToUpper(value);
  for (absl::string_view known : {"NORMAL", "FIFO", "DELAY", "TRANSACTION", "MIXED"}) {
    if (upper == known) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("topic attribute ", kTopicMessageTypeAttribute, " is ", QuoteInput(value),
                   ", not NORMAL, FIFO, DELAY, TRANSACTION or MIXED"));
}

}  // namespace mq
