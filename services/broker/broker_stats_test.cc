#include "services/broker/broker_stats.h"

#include <gtest/gtest.h>

namespace mq::broker {
namespace {

TEST(BrokerStatsTest, PutsAndGetsAreCountedApart) {
  absl::Time now = absl::FromUnixSeconds(1000);
  BrokerStats stats([&now] { return now; });
  stats.AddPuts(30);
  stats.AddGets(10);
  stats.AddGets(10);
  now += absl::Seconds(1);
  EXPECT_DOUBLE_EQ(stats.put_tps(), 3.0);
  EXPECT_DOUBLE_EQ(stats.get_tps(), 2.0);
  EXPECT_EQ(stats.total_puts(), 30);
  EXPECT_EQ(stats.total_gets(), 20);
}

}  // namespace
}  // namespace mq::broker
