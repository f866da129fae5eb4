// Big-endian (network order) loads and stores of fixed-width integers at
// unaligned addresses, for the on-disk and wire formats (commit-log records,
// consume queue units, index files, the metadata file), which are big-endian
// like RocketMQ's so files move between hosts unchanged.
#ifndef MQ_COMMON_FORMAT_BIG_ENDIAN_H_
#define MQ_COMMON_FORMAT_BIG_ENDIAN_H_

#include <cstdint>
#include <cstring>

namespace mq::format {

inline void StoreBigEndian16(char* dest, uint16_t value) {
  value = __builtin_bswap16(value);
  std::memcpy(dest, &value, sizeof(value));
}

inline void StoreBigEndian32(char* dest, uint32_t value) {
  value = __builtin_bswap32(value);
  std::memcpy(dest, &value, sizeof(value));
}

inline void StoreBigEndian64(char* dest, uint64_t value) {
  value = __builtin_bswap64(value);
  std::memcpy(dest, &value, sizeof(value));
}

inline uint16_t LoadBigEndian16(const char* src) {
  uint16_t value;
  std::memcpy(&value, src, sizeof(value));
  return __builtin_bswap16(value);
}

inline uint32_t LoadBigEndian32(const char* src) {
  uint32_t value;
  std::memcpy(&value, src, sizeof(value));
  return __builtin_bswap32(value);
}

inline uint64_t LoadBigEndian64(const char* src) {
  uint64_t value;
  std::memcpy(&value, src, sizeof(value));
  return __builtin_bswap64(value);
}

}  // namespace mq::format

#endif  // MQ_COMMON_FORMAT_BIG_ENDIAN_H_
