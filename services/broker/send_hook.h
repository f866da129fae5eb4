// Hooks around every send (RocketMQ's SendMessageHook): code that observes or
// vetoes sends without touching the send pipeline, e.g. statistics or tracing.
#ifndef MQ_SERVICES_BROKER_SEND_HOOK_H_
#define MQ_SERVICES_BROKER_SEND_HOOK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/broker.pb.h"

namespace mq::broker {

// One send (single message or batch) as the hooks see it.
struct BrokerSendContext {
  std::string producer_group;
  std::string topic;
  // The queue the broker chose (never -1).
  int32_t queue_id = 0;
  int32_t message_count = 0;
  int64_t body_bytes = 0;
  // "ip:port" of the producer.
  std::string born_host;
  // When the send was validated (the context made), for its latency.
  absl::Time started = absl::Now();

  // Set before AfterSend: the outcome, and on success how it was stored.
  absl::Status status;
  broker::v1::SendStatus send_status = broker::v1::SEND_OK;
  int64_t queue_offset = -1;
};

// Implementations must be thread-safe: hooks run on the send threads, many at once.
class BrokerSendHook {
 public:
  virtual ~BrokerSendHook() = default;

  // A name for logs.
  virtual std::string name() const = 0;
  // Runs after validation, before the store is called. A non-OK status refuses
  // the send with that status (give it a response code).
  virtual absl::Status BeforeSend(const BrokerSendContext& context) { return absl::OkStatus(); }
  // Runs after every send that BeforeSend let through, with its outcome.
  virtual void AfterSend(const BrokerSendContext& context) {}
};

// The hooks of one broker, run in registration order. Thread-safe; hooks may
// be registered while sends run.
class BrokerSendHookRegistry {
 public:
  void Register(std::shared_ptr<BrokerSendHook> hook) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs every hook's BeforeSend; stops at and returns the first refusal.
  absl::Status RunBefore(const BrokerSendContext& context) const ABSL_LOCKS_EXCLUDED(mu_);
  void RunAfter(const BrokerSendContext& context) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::vector<std::shared_ptr<BrokerSendHook>> Hooks() const ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<BrokerSendHook>> hooks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_SEND_HOOK_H_
