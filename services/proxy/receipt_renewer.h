// The in-flight messages of RocketMQ 5 push consumers: received with
// auto_renew, they stay invisible to the group while the client consumes
// them, however long that takes, because the front extends their invisible
// time (our broker's ChangeInvisibleTime) shortly before it ends, until the
// client acks, nacks (ChangeInvisibleDuration) or dead-letters them, or is
// gone. RocketMQ's proxy does the same in its ReceiptHandleProcessor.
//
// Each renewal replaces the broker's receipt handle while the client keeps
// the one it received; the renewer maps it to the current one, which is what
// the client's ack must settle. A renewal and the settling of one message
// never overlap (Take waits for a renewal in flight).
#ifndef MQ_SERVICES_PROXY_RECEIPT_RENEWER_H_
#define MQ_SERVICES_PROXY_RECEIPT_RENEWER_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "services/proxy/v5_translation.h"

namespace mq::proxy {

struct RenewedMessage {
  std::string client_id;
  std::string group;
  std::string topic;
  // The broker group and its current handle of the delivery.
  ReceiptHandle current;
  absl::Time invisible_until;
};

struct ReceiptRenewerOptions {
  // The invisible time each renewal sets (from the renewal on).
  absl::Duration invisible = absl::Seconds(30);
  // A message is renewed once less than this is left of its invisible time.
  absl::Duration renew_ahead = absl::Seconds(10);
};

// Thread-safe.
class ReceiptRenewer {
 public:
  // Extends the message's invisible time by `invisible` from now: its new
  // handle and deadline. INVALID_RECEIPT_HANDLE (our response code) when the
  // delivery is over.
  struct Renewal {
    std::string broker_handle;
    absl::Time invisible_until;
  };
  using RenewFn =
      std::function<absl::StatusOr<Renewal>(const RenewedMessage&, absl::Duration invisible)>;
  // Whether the client is still connected (has a Telemetry stream).
  using OnlineFn = std::function<bool(const std::string& client_id)>;

  ReceiptRenewer(ReceiptRenewerOptions options, const Clock* clock, RenewFn renew, OnlineFn online);

  ReceiptRenewer(const ReceiptRenewer&) = delete;
  ReceiptRenewer& operator=(const ReceiptRenewer&) = delete;

  // Tracks the message the client holds as `handle` (the v5 receipt handle).
  void Add(const std::string& handle, RenewedMessage message) ABSL_LOCKS_EXCLUDED(mu_);

  // Stops tracking `handle` and returns the message (with the current broker
  // handle), after a renewal of it in flight; nullopt when not tracked.
  std::optional<RenewedMessage> Take(const std::string& handle) ABSL_LOCKS_EXCLUDED(mu_);

  // Tracks again a message Take returned whose settling failed on the way
  // (the client will try again).
  void Restore(const std::string& handle, RenewedMessage message) ABSL_LOCKS_EXCLUDED(mu_);

  // Stops tracking every message of `client_id` and returns them.
  std::vector<RenewedMessage> TakeClient(const std::string& client_id) ABSL_LOCKS_EXCLUDED(mu_);

  // Renews every message due (less than renew_ahead left) whose client is
  // online, one at a time, outside the lock. A message whose delivery is over
  // (the renewal says INVALID_RECEIPT_HANDLE), or whose invisible time ended
  // while its client was away or the renewals failed, is dropped: the broker
  // delivers it again. Called periodically (MessagingService's scheduler).
  void RenewDue() ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Tracked {
    RenewedMessage message;
    bool renewing = false;
  };

  const ReceiptRenewerOptions options_;
  const Clock* const clock_;
  const RenewFn renew_;
  const OnlineFn online_;

  mutable absl::Mutex mu_;
  std::map<std::string, Tracked> tracked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::proxy

#endif  // MQ_SERVICES_PROXY_RECEIPT_RENEWER_H_
