// Queue selection for a send, with optional latency-fault tolerance
// (RocketMQ's MQFaultStrategy).
#ifndef MQ_CLIENT_SRC_FAULT_STRATEGY_H_
#define MQ_CLIENT_SRC_FAULT_STRATEGY_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "client/src/latency_fault_tolerance.h"
#include "client/src/thread_local_index.h"
#include "client/src/topic_publish_info.h"
#include "common/clock.h"
#include "mq/message_queue.h"

namespace mq::client_internal {

// The penalty for a send that took `latency` (RocketMQ 4.9.8's table):
// < 550 ms: none; >= 550 ms: 30 s; >= 1 s: 60 s; >= 2 s: 120 s; >= 3 s: 180 s;
// >= 15 s: 600 s.
absl::Duration ComputeNotAvailableDuration(absl::Duration latency);

// A failed attempt counts as this latency, so a failure benches for 600 s.
inline constexpr absl::Duration kIsolationLatency = absl::Seconds(30);

// Thread-safe.
class FaultStrategy {
 public:
  // `clock` must outlive this object.
  FaultStrategy(bool enabled, const Clock* clock) : enabled_(enabled), tolerance_(clock) {}

  bool enabled() const { return enabled_; }

  // The queue for the next attempt, avoiding `last_broker` (the broker of the
  // previous failed attempt, empty on the first) when another broker has
  // queues. With the strategy enabled, brokers in a penalty window are skipped
  // too; when all are benched, the least bad one gets a queue. Nullopt only when
  // `info` has no queues.
  absl::optional<MessageQueue> SelectQueue(const TopicPublishInfo& info,
                                           const ThreadLocalIndex& index,
                                           absl::string_view last_broker);

  // Records an attempt's outcome; a no-op unless enabled. `isolation` (a
  // failed attempt) benches the broker as if the latency were kIsolationLatency.
  void UpdateFaultItem(const std::string& broker_name, absl::Duration latency, bool isolation);

 private:
  const bool enabled_;
  LatencyFaultTolerance tolerance_;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_FAULT_STRATEGY_H_
