#include "mq/transaction_producer.h"

#include <utility>

#include "client/src/transaction_producer_impl.h"

namespace mq {

TransactionProducer::TransactionProducer(std::string group,
                                         std::shared_ptr<TransactionListener> listener,
                                         TransactionProducerOptions options)
    : impl_(std::make_unique<client_internal::TransactionProducerImpl>(
          std::move(group), std::move(listener), std::move(options))) {}

TransactionProducer::~TransactionProducer() = default;

absl::Status TransactionProducer::Start() { return impl_->Start(); }

void TransactionProducer::Shutdown() { impl_->Shutdown(); }

absl::StatusOr<TransactionSendResult> TransactionProducer::SendMessageInTransaction(
    const Message& message, void* arg) {
  return impl_->SendMessageInTransaction(message, arg);
}

absl::StatusOr<std::vector<MessageQueue>> TransactionProducer::FetchPublishQueues(
    absl::string_view topic) {
  return impl_->FetchPublishQueues(std::string(topic));
}

const std::string& TransactionProducer::group() const { return impl_->group(); }

std::string TransactionProducer::client_id() const { return impl_->client_id(); }

}  // namespace mq
