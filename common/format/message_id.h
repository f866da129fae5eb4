// Host addresses as records hold them and the message ids made from them:
// RocketMQ's offset message id (store host + commit-log offset) and the
// layout of the producer's unique id (UNIQ_KEY).
#ifndef MQ_COMMON_FORMAT_MESSAGE_ID_H_
#define MQ_COMMON_FORMAT_MESSAGE_ID_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mq::format {

// An IPv4 host as stored: the address in host byte order (127.0.0.1 is
// 0x7F000001) and the port.
struct HostAddress {
  uint32_t ip = 0;
  int32_t port = 0;

  friend bool operator==(const HostAddress& a, const HostAddress& b) {
    return a.ip == b.ip && a.port == b.port;
  }
};

// Parses "a.b.c.d:port"; INVALID_ARGUMENT otherwise (IPv6 is not supported).
absl::StatusOr<HostAddress> ParseHostAddress(absl::string_view host_port);
// "a.b.c.d:port".
std::string HostAddressToString(const HostAddress& host);

// RocketMQ's offset message id: 32 upper-case hex digits of the store IP (4
// bytes), port (4 bytes) and physical offset (8 bytes).
std::string MakeOffsetMessageId(const HostAddress& store_host, int64_t physical_offset);

struct OffsetMessageId {
  HostAddress store_host;
  int64_t physical_offset = 0;
};

// Parses an offset message id (hex digits of either case); INVALID_ARGUMENT
// otherwise.
absl::StatusOr<OffsetMessageId> ParseOffsetMessageId(absl::string_view id);

// The parts of a producer's unique id, 16 bytes as 32 upper-case hex digits:
//   ipv4 (4) | pid, low 16 bits (2) | random per process (4) |
//   milliseconds since the start of the UTC month (4) | counter (2).
struct UniqueMessageId {
  uint32_t ipv4 = 0;
  uint16_t pid = 0;
  uint32_t random = 0;
  uint32_t ms_of_month = 0;
  uint16_t counter = 0;
};

// Splits a unique id (hex digits of either case); INVALID_ARGUMENT if `id` is
// not 32 hex digits.
absl::StatusOr<UniqueMessageId> ParseUniqueMessageId(absl::string_view id);

}  // namespace mq::format

#endif  // MQ_COMMON_FORMAT_MESSAGE_ID_H_
