// The retry rules of one send: which errors are worth another attempt, how
// much of the timeout budget an attempt may use, and the final error.
#ifndef MQ_CLIENT_SRC_SEND_RETRY_H_
#define MQ_CLIENT_SRC_SEND_RETRY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "mq/error_code.h"
#include "mq/message_queue.h"
#include "mq/send_result.h"

namespace mq::client_internal {

// True when an attempt got no answer from the broker: a transport failure
// (UNAVAILABLE, DEADLINE_EXCEEDED) with no response code.
bool IsNoResponseFailure(const absl::Status& status);

// The sync sends' rule: no answer (IsNoResponseFailure), or an answer whose
// response code is in `retry_codes`.
bool IsRetryableSendError(const absl::Status& status, const std::vector<ResponseCode>& retry_codes);

// Bookkeeping of the attempts of one send (sync or async); not thread-safe, as
// only one attempt of a send runs at a time.
class SendRetryState {
 public:
  // `timeout` is the whole budget, counted from `begin` (the start of the
  // send, before its route lookup); `max_attempt_timeout` caps an attempt
  // that is followed by another possible one.
  SendRetryState(int max_attempts, absl::Duration timeout, absl::Duration max_attempt_timeout,
                 absl::Time begin = absl::Now());

  // Starts an attempt on `queue` and returns its timeout, or nullopt when the
  // attempts or the budget are spent.
  absl::optional<absl::Duration> BeginAttempt(const MessageQueue& queue);

  // Index of the attempt begun last (0 for the first).
  int attempt() const { return attempts_begun_ - 1; }
  // Broker of the attempt begun last; empty before the first.
  const std::string& last_broker() const { return last_broker_; }
  bool HasAttemptsLeft() const { return attempts_begun_ < max_attempts_; }

  // Outcomes of the attempt begun last.
  void RecordFailure(absl::Status status) { last_error_ = std::move(status); }
  void RecordNotStoredOk(SendResult result) { last_result_ = std::move(result); }

  // After the last attempt: the last stored result if any, else the error,
  // naming the topic, message id, attempts, time spent and brokers tried, with
  // the last error's code and response code (DEADLINE_EXCEEDED when the budget
  // ran out before the attempts did).
  absl::StatusOr<SendResult> Final(const std::string& topic, const std::string& msg_id) const;

 private:
  const int max_attempts_;
  const absl::Duration timeout_;
  const absl::Duration max_attempt_timeout_;
  const absl::Time begin_;
  int attempts_begun_ = 0;
  bool budget_spent_ = false;
  std::string last_broker_;
  std::vector<std::string> brokers_sent_;
  absl::Status last_error_;
  absl::optional<SendResult> last_result_;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_SEND_RETRY_H_
