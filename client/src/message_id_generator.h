// The producer-side unique message id (UNIQ_KEY) generator; the id's layout
// and parser are in common/format/message_id.h.
#ifndef MQ_CLIENT_SRC_MESSAGE_ID_GENERATOR_H_
#define MQ_CLIENT_SRC_MESSAGE_ID_GENERATOR_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq::client_internal {

// 16 bytes as 32 upper-case hex characters:
//   ipv4 (4) | pid, low 16 bits (2) | random per generator (4) |
//   milliseconds since the start of the UTC month (4) | counter (2).
// The last 6 bytes come from one 64-bit value, (Unix ms << 16 | counter), that
// advances atomically to max(previous + 1, now << 16): ids from one generator
// never repeat, even at more than 65536 ids per millisecond (the time part then
// runs a little ahead of the clock). Thread-safe.
class MessageIdGenerator {
 public:
  MessageIdGenerator(uint32_t ipv4, uint16_t pid, uint32_t random);

  // The process-wide generator (local IPv4 address, pid, random seed).
  static MessageIdGenerator& Default();

  std::string Next() ABSL_LOCKS_EXCLUDED(month_mu_);

 private:
  // Milliseconds from the start of the UTC month that holds `unix_ms`.
  uint32_t MsOfMonth(int64_t unix_ms) ABSL_LOCKS_EXCLUDED(month_mu_);

  char prefix_hex_[20];
  std::atomic<uint64_t> clock_and_counter_{0};
  absl::Mutex month_mu_;
  int64_t month_start_ms_ ABSL_GUARDED_BY(month_mu_) = 0;
  int64_t next_month_start_ms_ ABSL_GUARDED_BY(month_mu_) = 0;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_MESSAGE_ID_GENERATOR_H_
