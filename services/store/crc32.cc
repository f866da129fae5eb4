#include "services/store/crc32.h"

#include <immintrin.h>
#include <zlib.h>

namespace mq::store {
namespace {

// The folding method of Intel's "Fast CRC Computation for Generic Polynomials
// Using PCLMULQDQ Instruction" (Gopal et al., 2009), for the bit-reflected
// polynomial 0xEDB88320. The constants are powers of x modulo the polynomial,
// bit-reflected: k1 = x^(4*128+32), k2 = x^(4*128-32) fold 512 bits at a time,
// k3 = x^(128+32), k4 = x^(128-32) fold 128 bits, k5 = x^64 folds 64 bits to
// 32, and mu / p' drive the final Barrett reduction.
constexpr int64_t kK1 = 0x154442bd4;
constexpr int64_t kK2 = 0x1c6e41596;
constexpr int64_t kK3 = 0x1751997d0;
constexpr int64_t kK4 = 0x0ccaa009e;
constexpr int64_t kK5 = 0x163cd6124;
constexpr int64_t kPolyPrime = 0x1db710641;
constexpr int64_t kMu = 0x1f7011641;

// Bytes below which the table-driven code is as fast.
constexpr size_t kMinSimdBytes = 64;

#define MQ_CRC_TARGET __attribute__((target("pclmul,sse4.1")))

MQ_CRC_TARGET inline __m128i Load(const char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// x * x^k (as two 64-bit halves times the two halves of `k`) + data.
MQ_CRC_TARGET inline __m128i Fold(__m128i x, __m128i k, __m128i data) {
  return _mm_xor_si128(
      _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), data);
}

// The raw (not inverted) CRC register after `size` bytes; size >= 64 and a
// multiple of 16.
MQ_CRC_TARGET uint32_t RawCrcPclmul(uint32_t raw, const char* p, size_t size) {
  const __m128i k1k2 = _mm_set_epi64x(kK2, kK1);
  const __m128i k3k4 = _mm_set_epi64x(kK4, kK3);
  const __m128i k5 = _mm_set_epi64x(0, kK5);
  const __m128i poly = _mm_set_epi64x(kMu, kPolyPrime);
  const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);

  __m128i x0 = _mm_xor_si128(Load(p), _mm_cvtsi32_si128(static_cast<int>(raw)));
  __m128i x1 = Load(p + 16);
  __m128i x2 = Load(p + 32);
  __m128i x3 = Load(p + 48);
  p += 64;
  size -= 64;
  // Four independent lanes keep the multiplier busy.
  while (size >= 64) {
    x0 = Fold(x0, k1k2, Load(p));
    x1 = Fold(x1, k1k2, Load(p + 16));
    x2 = Fold(x2, k1k2, Load(p + 32));
    x3 = Fold(x3, k1k2, Load(p + 48));
    p += 64;
    size -= 64;
  }
  x0 = Fold(x0, k3k4, x1);
  x0 = Fold(x0, k3k4, x2);
  x0 = Fold(x0, k3k4, x3);
  while (size >= 16) {
    x0 = Fold(x0, k3k4, Load(p));
    p += 16;
    size -= 16;
  }
  // 128 bits to 64.
  __m128i high = _mm_srli_si128(x0, 8);
  x0 = _mm_xor_si128(_mm_clmulepi64_si128(x0, k3k4, 0x10), high);
  // 64 bits to 32.
  high = _mm_srli_si128(x0, 4);
  x0 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x0, low32), k5, 0x00), high);
  // Barrett reduction to the 32-bit remainder.
  __m128i r = x0;
  x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, low32), poly, 0x10);
  x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, low32), poly, 0x00);
  return static_cast<uint32_t>(_mm_extract_epi32(_mm_xor_si128(x0, r), 1));
}

#undef MQ_CRC_TARGET

const bool kHasPclmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");

}  // namespace

uint32_t Crc32(uint32_t crc, const char* data, size_t size) {
  if (kHasPclmul && size >= kMinSimdBytes) {
    size_t bulk = size & ~size_t{15};
    crc = ~RawCrcPclmul(~crc, data, bulk);
    data += bulk;
    size -= bulk;
  }
  return static_cast<uint32_t>(crc32(crc, reinterpret_cast<const Bytef*>(data), size));
}

}  // namespace mq::store
