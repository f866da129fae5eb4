#include "services/broker/broker_stats.h"

#include <gtest/gtest.h>

#include "common/testing/fake_clock.h"

namespace mq::broker {
namespace {

TEST(BrokerStatsTest, PutsAndGetsAreCountedApart) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  BrokerStats stats(&clock);
  stats.AddPuts(30);
  stats.AddGets(10);
  stats.AddGets(10);
  clock.Advance(absl::Seconds(1));
  EXPECT_DOUBLE_EQ(stats.put_tps(), 3.0);
  EXPECT_DOUBLE_EQ(stats.get_tps(), 2.0);
  EXPECT_EQ(stats.total_puts(), 30);
  EXPECT_EQ(stats.total_gets(), 20);
}

}  // namespace
}  // namespace mq::broker
