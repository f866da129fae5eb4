#include "mq/error_code.h"

#include "common/status.h"
#include "gtest/gtest.h"

namespace mq {
namespace {

TEST(ErrorCodeTest, TheCodeAnErrorCarriesIsPublic) {
  EXPECT_EQ(ResponseCodeOf(
                WithResponseCode(absl::NotFoundError("no route"), common::v1::TOPIC_NOT_EXIST)),
            ResponseCode::kTopicNotExist);
  EXPECT_EQ(ResponseCodeOf(absl::UnavailableError("connection refused")), absl::nullopt);
  EXPECT_EQ(ResponseCodeOf(absl::OkStatus()), absl::nullopt);
}

TEST(ErrorCodeTest, NamesAreRocketMqs) {
  EXPECT_EQ(ResponseCodeName(ResponseCode::kSystemBusy), "SYSTEM_BUSY");
  EXPECT_EQ(ResponseCodeName(ResponseCode::kConsumerNotOnline), "CONSUMER_NOT_ONLINE");
  EXPECT_EQ(ResponseCodeName(static_cast<ResponseCode>(999)), "UNKNOWN");
}

}  // namespace
}  // namespace mq
