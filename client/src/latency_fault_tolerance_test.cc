#include "client/src/latency_fault_tolerance.h"

#include <set>

#include "client/src/fault_strategy.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"

namespace mq::client_internal {
namespace {

TEST(ComputeNotAvailableDurationTest, FollowsRocketMqTable) {
  EXPECT_EQ(ComputeNotAvailableDuration(absl::Milliseconds(10)), absl::ZeroDuration());
  EXPECT_EQ(ComputeNotAvailableDuration(absl::Milliseconds(549)), absl::ZeroDuration());
  EXPECT_EQ(ComputeNotAvailableDuration(absl::Milliseconds(550)), absl::Seconds(30));
  EXPECT_EQ(ComputeNotAvailableDuration(absl::Milliseconds(1000)), absl::Seconds(60));
  EXPECT_EQ(ComputeNotAvailableDuration(absl::Milliseconds(2500)), absl::Seconds(120));
  EXPECT_EQ(ComputeNotAvailableDuration(absl::Milliseconds(3000)), absl::Seconds(180));
  EXPECT_EQ(ComputeNotAvailableDuration(absl::Seconds(15)), absl::Seconds(600));
  EXPECT_EQ(ComputeNotAvailableDuration(kIsolationLatency), absl::Seconds(600));
}

TEST(LatencyFaultToleranceTest, PenaltyWindowEndsWithTheClock) {
  FakeClock clock;
  LatencyFaultTolerance tolerance(&clock);
  EXPECT_TRUE(tolerance.IsAvailable("broker-a"));
  tolerance.UpdateFaultItem("broker-a", absl::Milliseconds(600), absl::Seconds(30));
  EXPECT_FALSE(tolerance.IsAvailable("broker-a"));
  EXPECT_TRUE(tolerance.IsAvailable("broker-b"));
  clock.Advance(absl::Seconds(29));
  EXPECT_FALSE(tolerance.IsAvailable("broker-a"));
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(tolerance.IsAvailable("broker-a"));
  tolerance.UpdateFaultItem("broker-a", absl::Milliseconds(5), absl::ZeroDuration());
  EXPECT_TRUE(tolerance.IsAvailable("broker-a"));
}

TEST(LatencyFaultToleranceTest, PickOneAtLeastPrefersAvailableThenFast) {
  FakeClock clock;
  LatencyFaultTolerance tolerance(&clock);
  EXPECT_FALSE(tolerance.PickOneAtLeast().has_value());
  tolerance.UpdateFaultItem("slow", absl::Seconds(2), absl::Seconds(120));
  EXPECT_EQ(tolerance.PickOneAtLeast(), "slow");
  tolerance.UpdateFaultItem("fast", absl::Milliseconds(600), absl::Seconds(30));
  tolerance.UpdateFaultItem("failed", absl::Seconds(30), absl::Seconds(600));
  tolerance.UpdateFaultItem("ok", absl::Milliseconds(1), absl::ZeroDuration());
  // Four entries: rotates over the better half (ok, fast).
  std::set<std::string> picked;
  for (int i = 0; i < 10; ++i) picked.insert(*tolerance.PickOneAtLeast());
  EXPECT_EQ(picked, (std::set<std::string>{"ok", "fast"}));
  tolerance.Remove("ok");
  tolerance.Remove("fast");
  // Two benched: the half is one entry, the lower latency.
  EXPECT_EQ(tolerance.PickOneAtLeast(), "slow");
}

common::v1::TopicRouteData TwoBrokers() {
  common::v1::TopicRouteData route;
  for (const char* name : {"broker-a", "broker-b"}) {
    common::v1::QueueData* qd = route.add_queue_datas();
    qd->set_broker_name(name);
    qd->set_write_queue_nums(2);
    qd->set_read_queue_nums(2);
    qd->set_perm(6);
    common::v1::BrokerData* bd = route.add_broker_datas();
    bd->set_broker_name(name);
    (*bd->mutable_broker_addrs())[0] = std::string(name) + ":1";
  }
  return route;
}

TEST(FaultStrategyTest, DisabledIgnoresFaultsButAvoidsLastBroker) {
  FakeClock clock;
  FaultStrategy strategy(false, &clock);
  auto info = TopicPublishInfo::FromRoute("T", TwoBrokers());
  ThreadLocalIndex index;
  strategy.UpdateFaultItem("broker-a", absl::Seconds(5), true);
  std::set<std::string> brokers;
  for (int i = 0; i < 8; ++i) brokers.insert(strategy.SelectQueue(*info, index, "")->broker_name);
  EXPECT_EQ(brokers.size(), 2u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(strategy.SelectQueue(*info, index, "broker-a")->broker_name, "broker-b");
  }
}

TEST(FaultStrategyTest, EnabledSkipsBenchedBrokerUntilWindowEnds) {
  FakeClock clock;
  FaultStrategy strategy(true, &clock);
  auto info = TopicPublishInfo::FromRoute("T", TwoBrokers());
  ThreadLocalIndex index;
  strategy.UpdateFaultItem("broker-a", absl::Milliseconds(1200), false);  // 60 s
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(strategy.SelectQueue(*info, index, "")->broker_name, "broker-b");
  }
  clock.Advance(absl::Seconds(60));
  std::set<std::string> brokers;
  for (int i = 0; i < 8; ++i) brokers.insert(strategy.SelectQueue(*info, index, "")->broker_name);
  EXPECT_EQ(brokers.size(), 2u);
}

TEST(FaultStrategyTest, IsolationBenchesForTenMinutes) {
  FakeClock clock;
  FaultStrategy strategy(true, &clock);
  auto info = TopicPublishInfo::FromRoute("T", TwoBrokers());
  ThreadLocalIndex index;
  strategy.UpdateFaultItem("broker-b", absl::Milliseconds(3), true);
  clock.Advance(absl::Seconds(599));
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(strategy.SelectQueue(*info, index, "")->broker_name, "broker-a");
  }
  clock.Advance(absl::Seconds(1));
  std::set<std::string> brokers;
  for (int i = 0; i < 8; ++i) brokers.insert(strategy.SelectQueue(*info, index, "")->broker_name);
  EXPECT_EQ(brokers.size(), 2u);
}

TEST(FaultStrategyTest, AllBenchedStillYieldsAQueue) {
  FakeClock clock;
  FaultStrategy strategy(true, &clock);
  auto info = TopicPublishInfo::FromRoute("T", TwoBrokers());
  ThreadLocalIndex index;
  strategy.UpdateFaultItem("broker-a", absl::Seconds(2), false);
  strategy.UpdateFaultItem("broker-b", absl::Seconds(30), true);
  for (int i = 0; i < 8; ++i) {
    absl::optional<MessageQueue> queue = strategy.SelectQueue(*info, index, "");
    ASSERT_TRUE(queue.has_value());
    // The least bad broker: lower latency.
    EXPECT_EQ(queue->broker_name, "broker-a");
    EXPECT_LT(queue->queue_id, 2);
  }
}

}  // namespace
}  // namespace mq::client_internal
