#include "common/format/crc32.h"

#include <immintrin.h>

#include <cstring>

namespace mq::format {
namespace {

// The polynomial, bit-reflected: bit i holds the coefficient of x^(31-i).
constexpr uint32_t kPolynomial = 0xEDB88320;

// Slicing-by-8 tables: kTables.t[0][n] is the register after feeding byte n
// to a zero register, and t[k][n] the same followed by k zero bytes, so eight
// bytes are fed with eight independent lookups.
struct Tables {
  uint32_t t[8][256];
};

constexpr Tables MakeTables() {
  Tables tables{};
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t r = n;
    for (int bit = 0; bit < 8; ++bit) r = (r & 1) != 0 ? (r >> 1) ^ kPolynomial : r >> 1;
    tables.t[0][n] = r;
  }
  for (int k = 1; k < 8; ++k) {
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t previous = tables.t[k - 1][n];
      tables.t[k][n] = (previous >> 8) ^ tables.t[0][previous & 0xff];
    }
  }
  return tables;
}

constexpr Tables kTables = MakeTables();

// r(x) * x^32 mod P: the register after feeding four zero bytes.
uint32_t TimesX32(uint32_t r) {
  const auto& t = kTables.t;
  return t[3][r & 0xff] ^ t[2][(r >> 8) & 0xff] ^ t[1][(r >> 16) & 0xff] ^ t[0][r >> 24];
}

// The raw register after feeding `size` bytes, eight at a time.
uint32_t RawCrcTable(uint32_t raw, const char* p, size_t size) {
  const auto& t = kTables.t;
  while (size >= 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));  // little-endian: p[0] is the low byte
    v ^= raw;
    raw = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^ t[4][(v >> 24) & 0xff] ^
          t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^ t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
    p += 8;
    size -= 8;
  }
  if (size >= 4) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    raw = TimesX32(raw ^ v);
    p += 4;
    size -= 4;
  }
  while (size-- > 0) raw = (raw >> 8) ^ t[0][(raw ^ static_cast<uint8_t>(*p++)) & 0xff];
  return raw;
}

// a(x) * b(x) mod P, one bit at a time (the fallback, and for the constants).
constexpr uint32_t MultiplyBitwise(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = uint32_t{1} << 31; m != 0; m >>= 1) {
    if ((a & m) != 0) product ^= b;
    b = (b & 1) != 0 ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// kPowers[k] = x^(2^k) mod P. x^1 is bit 30.
struct Powers {
  uint32_t x2k[64];
};

constexpr Powers MakePowers() {
  Powers powers{};
  powers.x2k[0] = uint32_t{1} << 30;
  for (int k = 1; k < 64; ++k)
    powers.x2k[k] = MultiplyBitwise(powers.x2k[k - 1], powers.x2k[k - 1]);
  return powers;
}

constexpr Powers kPowers = MakePowers();

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

#define MQ_CRC_TARGET __attribute__((target("pclmul,sse4.1")))

MQ_CRC_TARGET inline __m128i Load(const char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// x * x^k (as two 64-bit halves times the two halves of `k`) + data.
MQ_CRC_TARGET inline __m128i Fold(__m128i x, __m128i k, __m128i data) {
  return _mm_xor_si128(
      _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), data);
}

// The raw (not inverted) CRC register after `size` bytes; size >= 16 and a
// multiple of 16.
MQ_CRC_TARGET uint32_t RawCrcPclmul(uint32_t raw, const char* p, size_t size) {
  const __m128i k1k2 = _mm_set_epi64x(kK2, kK1);
  const __m128i k3k4 = _mm_set_epi64x(kK4, kK3);
  const __m128i k5 = _mm_set_epi64x(0, kK5);
  const __m128i poly = _mm_set_epi64x(kMu, kPolyPrime);
  const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);

  __m128i x0 = _mm_xor_si128(Load(p), _mm_cvtsi32_si128(static_cast<int>(raw)));
  p += 16;
  size -= 16;
  if (size >= 48) {
    __m128i x1 = Load(p);
    __m128i x2 = Load(p + 16);
    __m128i x3 = Load(p + 32);
    p += 48;
    size -= 48;
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
  }
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

// a(x) * b(x) mod P: the 63-bit carry-less product, shifted so that its low
// half holds x^63..x^32 and its high half x^31..x^0, then the low half
// reduced by multiplying it by x^32.
MQ_CRC_TARGET uint32_t MultiplyPclmul(uint32_t a, uint32_t b) {
  __m128i product = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(a)),
                                         _mm_cvtsi32_si128(static_cast<int>(b)), 0x00);
  uint64_t shifted = static_cast<uint64_t>(_mm_cvtsi128_si64(product)) << 1;
  return static_cast<uint32_t>(shifted >> 32) ^ TimesX32(static_cast<uint32_t>(shifted));
}

#undef MQ_CRC_TARGET

const bool kHasPclmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");

// Bytes from which folding beats the tables.
constexpr size_t kMinFoldBytes = 16;

uint32_t Multiply(uint32_t a, uint32_t b) {
  return kHasPclmul ? MultiplyPclmul(a, b) : MultiplyBitwise(a, b);
}

}  // namespace

uint32_t Crc32(uint32_t crc, const char* data, size_t size) {
  uint32_t raw = ~crc;
  if (kHasPclmul && size >= kMinFoldBytes) {
    size_t bulk = size & ~size_t{15};
    raw = RawCrcPclmul(raw, data, bulk);
    data += bulk;
    size -= bulk;
  }
  return ~RawCrcTable(raw, data, size);
}

uint32_t Crc32Combine(uint32_t crc1, uint32_t crc2, size_t size2) {
  // crc1 moved past size2 bytes: times x^(8 * size2), built from the powers
  // x^(2^k) for the bits of 8 * size2.
  uint32_t shift = uint32_t{1} << 31;  // x^0
  uint64_t bits = static_cast<uint64_t>(size2) << 3;
  for (int k = 0; bits != 0; ++k, bits >>= 1) {
    if ((bits & 1) != 0) shift = Multiply(shift, kPowers.x2k[k]);
  }
  return Multiply(shift, crc1) ^ crc2;
}

}  // namespace mq::format
