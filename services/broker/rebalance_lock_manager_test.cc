#include "services/broker/rebalance_lock_manager.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/testing/fake_clock.h"

namespace mq::broker {
namespace {

common::v1::MessageQueue Queue(int32_t id, const std::string& topic = "orders") {
  common::v1::MessageQueue queue;
  queue.set_topic(topic);
  queue.set_broker_name("broker-a");
  queue.set_queue_id(id);
  return queue;
}

std::vector<int32_t> Ids(const absl::StatusOr<std::vector<common::v1::MessageQueue>>& queues) {
  EXPECT_TRUE(queues.ok()) << queues.status();
  std::vector<int32_t> ids;
  if (!queues.ok()) return ids;
  for (const common::v1::MessageQueue& queue : *queues) ids.push_back(queue.queue_id());
  return ids;
}

class RebalanceLockManagerTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  RebalanceLockManager locks_{absl::Seconds(60), &clock_};
};

TEST_F(RebalanceLockManagerTest, AnotherClientIsRefusedWhileTheLockIsHeld) {
  EXPECT_EQ(Ids(locks_.TryLockBatch("g", "a", {Queue(0), Queue(1)})), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(Ids(locks_.TryLockBatch("g", "b", {Queue(1), Queue(2)})), (std::vector<int32_t>{2}));
  // The holder locks again (a renewal) and keeps its queues.
  EXPECT_EQ(Ids(locks_.TryLockBatch("g", "a", {Queue(0), Queue(1), Queue(2)})),
            (std::vector<int32_t>{0, 1}));
  // Another group, another topic or another broker group is another lock.
  EXPECT_EQ(Ids(locks_.TryLockBatch("other", "b", {Queue(0)})), (std::vector<int32_t>{0}));
  EXPECT_EQ(Ids(locks_.TryLockBatch("g", "b", {Queue(0, "payments")})), (std::vector<int32_t>{0}));
  common::v1::MessageQueue elsewhere = Queue(0);
  elsewhere.set_broker_name("broker-b");
  EXPECT_EQ(Ids(locks_.TryLockBatch("g", "b", {elsewhere})), (std::vector<int32_t>{0}));
}

TEST_F(RebalanceLockManagerTest, ALockExpiresWithoutRenewal) {
  ASSERT_EQ(Ids(locks_.TryLockBatch("g", "a", {Queue(0), Queue(1)})), (std::vector<int32_t>{0, 1}));
  clock_.Advance(absl::Seconds(40));
  // Queue 0 renewed at 40 s; queue 1 not.
  ASSERT_EQ(Ids(locks_.TryLockBatch("g", "a", {Queue(0)})), (std::vector<int32_t>{0}));
  clock_.Advance(absl::Seconds(20));
  // At 60 s neither has expired yet (more than the max live time must pass).
  EXPECT_TRUE(Ids(locks_.TryLockBatch("g", "b", {Queue(0), Queue(1)})).empty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Ids(locks_.TryLockBatch("g", "b", {Queue(0), Queue(1)})), (std::vector<int32_t>{1}));
  clock_.Advance(absl::Seconds(40));
  EXPECT_EQ(Ids(locks_.TryLockBatch("g", "b", {Queue(0), Queue(1)})), (std::vector<int32_t>{0, 1}));
  // The former holder is refused now.
  EXPECT_TRUE(Ids(locks_.TryLockBatch("g", "a", {Queue(0), Queue(1)})).empty());
}

TEST_F(RebalanceLockManagerTest, UnlockReleasesOnlyTheCallersLocks) {
  ASSERT_EQ(Ids(locks_.TryLockBatch("g", "a", {Queue(0), Queue(1)})), (std::vector<int32_t>{0, 1}));
  // Another client's unlock changes nothing.
  ASSERT_TRUE(locks_.UnlockBatch("g", "b", {Queue(0), Queue(1)}).ok());
  EXPECT_TRUE(Ids(locks_.TryLockBatch("g", "b", {Queue(0), Queue(1)})).empty());
  ASSERT_TRUE(locks_.UnlockBatch("g", "a", {Queue(0)}).ok());
  EXPECT_EQ(Ids(locks_.TryLockBatch("g", "b", {Queue(0), Queue(1)})), (std::vector<int32_t>{0}));
}

TEST_F(RebalanceLockManagerTest, UnlockAllReleasesEveryLockOfTheClientInTheGroup) {
  ASSERT_EQ(Ids(locks_.TryLockBatch("g", "a", {Queue(0), Queue(1)})), (std::vector<int32_t>{0, 1}));
  ASSERT_EQ(Ids(locks_.TryLockBatch("h", "a", {Queue(0)})), (std::vector<int32_t>{0}));
  ASSERT_EQ(Ids(locks_.TryLockBatch("g", "c", {Queue(2)})), (std::vector<int32_t>{2}));
  EXPECT_EQ(locks_.UnlockAll("g", "a"), 2);
  EXPECT_EQ(Ids(locks_.TryLockBatch("g", "b", {Queue(0), Queue(1), Queue(2)})),
            (std::vector<int32_t>{0, 1}));
  // The client's locks in other groups stay.
  EXPECT_TRUE(Ids(locks_.TryLockBatch("h", "b", {Queue(0)})).empty());
  EXPECT_EQ(locks_.UnlockAll("g", "nobody"), 0);
}

TEST_F(RebalanceLockManagerTest, BadInputIsRefusedAndLocksNothing) {
  EXPECT_EQ(locks_.TryLockBatch("bad group!", "a", {Queue(0)}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(locks_.TryLockBatch("g", "", {Queue(0)}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(locks_.TryLockBatch("g", "a", {Queue(0), Queue(1, "")}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(locks_.UnlockBatch("g", "", {Queue(0)}).code(), absl::StatusCode::kInvalidArgument);
  // Nothing was locked by the refused calls.
  EXPECT_EQ(Ids(locks_.TryLockBatch("g", "b", {Queue(0)})), (std::vector<int32_t>{0}));
}

}  // namespace
}  // namespace mq::broker
