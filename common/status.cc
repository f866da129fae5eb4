#include "common/status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mq {

absl::Status WithResponseCode(absl::Status status, common::v1::ResponseCode code) {
  status.SetPayload(kResponseCodeKey, absl::Cord(std::to_string(static_cast<int>(code))));
  return status;
}

namespace {

absl::optional<common::v1::ResponseCode> ParseResponseCode(absl::string_view text) {
  int value = 0;
  if (!absl::SimpleAtoi(text, &value) || !common::v1::ResponseCode_IsValid(value)) {
    return absl::nullopt;
  }
  return static_cast<common::v1::ResponseCode>(value);
}

}  // namespace

absl::optional<common::v1::ResponseCode> GetResponseCode(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kResponseCodeKey);
  if (!payload.has_value()) return absl::nullopt;
  return ParseResponseCode(std::string(*payload));
}

common::v1::ResponseCode DefaultResponseCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return common::v1::SERVICE_NOT_AVAILABLE;
    case absl::StatusCode::kResourceExhausted:
      return common::v1::SYSTEM_BUSY;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return common::v1::NO_PERMISSION;
    case absl::StatusCode::kNotFound:
      return common::v1::QUERY_NOT_FOUND;
    case absl::StatusCode::kUnimplemented:
      return common::v1::REQUEST_CODE_NOT_SUPPORTED;
    default:
      return common::v1::SYSTEM_ERROR;
  }
}

std::string BoundedMessage(absl::string_view message) {
  if (message.size() <= kMaxErrorMessageBytes) return std::string(message);
  return absl::StrCat(message.substr(0, kMaxErrorMessageBytes), "... (", message.size(), " bytes)");
}

grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContextBase* context) {
  if (status.ok()) return grpc::Status::OK;
  absl::optional<common::v1::ResponseCode> code = GetResponseCode(status);
  if (!code.has_value()) code = DefaultResponseCode(status.code());
  if (context != nullptr) {
    context->AddTrailingMetadata(std::string(kResponseCodeKey),
                                 std::to_string(static_cast<int>(*code)));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      BoundedMessage(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::Status FromGrpcStatus(const grpc::Status& status, const grpc::ClientContext& context) {
  absl::Status result = FromGrpcStatus(status);
  if (result.ok()) return result;
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(grpc::string_ref(kResponseCodeKey.data(), kResponseCodeKey.size()));
  if (it != trailers.end()) {
    absl::optional<common::v1::ResponseCode> code =
        ParseResponseCode(absl::string_view(it->second.data(), it->second.size()));
    if (code.has_value()) result = WithResponseCode(std::move(result), *code);
  }
  return result;
}

absl::Status WithPayloadsOf(const absl::Status& from, absl::Status to) {
  from.ForEachPayload([&to](absl::string_view type_url, const absl::Cord& payload) {
    to.SetPayload(type_url, payload);
  });
  return to;
}

absl::Status PrefixStatus(absl::string_view prefix, const absl::Status& status) {
  if (status.ok()) return status;
  return WithPayloadsOf(status,
                        absl::Status(status.code(), absl::StrCat(prefix, status.message())));
}

broker::v1::SendError ToSendError(const absl::Status& status) {
  broker::v1::SendError error;
  error.set_code(static_cast<int32_t>(status.code()));
  error.set_message(std::string(status.message()));
  absl::optional<common::v1::ResponseCode> code = GetResponseCode(status);
  if (code.has_value()) error.set_response_code(*code);
  return error;
}

absl::Status FromSendError(const broker::v1::SendError& error) {
  absl::Status status(static_cast<absl::StatusCode>(error.code()), error.message());
  if (status.ok()) {
    return absl::InternalError("the broker answered a send with neither a response nor an error");
  }
  if (error.response_code() != common::v1::SUCCESS) {
    status = WithResponseCode(std::move(status), error.response_code());
  }
  return status;
}

}  // namespace mq
