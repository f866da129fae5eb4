#include "client/src/transaction_producer_impl.h"

#include <glog/logging.h>
#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/src/pulled_message.h"
#include "common/format/message_id.h"
#include "common/format/property_keys.h"
#include "common/status.h"

namespace mq::client_internal {

broker::v1::TransactionResolution ToResolution(LocalTransactionState state) {
  switch (state) {
    case LocalTransactionState::kCommitMessage:
      return broker::v1::TRANSACTION_COMMIT;
    case LocalTransactionState::kRollbackMessage:
      return broker::v1::TRANSACTION_ROLLBACK;
    case LocalTransactionState::kUnknown:
      break;
  }
  return broker::v1::TRANSACTION_UNKNOWN;
}

namespace {

ExecutorOptions CheckExecutorOptions(const TransactionProducerOptions& options) {
  ExecutorOptions executor;
  executor.name = "transaction-check";
  executor.threads = std::max(1, options.check_threads);
  executor.capacity = std::max<size_t>(1, options.check_queue_capacity);
  return executor;
}

}  // namespace

TransactionProducerImpl::TransactionProducerImpl(std::string group,
                                                 std::shared_ptr<TransactionListener> listener,
                                                 TransactionProducerOptions options)
    : listener_(std::move(listener)),
      options_(std::move(options)),
      producer_(std::move(group), options_.producer),
      check_executor_(CheckExecutorOptions(options_)) {}

TransactionProducerImpl::~TransactionProducerImpl() { Shutdown(); }

absl::Status TransactionProducerImpl::Start() {
  absl::MutexLock lock(&mu_);
  if (listener_ == nullptr) {
    return absl::InvalidArgumentError("a transaction producer needs a TransactionListener");
  }
  if (options_.channel_refresh_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("channel_refresh_interval must be positive");
  }
  if (absl::Status started = producer_.Start(); !started.ok()) return started;
  started_ = true;
  channels_ = std::make_unique<TransactionCheckChannels>(
      producer_.client_id(), producer_.group(),
      [this](const std::string& address, broker::v1::TransactionCheck check) {
        OnCheck(address, std::move(check));
      });
  check_executor_.Start();
  channel_refresher_.Schedule("transaction check channels", absl::ZeroDuration(),
                              options_.channel_refresh_interval, [this] { RefreshChannels(); });
  channel_refresher_.Start();
  return absl::OkStatus();
}

void TransactionProducerImpl::Shutdown() {
  std::unique_ptr<TransactionCheckChannels> channels;
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || shut_down_) return;
    shut_down_ = true;
  }
  channel_refresher_.Stop();
  {
    absl::MutexLock lock(&mu_);
    channels = std::move(channels_);
  }
  channels->Close();
  check_executor_.Stop();
  producer_.Shutdown();
}

void TransactionProducerImpl::RefreshChannels() {
  std::shared_ptr<ClientInstance> instance = producer_.instance();
  if (instance == nullptr) return;
  std::vector<std::string> masters = instance->routes().MasterAddresses();
  absl::MutexLock lock(&mu_);
  if (channels_ != nullptr) channels_->Refresh(instance->connections(), masters);
}

