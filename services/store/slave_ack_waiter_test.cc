#include "services/store/slave_ack_waiter.h"

#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/wait.h"

namespace mq::store {
namespace {

SlaveAckWaiterOptions Options(absl::Duration timeout = absl::Seconds(10)) {
  SlaveAckWaiterOptions options;
  options.slave_timeout = timeout;
  options.slave_fallbehind_max_bytes = 1000;
  return options;
}

TEST(SlaveAckWaiterTest, AckedOffsetReturnsAtOnce) {
  SlaveAckWaiter waiter(Options());
  waiter.AddSlave(1, 500);
  EXPECT_TRUE(waiter.WaitForAck(500).ok());
  EXPECT_TRUE(waiter.WaitForAck(100).ok());
  EXPECT_EQ(waiter.acked_offset(), 500);
}

TEST(SlaveAckWaiterTest, OneAckReleasesEveryWaiterItCovers) {
  SlaveAckWaiter waiter(Options());
  waiter.AddSlave(7, 0);
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  std::vector<absl::Time> returned(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      results[i] = waiter.WaitForAck(100 * (i + 1));
      returned[i] = absl::Now();
    });
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return waiter.waiters() == 8; }));
  // Covers the first four only.
  waiter.OnAck(7, 400);
  ASSERT_TRUE(testing::WaitUntil([&] { return waiter.waiters() == 4; }));
  absl::Time acked_all = absl::Now();
  waiter.OnAck(7, 800);
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];
  // Woken by the ack, not by the 10 s timeout.
  for (int i = 4; i < 8; ++i) EXPECT_LT(returned[i] - acked_all, absl::Seconds(5));
  EXPECT_EQ(waiter.waiters(), 0);
}

TEST(SlaveAckWaiterTest, TimesOutWhenNoSlaveAcksTheOffset) {
  SlaveAckWaiter waiter(Options(absl::Milliseconds(100)));
  waiter.AddSlave(1, 0);
  waiter.OnAck(1, 99);
  absl::Time start = absl::Now();
  absl::Status status = waiter.WaitForAck(100);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  EXPECT_NE(status.message().find("acknowledged up to 99"), absl::string_view::npos) << status;
}

TEST(SlaveAckWaiterTest, AcksOnlyMoveForward) {
  SlaveAckWaiter waiter(Options(absl::Milliseconds(10)));
  waiter.AddSlave(1, 0);
  waiter.OnAck(1, 300);
  waiter.OnAck(1, 200);
  EXPECT_EQ(waiter.acked_offset(), 300);
  // The ack of a slave gone since still counts: the bytes reached a slave.
  waiter.RemoveSlave(1);
  EXPECT_TRUE(waiter.WaitForAck(300).ok());
}

TEST(SlaveAckWaiterTest, SlaveOkNeedsAConnectedSlaveWithinTheFallBehindMaximum) {
  SlaveAckWaiter waiter(Options());
  EXPECT_FALSE(waiter.IsSlaveOk(10));
  waiter.AddSlave(1, 0);
  EXPECT_TRUE(waiter.IsSlaveOk(999));
  EXPECT_FALSE(waiter.IsSlaveOk(1000));
  // The best connected slave counts.
  waiter.AddSlave(2, 5000);
  EXPECT_TRUE(waiter.IsSlaveOk(5500));
  EXPECT_EQ(waiter.connected_slaves(), 2);
  waiter.RemoveSlave(2);
  EXPECT_FALSE(waiter.IsSlaveOk(5500));
  waiter.OnAck(1, 5000);
  EXPECT_TRUE(waiter.IsSlaveOk(5500));
  waiter.RemoveSlave(1);
  EXPECT_FALSE(waiter.IsSlaveOk(5500));
}

TEST(SlaveAckWaiterTest, StopReleasesWaiters) {
  SlaveAckWaiter waiter(Options());
  waiter.AddSlave(1, 0);
  absl::Status result;
  std::thread t([&] { result = waiter.WaitForAck(100); });
  ASSERT_TRUE(testing::WaitUntil([&] { return waiter.waiters() == 1; }));
  waiter.Stop();
  t.join();
  EXPECT_EQ(result.code(), absl::StatusCode::kUnavailable) << result;
  EXPECT_EQ(waiter.WaitForAck(200).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(waiter.IsSlaveOk(1));
}

}  // namespace
}  // namespace mq::store
