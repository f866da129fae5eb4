#include "services/store/offsets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <type_traits>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash_testing.h"

namespace mq::store {
namespace {

// The two kinds never turn into each other, nor come from or go to a bare
// integer, without being asked.
static_assert(!std::is_convertible_v<PhysicalOffset, QueueOffset>);
static_assert(!std::is_convertible_v<QueueOffset, PhysicalOffset>);
static_assert(!std::is_constructible_v<QueueOffset, PhysicalOffset>);
static_assert(!std::is_constructible_v<PhysicalOffset, QueueOffset>);
static_assert(!std::is_convertible_v<int64_t, PhysicalOffset>);
static_assert(!std::is_convertible_v<int64_t, QueueOffset>);
static_assert(!std::is_convertible_v<PhysicalOffset, int64_t>);
static_assert(!std::is_convertible_v<QueueOffset, int64_t>);
static_assert(std::is_trivially_copyable_v<PhysicalOffset>);
static_assert(sizeof(QueueOffset) == sizeof(int64_t));

TEST(OffsetsTest, ValueAndDefault) {
  EXPECT_EQ(PhysicalOffset().value(), 0);
  EXPECT_EQ(QueueOffset(42).value(), 42);
  constexpr PhysicalOffset kAt(1 << 20);
  static_assert(kAt.value() == 1 << 20);
}

TEST(OffsetsTest, Arithmetic) {
  PhysicalOffset p(1000);
  EXPECT_EQ(p + 24, PhysicalOffset(1024));
  EXPECT_EQ(p - 1000, PhysicalOffset(0));
  EXPECT_EQ(PhysicalOffset(1024) - p, 24);
  p += 10;
  EXPECT_EQ(p, PhysicalOffset(1010));
  QueueOffset q(7);
  q -= 2;
  EXPECT_EQ(q, QueueOffset(5));
  EXPECT_EQ(q + 1 - q, 1);
}

TEST(OffsetsTest, Comparisons) {
  EXPECT_LT(QueueOffset(1), QueueOffset(2));
  EXPECT_LE(QueueOffset(2), QueueOffset(2));
  EXPECT_GT(PhysicalOffset(3), PhysicalOffset(2));
  EXPECT_GE(PhysicalOffset(3), PhysicalOffset(3));
  EXPECT_NE(QueueOffset(1), QueueOffset(2));
  EXPECT_EQ(std::max(QueueOffset(4), QueueOffset(9)), QueueOffset(9));
}

TEST(OffsetsTest, Hash) {
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly(
      {PhysicalOffset(0), PhysicalOffset(1), PhysicalOffset(-1), PhysicalOffset(1LL << 40)}));
  absl::flat_hash_set<QueueOffset> seen = {QueueOffset(1), QueueOffset(2)};
  EXPECT_TRUE(seen.contains(QueueOffset(2)));
  EXPECT_FALSE(seen.contains(QueueOffset(3)));
}

TEST(OffsetsTest, Streams) {
  std::ostringstream out;
  out << PhysicalOffset(123) << "/" << QueueOffset(-4);
  EXPECT_EQ(out.str(), "123/-4");
}

}  // namespace
}  // namespace mq::store