absl::StatusOr<TransactionSendResult> TransactionProducerImpl::SendMessageInTransaction(
    const Message& message, void* arg) {
  Message half = message;
  half.SetProperty(format::kPropertyDelayTimeLevel, "");
  half.SetProperty(format::kPropertyTransactionPrepared, "true");
  half.SetProperty(format::kPropertyProducerGroup, producer_.group());
  absl::StatusOr<SendResult> sent = producer_.Send(half, options_.producer.send_timeout);
  if (!sent.ok()) return sent.status();

  TransactionSendResult result;
  static_cast<SendResult&>(result) = *sent;
  result.transaction_id = sent->msg_id;
  if (sent->status == SendStatus::kSendOk) {
    half.set_unique_id(sent->msg_id);
    result.local_transaction_state = listener_->ExecuteLocalTransaction(half, arg);
  } else {
    result.local_transaction_state = LocalTransactionState::kRollbackMessage;
  }

  absl::StatusOr<format::OffsetMessageId> offset =
      format::ParseOffsetMessageId(sent->offset_msg_id);
  std::shared_ptr<ClientInstance> instance = producer_.instance();
  absl::optional<std::string> address =
      instance == nullptr ? absl::nullopt
                          : instance->routes().FindMasterAddress(sent->message_queue.broker_name);
  if (!offset.ok()) {
    result.end_transaction_status = offset.status();
  } else if (!address.has_value()) {
    result.end_transaction_status = absl::UnavailableError(
        absl::StrCat("no master address for broker ", sent->message_queue.broker_name));
  } else {
    broker::v1::EndTransactionRequest request;
    request.set_producer_group(producer_.group());
    request.set_transaction_id(sent->msg_id);
    request.set_commit_log_offset(offset->physical_offset);
    request.set_queue_offset(sent->queue_offset);
    request.set_resolution(ToResolution(result.local_transaction_state));
    request.set_broker_name(sent->message_queue.broker_name);
    result.end_transaction_status = EndTransaction(*address, request);
  }
  if (!result.end_transaction_status.ok()) {
    LOG(WARNING) << "transaction " << result.transaction_id << " ("
                 << LocalTransactionStateName(result.local_transaction_state)
                 << ") not told to the broker; it will check: " << result.end_transaction_status;
  }
  return result;
}

absl::StatusOr<std::vector<MessageQueue>> TransactionProducerImpl::FetchPublishQueues(
    const std::string& topic) {
  absl::StatusOr<std::vector<MessageQueue>> queues = producer_.FetchPublishQueues(topic);
  if (queues.ok()) RefreshChannels();
  return queues;
}

void TransactionProducerImpl::OnCheck(const std::string& address,
                                      broker::v1::TransactionCheck check) {
  auto shared = std::make_shared<broker::v1::TransactionCheck>(std::move(check));
  absl::Status queued =
      check_executor_.Submit([this, address, shared] { AnswerCheck(address, *shared); },
                             [shared](absl::Status why) {
                               LOG(WARNING) << "transaction check of " << shared->transaction_id()
                                            << " dropped (the broker asks again): " << why;
                             });
  if (!queued.ok()) {
    LOG(WARNING) << "transaction check of " << shared->transaction_id()
                 << " dropped (the broker asks again): " << queued;
  }
}

void TransactionProducerImpl::AnswerCheck(const std::string& address,
                                          const broker::v1::TransactionCheck& check) {
  absl::StatusOr<MessageExt> message =
      ToMessageExt(check.message(), check.broker_name(), options_.producer.max_message_size_bytes);
  if (!message.ok()) {
    LOG(WARNING) << "cannot read the half message of transaction " << check.transaction_id() << ": "
                 << message.status();
    return;
  }
  LocalTransactionState state = listener_->CheckLocalTransaction(*message);
  broker::v1::EndTransactionRequest request;
  request.set_producer_group(check.producer_group());
  request.set_transaction_id(check.transaction_id());
  request.set_commit_log_offset(check.commit_log_offset());
  request.set_queue_offset(check.queue_offset());
  request.set_resolution(ToResolution(state));
  request.set_from_transaction_check(true);
  request.set_broker_name(check.broker_name());
  absl::Status told = EndTransaction(address, request);
  if (!told.ok()) {
    LOG(WARNING) << "cannot answer the check of transaction " << check.transaction_id() << " ("
                 << LocalTransactionStateName(state) << "): " << told;
  }
}

absl::Status TransactionProducerImpl::EndTransaction(
    const std::string& address, const broker::v1::EndTransactionRequest& request) {
  std::shared_ptr<ClientInstance> instance = producer_.instance();
  if (instance == nullptr) return absl::FailedPreconditionError("the producer is not running");
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + instance->options().api_timeout));
  broker::v1::EndTransactionResponse response;
  grpc::Status status =
      instance->connections().BrokerStub(address)->EndTransaction(&context, request, &response);
  return FromGrpcStatus(status, context);
}

}  // namespace mq::client_internal
