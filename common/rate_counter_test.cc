#include "common/rate_counter.h"

#include <gtest/gtest.h>

namespace mq {
namespace {

TEST(RateCounterTest, RateIsEventsOfTheLastWholeSecondsOverTheWindow) {
  absl::Time now = absl::FromUnixSeconds(1000);
  RateCounter counter(absl::Seconds(10), [&now] { return now; });
  counter.Add(50);
  now += absl::Seconds(1);
  counter.Add(30);
  EXPECT_DOUBLE_EQ(counter.Rate(), 5.0);  // the current second is excluded
  now += absl::Seconds(1);
  EXPECT_DOUBLE_EQ(counter.Rate(), 8.0);
  now += absl::Seconds(9);  // 1011: only second 1001 is left in the window
  EXPECT_DOUBLE_EQ(counter.Rate(), 3.0);
  now += absl::Seconds(1);
  EXPECT_DOUBLE_EQ(counter.Rate(), 0.0);
  EXPECT_EQ(counter.total(), 80);
}

}  // namespace
}  // namespace mq
