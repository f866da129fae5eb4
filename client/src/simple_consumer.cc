#include "mq/simple_consumer.h"

#include "client/src/simple_consumer_impl.h"

namespace mq {

SimpleConsumer::SimpleConsumer(std::string group, SimpleConsumerOptions options)
    : impl_(std::make_unique<client_internal::SimpleConsumerImpl>(std::move(group),
                                                                  std::move(options))) {}

SimpleConsumer::~SimpleConsumer() = default;

absl::Status SimpleConsumer::Start() { return impl_->Start(); }

void SimpleConsumer::Shutdown() { impl_->Shutdown(); }

ServiceState SimpleConsumer::state() const { return impl_->state(); }

absl::Status SimpleConsumer::Subscribe(absl::string_view topic, absl::string_view sub_expression) {
  return impl_->Subscribe(std::string(topic), sub_expression);
}

absl::Status SimpleConsumer::Unsubscribe(absl::string_view topic) {
  return impl_->Unsubscribe(std::string(topic));
}

absl::StatusOr<std::vector<ReceivedMessage>> SimpleConsumer::Receive(
    int32_t max_messages, absl::Duration invisible_duration, absl::Duration await_duration) {
  return impl_->Receive(max_messages, invisible_duration, await_duration);
}

absl::Status SimpleConsumer::Ack(const ReceivedMessage& message) { return impl_->Ack(message); }

absl::Status SimpleConsumer::ChangeInvisibleDuration(ReceivedMessage* message,
                                                     absl::Duration invisible_duration) {
  return impl_->ChangeInvisibleDuration(message, invisible_duration);
}

const std::string& SimpleConsumer::group() const { return impl_->group(); }

}  // namespace mq
