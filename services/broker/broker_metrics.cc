#include "services/broker/broker_metrics.h"

#include "absl/time/clock.h"

namespace mq::broker {

BrokerMetrics::BrokerMetrics(metrics::Registry* registry)
    : messages_in_(registry->AddCounter("rocketmq_messages_in_total", "Messages stored, by topic.",
                                        {"topic"})),
      bytes_in_(registry->AddCounter("rocketmq_throughput_in_total",
                                     "Message body bytes stored, by topic.", {"topic"})),
      messages_out_(registry->AddCounter("rocketmq_messages_out_total",
                                         "Messages served to pulls, by topic and consumer group.",
                                         {"topic", "consumer_group"})),
      bytes_out_(registry->AddCounter("rocketmq_throughput_out_total",
                                      "Bytes served to pulls, by topic and consumer group.",
                                      {"topic", "consumer_group"})),
      send_latency_(registry
                        ->AddHistogram("rocketmq_send_latency_seconds",
                                       "Time from a send's validation to its answer: the "
                                       "store's append and its flush or slave wait.",
                                       {}, &metrics::LatencyBuckets())
                        ->Get()),
      rpc_(registry) {}

void BrokerMetrics::RecordSend(const std::string& topic, int64_t messages, int64_t body_bytes,
                               const absl::Status& status, absl::Time started) {
  send_latency_->ObserveDuration(absl::Now() - started);
  // A refused send is counted where it is answered: by the server's call
  // interceptor, or by the send stream for each of its requests.
  if (!status.ok()) return;
  messages_in_->WithLabels({topic})->Increment(messages);
  bytes_in_->WithLabels({topic})->Increment(body_bytes);
}

void BrokerMetrics::RecordPull(const std::string& topic, const std::string& group, int64_t messages,
                               int64_t bytes) {
  messages_out_->WithLabels({topic, group})->Increment(messages);
  bytes_out_->WithLabels({topic, group})->Increment(bytes);
}

}  // namespace mq::broker
