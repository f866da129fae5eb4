// Big-endian (network order) loads and stores of fixed-width integers at
// unaligned addresses, for the store's on-disk formats (consume queue units,
// index files, the metadata file), which are big-endian like RocketMQ's so
// files move between hosts unchanged.
#ifndef MQ_SERVICES_STORE_BIG_ENDIAN_H_
#define MQ_SERVICES_STORE_BIG_ENDIAN_H_

#include <cstdint>

namespace mq::store {

inline void StoreBigEndian32(char* dest, uint32_t value) {
  for (int i = 3; i >= 0; --i) {
    dest[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
}

inline void StoreBigEndian64(char* dest, uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    dest[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
}

inline uint32_t LoadBigEndian32(const char* src) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(src[i]);
  return value;
}

inline uint64_t LoadBigEndian64(const char* src) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(src[i]);
  return value;
}

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_BIG_ENDIAN_H_
