#include "client/src/message_id_generator.h"

#include <unistd.h>

#include <cstring>

#include "absl/random/random.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "client/src/local_address.h"

namespace mq::client_internal {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";

void PutHex(uint64_t value, int bytes, char* out) {
  for (int i = bytes * 2 - 1; i >= 0; --i) {
    out[i] = kHexDigits[value & 0xF];
    value >>= 4;
  }
}

}  // namespace

MessageIdGenerator::MessageIdGenerator(uint32_t ipv4, uint16_t pid, uint32_t random) {
  PutHex(ipv4, 4, prefix_hex_);
  PutHex(pid, 2, prefix_hex_ + 8);
  PutHex(random, 4, prefix_hex_ + 12);
}

MessageIdGenerator& MessageIdGenerator::Default() {
  static MessageIdGenerator* const generator = [] {
    absl::BitGen gen;
    uint32_t ipv4 = ParseIpv4(LocalIpv4Address()).value_or(0x7F000001);
    return new MessageIdGenerator(ipv4, static_cast<uint16_t>(getpid()),
                                  absl::Uniform<uint32_t>(gen));
  }();
  return *generator;
}

uint32_t MessageIdGenerator::MsOfMonth(int64_t unix_ms) {
  {
    absl::ReaderMutexLock lock(&month_mu_);
    if (unix_ms >= month_start_ms_ && unix_ms < next_month_start_ms_) {
      return static_cast<uint32_t>(unix_ms - month_start_ms_);
    }
  }
  absl::MutexLock lock(&month_mu_);
  if (unix_ms < month_start_ms_ || unix_ms >= next_month_start_ms_) {
    const absl::CivilMonth month =
        absl::ToCivilMonth(absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
    month_start_ms_ = absl::ToUnixMillis(absl::FromCivil(month, absl::UTCTimeZone()));
    next_month_start_ms_ = absl::ToUnixMillis(absl::FromCivil(month + 1, absl::UTCTimeZone()));
  }
  return static_cast<uint32_t>(unix_ms - month_start_ms_);
}

std::string MessageIdGenerator::Next() {
  const uint64_t floor = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())) << 16;
  uint64_t previous = clock_and_counter_.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = previous + 1 > floor ? previous + 1 : floor;
  } while (!clock_and_counter_.compare_exchange_weak(previous, next, std::memory_order_relaxed));

  std::string id(32, '0');
  std::memcpy(&id[0], prefix_hex_, sizeof(prefix_hex_));
  PutHex(MsOfMonth(static_cast<int64_t>(next >> 16)), 4, &id[20]);
  PutHex(next & 0xFFFF, 2, &id[28]);
  return id;
}

}  // namespace mq::client_internal
