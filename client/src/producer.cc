#include "mq/producer.h"

#include "client/src/producer_impl.h"

namespace mq {

Producer::Producer(std::string group, ProducerOptions options)
    : impl_(std::make_unique<client_internal::ProducerImpl>(std::move(group), std::move(options))) {
}

Producer::~Producer() = default;

absl::Status Producer::Start() { return impl_->Start(); }

void Producer::Shutdown() { impl_->Shutdown(); }

ServiceState Producer::state() const { return impl_->state(); }

absl::StatusOr<SendResult> Producer::Send(const Message& message) {
  return impl_->Send(message, impl_->options().send_timeout);
}

absl::StatusOr<SendResult> Producer::Send(const Message& message, absl::Duration timeout) {
  return impl_->Send(message, timeout);
}

void Producer::SendAsync(const Message& message, SendCallback callback) {
  impl_->SendAsync(message, std::move(callback), impl_->options().send_timeout);
}

void Producer::SendAsync(const Message& message, SendCallback callback, absl::Duration timeout) {
  impl_->SendAsync(message, std::move(callback), timeout);
}

absl::Status Producer::SendOneway(const Message& message) { return impl_->SendOneway(message); }

absl::StatusOr<SendResult> Producer::Send(const Message& message,
                                          const MessageQueueSelector& selector) {
  return impl_->SendSelect(message, selector);
}

absl::StatusOr<SendResult> Producer::Send(const Message& message, const MessageQueue& queue) {
  return impl_->SendToQueue(message, queue);
}

absl::StatusOr<SendResult> Producer::SendBatch(const std::vector<Message>& messages) {
  return impl_->SendBatch(messages);
}

absl::StatusOr<std::vector<MessageQueue>> Producer::FetchPublishQueues(absl::string_view topic) {
  return impl_->FetchPublishQueues(std::string(topic));
}

absl::Status Producer::AddSendHook(std::shared_ptr<SendHook> hook) {
  return impl_->AddSendHook(std::move(hook));
}

const std::string& Producer::group() const { return impl_->group(); }

std::string Producer::client_id() const { return impl_->client_id(); }

}  // namespace mq
