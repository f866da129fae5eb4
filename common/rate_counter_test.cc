#include "common/rate_counter.h"

#include <gtest/gtest.h>

#include "common/testing/fake_clock.h"

namespace mq {
namespace {

TEST(RateCounterTest, RateIsEventsOfTheLastWholeSecondsOverTheWindow) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  RateCounter counter(absl::Seconds(10), &clock);
  counter.Add(50);
  clock.Advance(absl::Seconds(1));
  counter.Add(30);
  EXPECT_DOUBLE_EQ(counter.Rate(), 5.0);  // the current second is excluded
  clock.Advance(absl::Seconds(1));
  EXPECT_DOUBLE_EQ(counter.Rate(), 8.0);
  clock.Advance(absl::Seconds(9));  // 1011: only second 1001 is left in the window
  EXPECT_DOUBLE_EQ(counter.Rate(), 3.0);
  clock.Advance(absl::Seconds(1));
  EXPECT_DOUBLE_EQ(counter.Rate(), 0.0);
  EXPECT_EQ(counter.total(), 80);
}

}  // namespace
}  // namespace mq
