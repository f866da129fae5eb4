#include "services/store/retention_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mq::store {
namespace {

using ::testing::ElementsAre;

TEST(RetentionPolicyTest, QuietDiskDeletesOnlyAtTheDeleteHour) {
  RetentionOptions options;
  EXPECT_FALSE(DecideRetention(options, 0.30, 3).delete_expired);
  RetentionDecision at_four = DecideRetention(options, 0.30, 4);
  EXPECT_TRUE(at_four.delete_expired);
  EXPECT_FALSE(at_four.ignore_age);
  EXPECT_FALSE(at_four.disk_full);
  EXPECT_FALSE(DecideRetention(options, 0.30, 5).delete_expired);
}

TEST(RetentionPolicyTest, AboveMaxUsedDeletesExpiredAtAnyHour) {
  RetentionDecision decision = DecideRetention(RetentionOptions(), 0.80, 13);
  EXPECT_TRUE(decision.delete_expired);
  EXPECT_FALSE(decision.ignore_age);
  EXPECT_FALSE(decision.disk_full);
  EXPECT_THAT(decision.reason, ::testing::HasSubstr("80.0%"));
}

TEST(RetentionPolicyTest, AboveCleanForciblyIgnoresAge) {
  RetentionDecision decision = DecideRetention(RetentionOptions(), 0.86, 13);
  EXPECT_TRUE(decision.delete_expired);
  EXPECT_TRUE(decision.ignore_age);
  EXPECT_FALSE(decision.disk_full);
}

TEST(RetentionPolicyTest, AboveFullRefusesWrites) {
  RetentionDecision decision = DecideRetention(RetentionOptions(), 0.95, 13);
  EXPECT_TRUE(decision.disk_full);
  EXPECT_TRUE(decision.ignore_age);
  EXPECT_THAT(decision.reason, ::testing::HasSubstr("writes refused"));
}

TEST(RetentionPolicyTest, ParsesDeleteHours) {
  EXPECT_THAT(*ParseDeleteHours("04"), ElementsAre(4));
  EXPECT_THAT(*ParseDeleteHours("04;16"), ElementsAre(4, 16));
  EXPECT_FALSE(ParseDeleteHours("").ok());
  EXPECT_FALSE(ParseDeleteHours("25").ok());
  EXPECT_FALSE(ParseDeleteHours("four").ok());
}

TEST(RetentionPolicyTest, DiskUsedRatioOfTempDirIsAFraction) {
  absl::StatusOr<double> ratio = DiskUsedRatio(::testing::TempDir());
  ASSERT_TRUE(ratio.ok()) << ratio.status();
  EXPECT_GE(*ratio, 0.0);
  EXPECT_LE(*ratio, 1.0);
  EXPECT_FALSE(DiskUsedRatio("/no/such/dir").ok());
}

}  // namespace
}  // namespace mq::store
