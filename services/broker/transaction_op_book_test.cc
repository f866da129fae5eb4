#include "services/broker/transaction_op_book.h"

#include <gtest/gtest.h>

namespace mq::broker {
namespace {

PendingHalf Half(int64_t offset, absl::Time stored = absl::UnixEpoch()) {
  PendingHalf half;
  half.queue_offset = offset;
  half.commit_log_offset = 1000 + offset;
  half.store_time = stored;
  half.producer_group = "G";
  return half;
}

TEST(TransactionOpBookTest, SettledPrefixAdvancesOnlyPastSettledHalves) {
  TransactionOpBook book;
  book.AddHalf(Half(0));
  book.AddHalf(Half(1));
  book.AddHalf(Half(2));
  EXPECT_EQ(book.pending_count(), 3u);
  book.AddOp(0, 1);
  EXPECT_TRUE(book.IsSettled(1));
  EXPECT_FALSE(book.IsSettled(0));
  EXPECT_EQ(book.settled_below(), 0);
  book.AddOp(1, 0);
  EXPECT_EQ(book.settled_below(), 2);
  EXPECT_EQ(book.pending_count(), 1u);
  EXPECT_EQ(book.next_op_offset(), 2);
}

TEST(TransactionOpBookTest, OpReadBeforeItsHalfKeepsTheHalfSettled) {
  TransactionOpBook book;
  book.AddOp(0, 3);
  book.AddHalf(Half(0));
  book.AddHalf(Half(3));  // 1 and 2 were skipped by the store: nothing to settle
  EXPECT_TRUE(book.IsSettled(3));
  EXPECT_EQ(book.pending_count(), 1u);
  EXPECT_EQ(book.settled_below(), 0);
  book.MarkSettled(0);
  EXPECT_EQ(book.settled_below(), 4);
}

TEST(TransactionOpBookTest, ReadingAgainIsIdempotent) {
  TransactionOpBook book;
  book.AddHalf(Half(0));
  book.AddOp(0, 0);
  book.AddHalf(Half(0));
  book.AddOp(0, 0);
  EXPECT_EQ(book.pending_count(), 0u);
  EXPECT_EQ(book.next_half_offset(), 1);
  EXPECT_EQ(book.next_op_offset(), 1);
}

TEST(TransactionOpBookTest, DueByIsByStoreTime) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  TransactionOpBook book;
  book.AddHalf(Half(0, t0));
  book.AddHalf(Half(1, t0 + absl::Seconds(10)));
  ASSERT_EQ(book.DueBy(t0 + absl::Seconds(5)).size(), 1u);
  EXPECT_EQ(book.DueBy(t0 + absl::Seconds(5))[0].queue_offset, 0);
  EXPECT_EQ(book.DueBy(t0 + absl::Seconds(10)).size(), 2u);
}

TEST(TransactionOpBookTest, SnapshotRestoresSettledHalvesAndCheckCounts) {
  TransactionOpBook book;
  book.AddHalf(Half(0));
  book.AddHalf(Half(1));
  book.AddHalf(Half(2));
  book.AddOp(0, 2);
  EXPECT_EQ(book.RecordCheck(0), 1);
  EXPECT_EQ(book.RecordCheck(0), 2);
  EXPECT_EQ(book.RecordCheck(2), 0);  // settled: not counted

  TransactionOpBook restored;
  restored.Restore(book.Snapshot());
  EXPECT_EQ(restored.next_half_offset(), 0);
  EXPECT_EQ(restored.next_op_offset(), 1);
  // Re-reading the half queue from the settled prefix rebuilds the same book.
  restored.AddHalf(Half(0));
  restored.AddHalf(Half(1));
  restored.AddHalf(Half(2));
  EXPECT_EQ(restored.pending_count(), 2u);
  EXPECT_TRUE(restored.IsSettled(2));
  std::vector<PendingHalf> due = restored.DueBy(absl::InfiniteFuture());
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].check_times, 2);
  EXPECT_EQ(due[1].check_times, 0);
}

}  // namespace
}  // namespace mq::broker
