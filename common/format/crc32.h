// CRC-32 (the zlib / IEEE 802.3 polynomial, reflected), computed with the
// carry-less multiply instruction (PCLMULQDQ) where the CPU has it and eight
// bytes per step from tables otherwise and for the last few bytes: several
// times faster than zlib's crc32(), which feeds short inputs a byte at a
// time. Results are identical to zlib's, so the two can be mixed.
//
// Thread-safe.
#ifndef MQ_COMMON_FORMAT_CRC32_H_
#define MQ_COMMON_FORMAT_CRC32_H_

#include <cstddef>
#include <cstdint>

namespace mq::format {

// Extends `crc` (0 to start) over `size` bytes at `data`, as zlib's
// crc32(crc, data, size).
uint32_t Crc32(uint32_t crc, const char* data, size_t size);

// The CRC of A followed by B from crc1 = Crc32(0, A), crc2 = Crc32(0, B) and
// size2 = B's size, as zlib's crc32_combine: without reading B again.
uint32_t Crc32Combine(uint32_t crc1, uint32_t crc2, size_t size2);

}  // namespace mq::format

#endif  // MQ_COMMON_FORMAT_CRC32_H_
