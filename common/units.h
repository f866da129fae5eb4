// Size literals, as in Redpanda: `4_MiB` is 4 * 1024 * 1024 bytes, an
// int64_t (the type of the tree's byte counts and size flags).
#ifndef MQ_COMMON_UNITS_H_
#define MQ_COMMON_UNITS_H_

#include <cstdint>

namespace mq {

constexpr int64_t operator""_KiB(unsigned long long n) {  // NOLINT(runtime/int)
  return static_cast<int64_t>(n) << 10;
}
constexpr int64_t operator""_MiB(unsigned long long n) {  // NOLINT(runtime/int)
  return static_cast<int64_t>(n) << 20;
}
constexpr int64_t operator""_GiB(unsigned long long n) {  // NOLINT(runtime/int)
  return static_cast<int64_t>(n) << 30;
}

}  // namespace mq

#endif  // MQ_COMMON_UNITS_H_
