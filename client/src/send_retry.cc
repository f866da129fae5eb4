#include "client/src/send_retry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status.h"

namespace mq::client_internal {

bool IsNoResponseFailure(const absl::Status& status) {
  return !GetResponseCode(status).has_value() &&
         (status.code() == absl::StatusCode::kUnavailable ||
          status.code() == absl::StatusCode::kDeadlineExceeded);
}

bool IsRetryableSendError(const absl::Status& status,
                          const std::vector<ResponseCode>& retry_codes) {
  if (status.ok()) return false;
  if (absl::optional<ResponseCode> code = ResponseCodeOf(status)) {
    return std::find(retry_codes.begin(), retry_codes.end(), *code) != retry_codes.end();
  }
  return IsNoResponseFailure(status);
}

SendRetryState::SendRetryState(int max_attempts, absl::Duration timeout,
                               absl::Duration max_attempt_timeout, absl::Time begin)
    : max_attempts_(std::max(1, max_attempts)),
      timeout_(timeout),
      max_attempt_timeout_(max_attempt_timeout),
      begin_(begin) {}

absl::optional<absl::Duration> SendRetryState::BeginAttempt(const MessageQueue& queue) {
  if (attempts_begun_ >= max_attempts_) return absl::nullopt;
  const absl::Duration remaining = timeout_ - (absl::Now() - begin_);
  if (remaining <= absl::ZeroDuration()) {
    budget_spent_ = true;
    return absl::nullopt;
  }
  ++attempts_begun_;
  last_broker_ = queue.broker_name;
  brokers_sent_.push_back(queue.broker_name);
  return attempts_begun_ < max_attempts_ ? std::min(remaining, max_attempt_timeout_) : remaining;
}

absl::StatusOr<SendResult> SendRetryState::Final(const std::string& topic,
                                                 const std::string& msg_id) const {
  if (last_result_.has_value()) return *last_result_;
  const int64_t elapsed_ms = absl::ToInt64Milliseconds(absl::Now() - begin_);
  std::string message;
  absl::StatusCode code = last_error_.ok() ? absl::StatusCode::kNotFound : last_error_.code();
  if (budget_spent_) {
    code = absl::StatusCode::kDeadlineExceeded;
    message = absl::StrCat("send timeout of ", absl::FormatDuration(timeout_), " spent after ",
                           attempts_begun_, " attempt(s)");
  } else {
    message =
        absl::StrCat("send failed after ", attempts_begun_, " attempt(s) in ", elapsed_ms, " ms");
  }
  absl::StrAppend(&message, " (topic ", topic, ", message ", msg_id, ", brokers tried: [",
                  absl::StrJoin(brokers_sent_, ", "), "])");
  if (last_error_.ok()) return absl::Status(code, message);
  absl::StrAppend(&message, ": ", last_error_.message());
  return WithPayloadsOf(last_error_, absl::Status(code, message));
}

}  // namespace mq::client_internal
