#include "client/src/compression.h"

#include <string>

#include "common/units.h"
#include "gtest/gtest.h"

namespace mq::client_internal {
namespace {

std::string Compressible(size_t size) {
  std::string text;
  while (text.size() < size) text += "the quick brown fox jumps over the lazy dog; ";
  text.resize(size);
  return text;
}

TEST(CompressionTest, RoundTrip) {
  const std::string body = Compressible(64_KiB);
  absl::StatusOr<std::string> compressed = ZlibCompress(body, 5);
  ASSERT_TRUE(compressed.ok()) << compressed.status();
  EXPECT_LT(compressed->size(), body.size() / 4);
  absl::StatusOr<std::string> restored = ZlibUncompress(*compressed, body.size());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(*restored, body);
}

TEST(CompressionTest, RejectsBadLevel) {
  EXPECT_EQ(ZlibCompress("x", 10).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CompressionTest, CorruptDataIsDataLoss) {
  EXPECT_EQ(ZlibUncompress("not zlib at all", 1024).status().code(), absl::StatusCode::kDataLoss);
}

TEST(CompressionTest, TruncatedDataIsDataLoss) {
  absl::StatusOr<std::string> compressed = ZlibCompress(Compressible(10000), 5);
  ASSERT_TRUE(compressed.ok());
  EXPECT_EQ(ZlibUncompress(compressed->substr(0, compressed->size() / 2), 1_MiB).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(CompressionTest, OversizedResultIsRefused) {
  absl::StatusOr<std::string> compressed = ZlibCompress(Compressible(100000), 5);
  ASSERT_TRUE(compressed.ok());
  EXPECT_EQ(ZlibUncompress(*compressed, 50000).status().code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace mq::client_internal
