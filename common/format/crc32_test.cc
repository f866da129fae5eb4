#include "common/format/crc32.h"

#include <zlib.h>

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace mq::format {
namespace {

uint32_t Zlib(uint32_t crc, const std::string& data, size_t offset, size_t size) {
  return static_cast<uint32_t>(
      crc32(crc, reinterpret_cast<const Bytef*>(data.data() + offset), size));
}

TEST(Crc32Test, KnownValue) { EXPECT_EQ(Crc32(0, "123456789", 9), 0xCBF43926u); }

TEST(Crc32Test, MatchesZlibForEveryLengthAndAlignment) {
  std::mt19937 rng(42);
  std::string data(4096 + 64, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t size = 0; size <= 1100; ++size) {
      uint32_t seed = rng();
      ASSERT_EQ(Crc32(seed, data.data() + offset, size), Zlib(seed, data, offset, size))
          << "offset " << offset << " size " << size;
    }
  }
  for (size_t size : {2048u, 4095u, 4096u}) {
    EXPECT_EQ(Crc32(0, data.data() + 3, size), Zlib(0, data, 3, size)) << size;
  }
}

TEST(Crc32Test, ChainsLikeZlib) {
  std::string data(1000, 'a');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  uint32_t whole = Crc32(0, data.data(), data.size());
  uint32_t parts =
      Crc32(Crc32(Crc32(0, data.data(), 10), data.data() + 10, 500), data.data() + 510, 490);
  EXPECT_EQ(whole, parts);
}

TEST(Crc32Test, CombineMatchesZlib) {
  std::mt19937 rng(7);
  std::string data(70000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t size2 : {0u, 1u, 2u, 3u, 4u, 7u, 8u, 15u, 16u, 63u, 64u, 1000u, 1024u, 1115u, 4095u,
                       65535u, 65536u}) {
    const size_t size1 = rng() % 300;
    const uint32_t crc1 = Crc32(0, data.data(), size1);
    const uint32_t crc2 = Crc32(0, data.data() + size1, size2);
    EXPECT_EQ(Crc32Combine(crc1, crc2, size2),
              static_cast<uint32_t>(crc32_combine(crc1, crc2, static_cast<z_off_t>(size2))))
        << size2;
    EXPECT_EQ(Crc32Combine(crc1, crc2, size2), Crc32(0, data.data(), size1 + size2)) << size2;
  }
  // Lengths far past any record, with every bit of a 32-bit size.
  for (size_t size2 : {size_t{0xFFFFFFFF}, size_t{1} << 33}) {
    uint32_t crc1 = rng();
    uint32_t crc2 = rng();
    EXPECT_EQ(Crc32Combine(crc1, crc2, size2),
              static_cast<uint32_t>(crc32_combine(crc1, crc2, static_cast<z_off_t>(size2))))
        << size2;
  }
}

}  // namespace
}  // namespace mq::format
