#include "client/src/broker_offsets.h"

#include "common/rpc.h"

namespace mq::client_internal {

absl::StatusOr<int64_t> QueryConsumerOffsetAt(ClientInstance& instance, const std::string& address,
                                              const std::string& group, const MessageQueue& queue,
                                              absl::Duration timeout) {
  broker::v1::QueryConsumerOffsetRequest request;
  request.set_consumer_group(group);
  request.set_topic(queue.topic);
  request.set_queue_id(queue.queue_id);
  absl::StatusOr<broker::v1::QueryConsumerOffsetResponse> response = CallUnary(
      *instance.connections().BrokerStub(address), &broker::v1::Broker::Stub::QueryConsumerOffset,
      request, timeout, BrokerLabel(queue.broker_name, address));
  if (!response.ok()) return response.status();
  return response->offset();
}

absl::Status UpdateConsumerOffsetAt(ClientInstance& instance, const std::string& address,
                                    const std::string& group, const MessageQueue& queue,
                                    int64_t offset, absl::Duration timeout) {
  broker::v1::UpdateConsumerOffsetRequest request;
  request.set_consumer_group(group);
  request.set_topic(queue.topic);
  request.set_queue_id(queue.queue_id);
  request.set_offset(offset);
  return CallUnary(*instance.connections().BrokerStub(address),
                   &broker::v1::Broker::Stub::UpdateConsumerOffset, request, timeout,
                   BrokerLabel(queue.broker_name, address))
      .status();
}

absl::StatusOr<int64_t> QueueOffsetAt(ClientInstance& instance, const std::string& address,
                                      const MessageQueue& queue, bool min, absl::Duration timeout) {
  broker::v1::GetQueueOffsetsRequest request;
  request.set_topic(queue.topic);
  request.set_queue_id(queue.queue_id);
  absl::StatusOr<broker::v1::GetQueueOffsetsResponse> response = CallUnary(
      *instance.connections().BrokerStub(address), &broker::v1::Broker::Stub::GetQueueOffsets,
      request, timeout, BrokerLabel(queue.broker_name, address));
  if (!response.ok()) return response.status();
  return min ? response->min_offset() : response->max_offset();
}

absl::StatusOr<int64_t> SearchOffsetAt(ClientInstance& instance, const std::string& address,
                                       const MessageQueue& queue, absl::Time time,
                                       absl::Duration timeout) {
  broker::v1::SearchOffsetRequest request;
  request.set_topic(queue.topic);
  request.set_queue_id(queue.queue_id);
  request.set_timestamp_ms(absl::ToUnixMillis(time));
  absl::StatusOr<broker::v1::SearchOffsetResponse> response = CallUnary(
      *instance.connections().BrokerStub(address), &broker::v1::Broker::Stub::SearchOffset, request,
      timeout, BrokerLabel(queue.broker_name, address));
  if (!response.ok()) return response.status();
  return response->offset();
}

}  // namespace mq::client_internal
