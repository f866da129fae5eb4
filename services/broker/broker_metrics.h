// The broker's Prometheus metrics, with RocketMQ 5's names where it has one:
// messages and bytes in per topic, messages and bytes out per topic and
// consumer group, the send latency, and requests refused per reason. The
// scrape-time gauges (consumer lag, connections, long-poll waiters) are the
// Broker's collector (Broker::CollectMetrics).
#ifndef MQ_SERVICES_BROKER_BROKER_METRICS_H_
#define MQ_SERVICES_BROKER_BROKER_METRICS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "common/metrics/rpc_metrics.h"

namespace mq::broker {

// Thread-safe. The families live in the registry.
class BrokerMetrics {
 public:
  explicit BrokerMetrics(metrics::Registry* registry);

  // A send of `messages` messages (`body_bytes` in all) to `topic`, validated
  // at `started`, ended with `status` (the broker's send hook calls it).
  void RecordSend(const std::string& topic, int64_t messages, int64_t body_bytes,
                  const absl::Status& status, absl::Time started);
  // A pull served `messages` messages, `bytes` bytes (bodies, or stored
  // records when the pull asked for those).
  void RecordPull(const std::string& topic, const std::string& group, int64_t messages,
                  int64_t bytes);
  // A request answered inside a stream was refused with `status`.
  void CountRejected(const absl::Status& status) { rpc_.CountRejected(status.code()); }

 private:
  metrics::Family<metrics::Counter>* const messages_in_;
  metrics::Family<metrics::Counter>* const bytes_in_;
  metrics::Family<metrics::Counter>* const messages_out_;
  metrics::Family<metrics::Counter>* const bytes_out_;
  metrics::Histogram* const send_latency_;
  metrics::RpcMetrics rpc_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_BROKER_METRICS_H_
