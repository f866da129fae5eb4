#include "services/broker/broker_errors.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace mq::broker {

absl::Status IllegalMessage(absl::string_view message) {
  return WithResponseCode(absl::InvalidArgumentError(message), common::v1::MESSAGE_ILLEGAL);
}

absl::Status ServiceNotAvailable(absl::string_view message) {
  return WithResponseCode(absl::UnavailableError(message), common::v1::SERVICE_NOT_AVAILABLE);
}

absl::Status NoPermission(absl::string_view message) {
  return WithResponseCode(absl::PermissionDeniedError(message), common::v1::NO_PERMISSION);
}

absl::Status StoreCallError(absl::string_view what, const absl::Status& status) {
  absl::Status result(status.code(), absl::StrCat(what, ": ", status.message()));
  absl::optional<common::v1::ResponseCode> code = GetResponseCode(status);
  if (code.has_value()) return WithResponseCode(std::move(result), *code);
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return WithResponseCode(std::move(result), common::v1::SERVICE_NOT_AVAILABLE);
    case absl::StatusCode::kResourceExhausted:
      return WithResponseCode(std::move(result), common::v1::SYSTEM_BUSY);
    case absl::StatusCode::kNotFound:
      return result;
    default:
      return WithResponseCode(std::move(result), common::v1::SYSTEM_ERROR);
  }
}

}  // namespace mq::broker
