#include "common/status.h"

#include <gtest/gtest.h>

namespace mq {
namespace {

TEST(StatusTest, ResponseCodeRoundTripsThroughPayload) {
  absl::Status status =
      WithResponseCode(absl::NotFoundError("topic t not exist"), common::v1::TOPIC_NOT_EXIST);
  ASSERT_TRUE(GetResponseCode(status).has_value());
  EXPECT_EQ(*GetResponseCode(status), common::v1::TOPIC_NOT_EXIST);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "topic t not exist");
}

TEST(StatusTest, NoResponseCodeWhenNoneAttached) {
  EXPECT_FALSE(GetResponseCode(absl::InternalError("x")).has_value());
}

TEST(StatusTest, ToGrpcKeepsCodeAndMessage) {
  grpc::Status status = ToGrpcStatus(absl::InvalidArgumentError("bad topic"), nullptr);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "bad topic");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus(), nullptr).ok());
}

TEST(StatusTest, EveryErrorCodeHasADefaultResponseCode) {
  EXPECT_EQ(DefaultResponseCode(absl::StatusCode::kInvalidArgument), common::v1::SYSTEM_ERROR);
  EXPECT_EQ(DefaultResponseCode(absl::StatusCode::kUnavailable), common::v1::SERVICE_NOT_AVAILABLE);
  EXPECT_EQ(DefaultResponseCode(absl::StatusCode::kDeadlineExceeded),
            common::v1::SERVICE_NOT_AVAILABLE);
  EXPECT_EQ(DefaultResponseCode(absl::StatusCode::kResourceExhausted), common::v1::SYSTEM_BUSY);
  EXPECT_EQ(DefaultResponseCode(absl::StatusCode::kPermissionDenied), common::v1::NO_PERMISSION);
  EXPECT_EQ(DefaultResponseCode(absl::StatusCode::kNotFound), common::v1::QUERY_NOT_FOUND);
  EXPECT_EQ(DefaultResponseCode(absl::StatusCode::kUnimplemented),
            common::v1::REQUEST_CODE_NOT_SUPPORTED);
  EXPECT_EQ(DefaultResponseCode(absl::StatusCode::kInternal), common::v1::SYSTEM_ERROR);
}

TEST(StatusTest, ToGrpcBoundsTheMessage) {
  const std::string huge(100000, 'k');
  grpc::Status status = ToGrpcStatus(absl::NotFoundError("no key " + huge), nullptr);
  EXPECT_LE(status.error_message().size(), kMaxErrorMessageBytes + 32);
  EXPECT_NE(status.error_message().find("... (100007 bytes)"), std::string::npos);
}

TEST(StatusTest, FromGrpcKeepsCodeAndMessage) {
  absl::Status status = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "down");
}

TEST(StatusTest, PrefixKeepsCodeAndResponseCode) {
  absl::Status status =
      PrefixStatus("broker b1: ",
                   WithResponseCode(absl::NotFoundError("no topic"), common::v1::TOPIC_NOT_EXIST));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "broker b1: no topic");
  EXPECT_EQ(GetResponseCode(status), common::v1::TOPIC_NOT_EXIST);
  EXPECT_TRUE(PrefixStatus("broker b1: ", absl::OkStatus()).ok());
}

TEST(StatusTest, SendErrorRoundTrips) {
  const absl::Status with_code =
      WithResponseCode(absl::ResourceExhaustedError("busy"), common::v1::SYSTEM_BUSY);
  const absl::Status back = FromSendError(ToSendError(with_code));
  EXPECT_EQ(back.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(back.message(), "busy");
  EXPECT_EQ(GetResponseCode(back), common::v1::SYSTEM_BUSY);

  const absl::Status without_code = FromSendError(ToSendError(absl::InvalidArgumentError("bad")));
  EXPECT_EQ(without_code.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(without_code.message(), "bad");
  EXPECT_FALSE(GetResponseCode(without_code).has_value());
}

TEST(StatusTest, SendErrorWithoutAnErrorIsInternal) {
  EXPECT_EQ(FromSendError(broker::v1::SendError()).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace mq
