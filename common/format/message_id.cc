#include "common/format/message_id.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/validation.h"

namespace mq::format {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The bytes of `id`, which must be `words * 16` hex digits, as 64-bit words;
// false on a non-hex character.
bool HexWords(absl::string_view id, uint64_t* words) {
  for (size_t i = 0; i < id.size(); ++i) {
    int v = HexValue(id[i]);
    if (v < 0) return false;
    words[i / 16] = (words[i / 16] << 4) | static_cast<uint64_t>(v);
  }
  return true;
}

}  // namespace

absl::StatusOr<HostAddress> ParseHostAddress(absl::string_view host_port) {
  size_t colon = host_port.rfind(':');
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("bad host address \"", host_port, "\": want a.b.c.d:port (IPv4)"));
  };
  if (colon == absl::string_view::npos) return bad();
  int32_t port = 0;
  if (!absl::SimpleAtoi(host_port.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return bad();
  }
  std::vector<absl::string_view> parts = absl::StrSplit(host_port.substr(0, colon), '.');
  if (parts.size() != 4) return bad();
  uint32_t ip = 0;
  for (absl::string_view part : parts) {
    uint32_t octet = 0;
    if (part.empty() || part.size() > 3 || !absl::SimpleAtoi(part, &octet) || octet > 255) {
      return bad();
    }
    ip = (ip << 8) | octet;
  }
  return HostAddress{ip, port};
}

std::string HostAddressToString(const HostAddress& host) {
  // StrCat, not StrFormat: this runs for every message a consumer reads.
  return absl::StrCat(host.ip >> 24, ".", (host.ip >> 16) & 0xFF, ".", (host.ip >> 8) & 0xFF, ".",
                      host.ip & 0xFF, ":", host.port);
}

std::string MakeOffsetMessageId(const HostAddress& store_host, int64_t physical_offset) {
  // "%08X%08X%016X" by hand: this runs for every message a consumer reads.
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string id(32, '0');
  auto put = [&](uint64_t value, int end, int digits) {
    for (int i = 0; i < digits; ++i, value >>= 4) id[end - 1 - i] = kDigits[value & 0xF];
  };
  put(store_host.ip, 8, 8);
  put(static_cast<uint32_t>(store_host.port), 16, 8);
  put(static_cast<uint64_t>(physical_offset), 32, 16);
  return id;
}

absl::StatusOr<OffsetMessageId> ParseOffsetMessageId(absl::string_view id) {
  if (id.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset message id ", QuoteInput(id), " is not 32 hex digits"));
  }
  uint64_t words[2] = {0, 0};
  if (!HexWords(id, words)) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset message id ", QuoteInput(id), " has a non-hex character"));
  }
  OffsetMessageId result;
  result.store_host.ip = static_cast<uint32_t>(words[0] >> 32);
  result.store_host.port = static_cast<int32_t>(words[0] & 0xFFFFFFFF);
  result.physical_offset = static_cast<int64_t>(words[1]);
  return result;
}

absl::StatusOr<UniqueMessageId> ParseUniqueMessageId(absl::string_view id) {
  uint64_t words[2] = {0, 0};
  if (id.size() != 32 || !HexWords(id, words)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unique message id ", QuoteInput(id), " is not 32 hex digits"));
  }
  UniqueMessageId result;
  result.ipv4 = static_cast<uint32_t>(words[0] >> 32);
  result.pid = static_cast<uint16_t>(words[0] >> 16);
  result.random = static_cast<uint32_t>((words[0] & 0xFFFF) << 16 | words[1] >> 48);
  result.ms_of_month = static_cast<uint32_t>(words[1] >> 16);
  result.counter = static_cast<uint16_t>(words[1]);
  return result;
}

}  // namespace mq::format
