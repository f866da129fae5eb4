// CRC-32 (the zlib / IEEE 802.3 polynomial, reflected), computed with the
// carry-less multiply instruction (PCLMULQDQ) where the CPU has it, several
// times faster than zlib's table-driven crc32(). Results are identical to
// zlib's, so the two can be mixed.
//
// Thread-safe.
#ifndef MQ_SERVICES_STORE_CRC32_H_
#define MQ_SERVICES_STORE_CRC32_H_

#include <cstddef>
#include <cstdint>

namespace mq::store {

// Extends `crc` (0 to start) over `size` bytes at `data`, as zlib's
// crc32(crc, data, size).
uint32_t Crc32(uint32_t crc, const char* data, size_t size);

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_CRC32_H_
