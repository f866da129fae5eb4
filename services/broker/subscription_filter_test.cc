#include "services/broker/subscription_filter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status.h"

namespace mq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

// Java: "TagA".hashCode() == 2598919, "TagB".hashCode() == 2598920.
constexpr int64_t kTagA = 2598919;
constexpr int64_t kTagB = 2598920;

TEST(SubscriptionFilterTest, StarAndEmptyMatchEverything) {
  EXPECT_THAT(*ParseSubscription("*"), IsEmpty());
  EXPECT_THAT(*ParseSubscription(""), IsEmpty());
  EXPECT_THAT(*ParseSubscription("  * "), IsEmpty());
  EXPECT_TRUE(MatchesTagCodes({}, 12345));
}

TEST(SubscriptionFilterTest, TagsBecomeSortedDistinctHashCodes) {
  EXPECT_THAT(*ParseSubscription("TagB || TagA"), ElementsAre(kTagA, kTagB));
  EXPECT_THAT(*ParseSubscription("TagA||TagA"), ElementsAre(kTagA));
  EXPECT_THAT(*ParseSubscription(" TagA || "), ElementsAre(kTagA));
  std::vector<int64_t> codes = *ParseSubscription("TagA || TagB");
  EXPECT_TRUE(MatchesTagCodes(codes, kTagB));
  EXPECT_FALSE(MatchesTagCodes(codes, kTagB + 1));
}

TEST(SubscriptionFilterTest, ExpressionWithoutTagsIsRefused) {
  absl::StatusOr<std::vector<int64_t>> parsed = ParseSubscription(" || ");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(GetResponseCode(parsed.status()), Optional(common::v1::SUBSCRIPTION_PARSE_FAILED));
}

}  // namespace
}  // namespace mq::broker
