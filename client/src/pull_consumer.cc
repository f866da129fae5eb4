#include "mq/pull_consumer.h"

#include "client/src/pull_consumer_impl.h"

namespace mq {

PullConsumer::PullConsumer(std::string group, PullConsumerOptions options)
    : impl_(std::make_unique<client_internal::PullConsumerImpl>(std::move(group),
                                                                std::move(options))) {}

PullConsumer::~PullConsumer() = default;

absl::Status PullConsumer::Start() { return impl_->Start(); }

void PullConsumer::Shutdown() { impl_->Shutdown(); }

ServiceState PullConsumer::state() const { return impl_->state(); }

absl::StatusOr<std::vector<MessageQueue>> PullConsumer::FetchSubscribeQueues(
    absl::string_view topic) {
  return impl_->FetchSubscribeQueues(std::string(topic));
}

absl::StatusOr<PullResult> PullConsumer::Pull(const MessageQueue& queue,
                                              absl::string_view sub_expression, int64_t offset,
                                              int32_t max_nums) {
  return impl_->Pull(queue, sub_expression, offset, max_nums, /*block=*/false);
}

absl::StatusOr<PullResult> PullConsumer::PullBlockIfNotFound(const MessageQueue& queue,
                                                             absl::string_view sub_expression,
                                                             int64_t offset, int32_t max_nums) {
  return impl_->Pull(queue, sub_expression, offset, max_nums, /*block=*/true);
}

absl::StatusOr<int64_t> PullConsumer::QueryConsumerOffset(const MessageQueue& queue) {
  return impl_->QueryConsumerOffset(queue);
}

absl::Status PullConsumer::UpdateConsumerOffset(const MessageQueue& queue, int64_t offset) {
  return impl_->UpdateConsumerOffset(queue, offset);
}

absl::StatusOr<int64_t> PullConsumer::MinOffset(const MessageQueue& queue) {
  return impl_->QueueOffset(queue, /*min=*/true);
}

absl::StatusOr<int64_t> PullConsumer::MaxOffset(const MessageQueue& queue) {
  return impl_->QueueOffset(queue, /*min=*/false);
}

absl::StatusOr<int64_t> PullConsumer::SearchOffset(const MessageQueue& queue, absl::Time time) {
  return impl_->SearchOffset(queue, time);
}

const std::string& PullConsumer::group() const { return impl_->group(); }

}  // namespace mq
