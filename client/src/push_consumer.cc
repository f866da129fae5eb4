#include "mq/push_consumer.h"

#include "client/src/push_consumer_impl.h"

namespace mq {

PushConsumer::PushConsumer(std::string group, PushConsumerOptions options)
    : impl_(std::make_unique<client_internal::PushConsumerImpl>(std::move(group),
                                                                std::move(options))) {}

PushConsumer::~PushConsumer() = default;

absl::Status PushConsumer::Subscribe(absl::string_view topic, absl::string_view sub_expression) {
  return impl_->Subscribe(std::string(topic), sub_expression);
}

absl::Status PushConsumer::Unsubscribe(absl::string_view topic) {
  return impl_->Unsubscribe(std::string(topic));
}

absl::Status PushConsumer::RegisterMessageListener(MessageListener listener) {
  return impl_->RegisterMessageListener(std::move(listener));
}

absl::Status PushConsumer::RegisterMessageListenerOrderly(MessageListenerOrderly listener) {
  return impl_->RegisterMessageListenerOrderly(std::move(listener));
}

absl::Status PushConsumer::Start() { return impl_->Start(); }

void PushConsumer::Shutdown() { impl_->Shutdown(); }

ServiceState PushConsumer::state() const { return impl_->state(); }

std::vector<MessageQueue> PushConsumer::AssignedQueues() const { return impl_->AssignedQueues(); }

const std::string& PushConsumer::group() const { return impl_->group(); }

std::string PushConsumer::client_id() const { return impl_->client_id(); }

}  // namespace mq
