#include "services/store/delay_policy.h"

#include <gtest/gtest.h>

#include <string>

#include "common/format/property_keys.h"

namespace mq::store {
namespace {

const absl::Time kNow = absl::FromUnixMillis(1'700'000'000'000);

v1::AppendEntry Entry(absl::string_view key = "", absl::string_view value = "") {
  v1::AppendEntry entry;
  entry.mutable_message()->set_topic("Orders");
  entry.mutable_message()->set_body("b");
  entry.set_queue_id(3);
  if (!key.empty()) {
    (*entry.mutable_message()->mutable_properties())[std::string(key)] = std::string(value);
  }
  return entry;
}

std::string Property(const v1::AppendEntry& entry, absl::string_view key) {
  auto it = entry.message().properties().find(std::string(key));
  return it == entry.message().properties().end() ? "<none>" : it->second;
}

DelayPolicyOptions ThreeLevels() {
  DelayPolicyOptions options;
  options.levels = *ParseDelayLevels("1s 2s 500ms");
  options.timer_max_delay = absl::Hours(1);
  return options;
}

TEST(ParseDelayLevelsTest, ReadsRocketMqTableAndUnits) {
  absl::StatusOr<std::vector<absl::Duration>> levels = ParseDelayLevels(kDefaultDelayLevels);
  ASSERT_TRUE(levels.ok()) << levels.status();
  ASSERT_EQ(levels->size(), 18u);
  EXPECT_EQ((*levels)[0], absl::Seconds(1));
  EXPECT_EQ((*levels)[4], absl::Minutes(1));
  EXPECT_EQ((*levels)[17], absl::Hours(2));
  EXPECT_EQ(*ParseDelayLevels("250ms 1d"),
            (std::vector<absl::Duration>{absl::Milliseconds(250), absl::Hours(24)}));
}

TEST(ParseDelayLevelsTest, RefusesBadEntries) {
  for (absl::string_view bad : {"", "1", "1x", "0s", "-1s", "s", "1s two"}) {
    EXPECT_EQ(ParseDelayLevels(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(RouteDelayedTest, LevelGoesToItsQueueWithRealTopicAndDueTime) {
  v1::AppendEntry entry = Entry(format::kPropertyDelayTimeLevel, "2");
  ASSERT_EQ(RouteDelayed(ThreeLevels(), kNow, DelayCheck::kStrict, &entry).value_or(false), true);
  EXPECT_EQ(entry.message().topic(), kScheduleTopic);
  EXPECT_EQ(entry.queue_id(), 1);
  EXPECT_EQ(Property(entry, format::kPropertyRealTopic), "Orders");
  EXPECT_EQ(Property(entry, format::kPropertyRealQueueId), "3");
  EXPECT_EQ(Property(entry, format::kPropertyScheduleDueMs),
            std::to_string(absl::ToUnixMillis(kNow + absl::Seconds(2))));
}

TEST(RouteDelayedTest, LevelZeroAndPlainMessagesAreLeftAlone) {
  v1::AppendEntry plain = Entry();
  EXPECT_EQ(RouteDelayed(ThreeLevels(), kNow, DelayCheck::kStrict, &plain).value_or(true), false);
  v1::AppendEntry zero = Entry(format::kPropertyDelayTimeLevel, "0");
  EXPECT_EQ(RouteDelayed(ThreeLevels(), kNow, DelayCheck::kStrict, &zero).value_or(true), false);
  EXPECT_EQ(zero.message().topic(), "Orders");
}

TEST(RouteDelayedTest, BadInputIsRefusedAndChangesNothing) {
  const std::pair<absl::string_view, absl::string_view> cases[] = {
      {format::kPropertyDelayTimeLevel, "4"},
      {format::kPropertyDelayTimeLevel, "-1"},
      {format::kPropertyDelayTimeLevel, "two"},
      {format::kPropertyTimerDeliverMs, "soon"},
      {format::kPropertyTimerDeliverMs,
       std::to_string(absl::ToUnixMillis(kNow + absl::Hours(2)))},
      {format::kPropertyStartDeliverTime,
       std::to_string(absl::ToUnixMillis(kNow + absl::Hours(2)))},
  };
  for (const auto& [key, value] : cases) {
    v1::AppendEntry entry = Entry(key, value);
    v1::AppendEntry before = entry;
    absl::StatusOr<bool> routed = RouteDelayed(ThreeLevels(), kNow, DelayCheck::kStrict, &entry);
    EXPECT_EQ(routed.status().code(), absl::StatusCode::kInvalidArgument) << key << "=" << value;
    EXPECT_EQ(entry.SerializeAsString(), before.SerializeAsString());
  }
  v1::AppendEntry both = Entry(format::kPropertyDelayTimeLevel, "1");
  (*both.mutable_message()->mutable_properties())[std::string(format::kPropertyTimerDeliverMs)] =
      "1";
  EXPECT_EQ(RouteDelayed(ThreeLevels(), kNow, DelayCheck::kStrict, &both).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::AppendEntry direct = Entry();
  direct.mutable_message()->set_topic(std::string(kScheduleTopic));
  EXPECT_EQ(RouteDelayed(ThreeLevels(), kNow, DelayCheck::kStrict, &direct).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RouteDelayedTest, LenientClampsLevelsAndIgnoresTheHorizon) {
  v1::AppendEntry entry = Entry(format::kPropertyDelayTimeLevel, "9");
  ASSERT_EQ(RouteDelayed(ThreeLevels(), kNow, DelayCheck::kLenient, &entry).value_or(false), true);
  EXPECT_EQ(entry.queue_id(), 2);
  v1::AppendEntry far = Entry(format::kPropertyTimerDeliverMs,
                              std::to_string(absl::ToUnixMillis(kNow + absl::Hours(5))));
  EXPECT_EQ(RouteDelayed(ThreeLevels(), kNow, DelayCheck::kLenient, &far).value_or(false), true);
}

TEST(RouteDelayedTest, TimerWithinTheWindowGoesToTheTimerQueueDueAtItsTime) {
  absl::Time at = kNow + absl::Seconds(42);
  v1::AppendEntry entry =
      Entry(format::kPropertyTimerDeliverMs, std::to_string(absl::ToUnixMillis(at)));
  ASSERT_EQ(RouteDelayed(ThreeLevels(), kNow, DelayCheck::kStrict, &entry).value_or(false), true);
  EXPECT_EQ(entry.queue_id(), kTimerQueueId);
  EXPECT_EQ(Property(entry, format::kPropertyScheduleDueMs),
            std::to_string(absl::ToUnixMillis(at)));
}

TEST(RouteDelayedTest, TimerInThePastIsDeliveredAtOnce) {
  v1::AppendEntry entry = Entry(format::kPropertyStartDeliverTime,
                                std::to_string(absl::ToUnixMillis(kNow - absl::Seconds(1))));
  EXPECT_EQ(RouteDelayed(ThreeLevels(), kNow, DelayCheck::kStrict, &entry).value_or(true), false);
  EXPECT_EQ(entry.message().topic(), "Orders");
}

TEST(RouteDelayedTest, FarTimerRollsThroughHalvingWaits) {
  // Each hop waits the largest roll delay that fits, so the time left at
  // least halves and a 3-day timer needs few hops.
  absl::Duration left = absl::Hours(72) - absl::Seconds(7);
  int hops = 0;
  while (true) {
    TimerHop hop = ChooseTimerHop(left);
    if (hop.queue_id == kTimerQueueId) break;
    ASSERT_LE(hop.wait, left);
    ASSERT_GE(hop.queue_id, kRollQueueBase);
    ASSERT_LT(hop.queue_id, kRollQueueBase + kRollQueueCount);
    left -= hop.wait;
    ++hops;
  }
  EXPECT_LE(left, kTimerWindow);
  EXPECT_LE(hops, 14);
  EXPECT_EQ(ChooseTimerHop(absl::Seconds(61)).queue_id, kRollQueueBase + 1);
  EXPECT_EQ(ChooseTimerHop(absl::Seconds(60)).queue_id, kTimerQueueId);
}

}  // namespace
}  // namespace mq::store
