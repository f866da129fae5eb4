#include "client/src/send_retry.h"

#include "absl/time/clock.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "mq/producer.h"

namespace mq::client_internal {
namespace {

const std::vector<ResponseCode>& DefaultCodes() {
  static const ProducerOptions options;
  return options.retry_response_codes;
}

TEST(IsRetryableSendErrorTest, TransportFailuresRetry) {
  EXPECT_TRUE(IsRetryableSendError(absl::UnavailableError("x"), DefaultCodes()));
  EXPECT_TRUE(IsRetryableSendError(absl::DeadlineExceededError("x"), DefaultCodes()));
  EXPECT_FALSE(IsRetryableSendError(absl::InvalidArgumentError("x"), DefaultCodes()));
  EXPECT_FALSE(IsRetryableSendError(absl::OkStatus(), DefaultCodes()));
}

TEST(IsRetryableSendErrorTest, ResponseCodesDecide) {
  for (common::v1::ResponseCode code :
       {common::v1::TOPIC_NOT_EXIST, common::v1::SERVICE_NOT_AVAILABLE, common::v1::SYSTEM_ERROR,
        common::v1::NO_PERMISSION, common::v1::SYSTEM_BUSY}) {
    EXPECT_TRUE(
        IsRetryableSendError(WithResponseCode(absl::InternalError("x"), code), DefaultCodes()))
        << code;
  }
  EXPECT_FALSE(IsRetryableSendError(
      WithResponseCode(absl::InvalidArgumentError("x"), common::v1::MESSAGE_ILLEGAL),
      DefaultCodes()));
  // A broker that answered with a code outside the set is not retried, even
  // with a transport-like gRPC code.
  EXPECT_FALSE(IsRetryableSendError(
      WithResponseCode(absl::UnavailableError("x"), common::v1::VERSION_NOT_SUPPORTED),
      DefaultCodes()));
  // Without SYSTEM_BUSY in the set (RocketMQ 4.x), busy is final.
  EXPECT_FALSE(IsRetryableSendError(
      WithResponseCode(absl::ResourceExhaustedError("busy"), common::v1::SYSTEM_BUSY),
      {ResponseCode::kSystemError}));
}

TEST(SendRetryStateTest, CapAppliesOnlyWhileAnotherAttemptRemains) {
  SendRetryState retry(3, absl::Seconds(3), absl::Seconds(1));
  MessageQueue queue{"T", "broker-a", 0};
  absl::optional<absl::Duration> first = retry.BeginAttempt(queue);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, absl::Seconds(1));
  EXPECT_EQ(retry.attempt(), 0);
  EXPECT_EQ(retry.last_broker(), "broker-a");
  ASSERT_TRUE(retry.BeginAttempt(queue).has_value());
  absl::optional<absl::Duration> last = retry.BeginAttempt(queue);
  ASSERT_TRUE(last.has_value());
  // The last attempt gets everything left (about 3 s here).
  EXPECT_GT(*last, absl::Milliseconds(2500));
  EXPECT_FALSE(retry.HasAttemptsLeft());
  EXPECT_FALSE(retry.BeginAttempt(queue).has_value());
}

TEST(SendRetryStateTest, FinalErrorKeepsCodeAndNamesBrokers) {
  SendRetryState retry(2, absl::Seconds(3), absl::Seconds(1));
  retry.BeginAttempt({"T", "broker-a", 0});
  retry.RecordFailure(absl::UnavailableError("a down"));
  retry.BeginAttempt({"T", "broker-b", 1});
  retry.RecordFailure(WithResponseCode(absl::UnavailableError("b busy"), common::v1::SYSTEM_BUSY));
  absl::StatusOr<SendResult> final = retry.Final("T", "ID1");
  ASSERT_FALSE(final.ok());
  EXPECT_EQ(final.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(GetResponseCode(final.status()), common::v1::SYSTEM_BUSY);
  EXPECT_NE(final.status().message().find("2 attempt(s)"), absl::string_view::npos);
  EXPECT_NE(final.status().message().find("[broker-a, broker-b]"), absl::string_view::npos);
  EXPECT_NE(final.status().message().find("b busy"), absl::string_view::npos);
  EXPECT_NE(final.status().message().find("ID1"), absl::string_view::npos);
}

TEST(SendRetryStateTest, SpentBudgetIsDeadlineExceeded) {
  SendRetryState retry(3, absl::Milliseconds(20), absl::Milliseconds(10));
  ASSERT_TRUE(retry.BeginAttempt({"T", "broker-a", 0}).has_value());
  retry.RecordFailure(absl::DeadlineExceededError("slow"));
  absl::SleepFor(absl::Milliseconds(25));
  EXPECT_FALSE(retry.BeginAttempt({"T", "broker-b", 0}).has_value());
  EXPECT_EQ(retry.Final("T", "ID").status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(SendRetryStateTest, StoredResultWinsOverLaterErrors) {
  SendRetryState retry(2, absl::Seconds(3), absl::Seconds(1));
  retry.BeginAttempt({"T", "broker-a", 0});
  SendResult stored;
  stored.status = SendStatus::kFlushSlaveTimeout;
  retry.RecordNotStoredOk(stored);
  retry.BeginAttempt({"T", "broker-b", 0});
  retry.RecordFailure(absl::UnavailableError("down"));
  absl::StatusOr<SendResult> final = retry.Final("T", "ID");
  ASSERT_TRUE(final.ok());
  EXPECT_EQ(final->status, SendStatus::kFlushSlaveTimeout);
}

}  // namespace
}  // namespace mq::client_internal
