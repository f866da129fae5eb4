#include "client/src/broker_offsets.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/src/send_retry.h"
#include "common/status.h"

namespace mq::client_internal {

namespace {

// Runs one unary broker call with a deadline and the broker-prefixed error.
template <typename Request, typename Response, typename Method>
absl::StatusOr<Response> Call(ClientInstance& instance, const std::string& address,
                              const MessageQueue& queue, absl::Duration timeout, Method method,
                              const Request& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  Response response;
  std::shared_ptr<broker::v1::Broker::Stub> stub = instance.connections().BrokerStub(address);
  absl::Status status = FromGrpcStatus(((*stub).*method)(&context, request, &response), context);
  if (!status.ok()) {
    return PrefixStatus(absl::StrCat("broker ", queue.broker_name, " (", address, "): "), status);
  }
  return response;
}

}  // namespace

absl::StatusOr<int64_t> QueryConsumerOffsetAt(ClientInstance& instance, const std::string& address,
                                              const std::string& group, const MessageQueue& queue,
                                              absl::Duration timeout) {
  broker::v1::QueryConsumerOffsetRequest request;
  request.set_consumer_group(group);
  request.set_topic(queue.topic);
  request.set_queue_id(queue.queue_id);
  absl::StatusOr<broker::v1::QueryConsumerOffsetResponse> response =
      Call<broker::v1::QueryConsumerOffsetRequest, broker::v1::QueryConsumerOffsetResponse>(
          instance, address, queue, timeout, &broker::v1::Broker::Stub::QueryConsumerOffset,
          request);
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
  return Call<broker::v1::UpdateConsumerOffsetRequest, broker::v1::UpdateConsumerOffsetResponse>(
             instance, address, queue, timeout, &broker::v1::Broker::Stub::UpdateConsumerOffset,
             request)
      .status();
}

absl::StatusOr<int64_t> QueueOffsetAt(ClientInstance& instance, const std::string& address,
                                      const MessageQueue& queue, bool min, absl::Duration timeout) {
  broker::v1::GetQueueOffsetsRequest request;
  request.set_topic(queue.topic);
  request.set_queue_id(queue.queue_id);
  absl::StatusOr<broker::v1::GetQueueOffsetsResponse> response =
      Call<broker::v1::GetQueueOffsetsRequest, broker::v1::GetQueueOffsetsResponse>(
          instance, address, queue, timeout, &broker::v1::Broker::Stub::GetQueueOffsets, request);
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
  absl::StatusOr<broker::v1::SearchOffsetResponse> response =
      Call<broker::v1::SearchOffsetRequest, broker::v1::SearchOffsetResponse>(
          instance, address, queue, timeout, &broker::v1::Broker::Stub::SearchOffset, request);
  if (!response.ok()) return response.status();
  return response->offset();
}

}  // namespace mq::client_internal
