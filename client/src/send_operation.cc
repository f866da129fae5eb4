#include "client/src/send_operation.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/rpc.h"
#include "common/status.h"

namespace mq::client_internal {
namespace {

SendStatus FromProto(broker::v1::SendStatus status) {
  switch (status) {
    case broker::v1::FLUSH_DISK_TIMEOUT:
      return SendStatus::kFlushDiskTimeout;
    case broker::v1::FLUSH_SLAVE_TIMEOUT:
      return SendStatus::kFlushSlaveTimeout;
    case broker::v1::SLAVE_NOT_AVAILABLE:
      return SendStatus::kSlaveNotAvailable;
    default:
      return SendStatus::kSendOk;
  }
}

// `queue` fills what the answer leaves out.
SendResult ToSendResult(broker::v1::SendStatus status, std::string msg_id,
                        std::string offset_msg_id, const std::string& broker_name, int32_t queue_id,
                        int64_t queue_offset, const MessageQueue& queue) {
  SendResult result;
  result.status = FromProto(status);
  result.msg_id = std::move(msg_id);
  result.offset_msg_id = std::move(offset_msg_id);
  result.message_queue.topic = queue.topic;
  result.message_queue.broker_name = broker_name.empty() ? queue.broker_name : broker_name;
  result.message_queue.queue_id = queue_id;
  result.queue_offset = queue_offset;
  return result;
}

}  // namespace

ProducerImpl::SendOperation::SendOperation(
    ProducerImpl* producer, std::shared_ptr<ClientInstance> instance, TopicEntry entry,
    absl::optional<MessageQueue> fixed_queue, SendPlan plan, absl::Time begin,
    std::shared_ptr<broker::v1::SendStreamRequest> request, std::string msg_id,
    const Message* hook_message, std::unique_ptr<Message> hook_copy, SendDone done)
    : producer_(producer),
      instance_(std::move(instance)),
      entry_(std::move(entry)),
      fixed_queue_(std::move(fixed_queue)),
      mode_(plan.mode),
      topic_(request->has_batch() ? request->batch().topic() : request->send().message().topic()),
      msg_id_(std::move(msg_id)),
      hook_message_(hook_copy != nullptr ? hook_copy.get() : hook_message),
      hook_copy_(std::move(hook_copy)),
      done_(std::move(done)),
      retry_(plan.max_attempts, plan.timeout, producer->options_.max_attempt_timeout, begin),
      request_(std::move(request)) {}

bool ProducerImpl::SendOperation::Start() {
  Next();
  absl::MutexLock lock(&mu_);
  return sent_any_;
}

void ProducerImpl::SendOperation::Next() {
  while (true) {
    absl::optional<MessageQueue> queue =
        fixed_queue_.has_value()
            ? fixed_queue_
            : producer_->fault_.SelectQueue(*entry_.info, *entry_.index, retry_.last_broker());
    if (!queue.has_value()) break;
    absl::optional<absl::Duration> timeout = retry_.BeginAttempt(*queue);
    if (!timeout.has_value()) break;
    absl::StatusOr<std::string> address =
        producer_->MasterAddressFor(*instance_, topic_, queue->broker_name);
    if (!address.ok()) {
      producer_->fault_.UpdateFaultItem(queue->broker_name, absl::ZeroDuration(), true);
      retry_.RecordFailure(address.status());
      continue;
    }
    queue_ = *std::move(queue);
    address_ = *std::move(address);
    producer_->RunBeforeHooks(Context());
    // The previous attempt's write may still be queued on its stream.
    if (request_.use_count() > 1) {
      request_ = std::make_shared<broker::v1::SendStreamRequest>(*request_);
    }
    attempt_start_ = absl::Now();
    if (request_->has_batch()) {
      broker::v1::SendBatchRequest* batch = request_->mutable_batch();
      batch->set_queue_id(queue_.queue_id);
      batch->set_broker_name(queue_.broker_name);
      batch->set_born_timestamp_ms(absl::ToUnixMillis(attempt_start_));
    } else {
      broker::v1::SendMessageRequest* send = request_->mutable_send();
      send->set_queue_id(queue_.queue_id);
      send->set_broker_name(queue_.broker_name);
      send->set_born_timestamp_ms(absl::ToUnixMillis(attempt_start_));
    }
    std::shared_ptr<BrokerSendStream> stream = instance_->connections().SendStream(address_);
    const absl::Time deadline = attempt_start_ + *timeout;
    int attempt;
    {
      absl::MutexLock lock(&mu_);
      sent_any_ = true;
      attempt = ++attempts_sent_;
      stream_ = stream;
      request_id_ = 0;
      attempt_deadline_ = deadline;
    }
    const uint64_t id = stream->Send(
        request_, deadline,
        [self = shared_from_this()](absl::StatusOr<broker::v1::SendStreamResponse> answer) {
          self->OnAnswer(std::move(answer));
        });
    absl::MutexLock lock(&mu_);
    // Unless it was answered already (a refused send is, inside Send()).
    if (attempts_sent_ == attempt && stream_ != nullptr) request_id_ = id;
    return;
  }
  Finish(retry_.Final(topic_, msg_id_));
}

void ProducerImpl::SendOperation::AwaitOnCaller() {
  absl::MutexLock lock(&mu_);
  int expired = 0;
  while (true) {
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return finished_ || next_pending_; };
    // Once the attempt in flight is expired, its end is on the way.
    const absl::Time deadline =
        expired == attempts_sent_ ? absl::InfiniteFuture() : attempt_deadline_;
    if (!mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) {
      expired = attempts_sent_;
      std::shared_ptr<BrokerSendStream> stream = stream_;
      const uint64_t id = request_id_;
      mu_.Unlock();
      // Answers the attempt here unless its answer is being delivered.
      if (stream != nullptr) stream->Expire(id);
      mu_.Lock();
      continue;
    }
    if (finished_) return;
    next_pending_ = false;
    mu_.Unlock();
    Next();
    mu_.Lock();
  }
}

void ProducerImpl::SendOperation::OnAnswer(absl::StatusOr<broker::v1::SendStreamResponse> answer) {
  const absl::Duration latency = absl::Now() - attempt_start_;
  {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
    request_id_ = 0;
    attempt_deadline_ = absl::InfiniteFuture();
  }
  absl::StatusOr<SendResult> result =
      answer.ok() ? ResultOf(*std::move(answer))
                  : absl::StatusOr<SendResult>(
                        PrefixStatus(BrokerLabel(queue_.broker_name, address_), answer.status()));
  // A oneway send's hooks learn only whether the send itself went through.
  producer_->RunAfterHooks(Context(), mode_ == SendMode::kOneway && result.ok()
                                          ? absl::StatusOr<SendResult>(SendResult())
                                          : result);
  producer_->fault_.UpdateFaultItem(queue_.broker_name, latency, !result.ok());
  if (WantsAnotherAttempt(result)) {
    if (mode_ == SendMode::kSync) {
      absl::MutexLock lock(&mu_);
      next_pending_ = true;
    } else {
      Next();
    }
    return;
  }
  // A stored answer is the outcome, SEND_OK or not; after an error, the
  // error naming every attempt.
  Finish(result.ok() ? std::move(result) : retry_.Final(topic_, msg_id_));
}

bool ProducerImpl::SendOperation::WantsAnotherAttempt(const absl::StatusOr<SendResult>& result) {
  if (result.ok()) {
    if (mode_ == SendMode::kSync && result->status != SendStatus::kSendOk &&
        producer_->options_.retry_another_broker_when_not_store_ok && retry_.HasAttemptsLeft()) {
      retry_.RecordNotStoredOk(*result);
      return true;
    }
    return false;
  }
  retry_.RecordFailure(result.status());
  if (mode_ == SendMode::kSync) {
    return IsRetryableSendError(result.status(), producer_->options_.retry_response_codes);
  }
  return IsNoResponseFailure(result.status());
}

absl::StatusOr<SendResult> ProducerImpl::SendOperation::ResultOf(
    broker::v1::SendStreamResponse answer) const {
  if (request_->has_batch()) {
    if (!answer.has_batch_response()) {
      return absl::InternalError(absl::StrCat(BrokerLabel(queue_.broker_name, address_),
                                              "answered a batch with a single send's response"));
    }
    broker::v1::SendBatchResponse& batch = *answer.mutable_batch_response();
    return ToSendResult(batch.status(), absl::StrJoin(batch.msg_ids(), ","),
                        absl::StrJoin(batch.offset_msg_ids(), ","), batch.broker_name(),
                        batch.queue_id(), batch.queue_offset(), queue_);
  }
  if (!answer.has_response()) {
    return absl::InternalError(absl::StrCat(BrokerLabel(queue_.broker_name, address_),
                                            "answered a send with a batch's response"));
  }
  broker::v1::SendMessageResponse& response = *answer.mutable_response();
  return ToSendResult(response.status(), std::move(*response.mutable_msg_id()),
                      std::move(*response.mutable_offset_msg_id()), response.broker_name(),
                      response.queue_id(), response.queue_offset(), queue_);
}

void ProducerImpl::SendOperation::Finish(absl::StatusOr<SendResult> result) {
  {
    absl::MutexLock lock(&mu_);
    if (!sent_any_) unsent_error_ = result.status();
  }
  // Nothing of the instance may be released on a gRPC thread after the
  // producer is gone: it may be destroyed as soon as `done` returns.
  instance_.reset();
  SendDone done = std::move(done_);
  done(std::move(result));
  absl::MutexLock lock(&mu_);
  finished_ = true;
}

SendContext ProducerImpl::SendOperation::Context() const {
  SendContext context;
  context.producer_group = &producer_->group_;
  context.message = hook_message_;
  context.msg_id = msg_id_;
  context.mode = mode_;
  context.queue = queue_;
  context.broker_address = address_;
  context.attempt = retry_.attempt();
  return context;
}

}  // namespace mq::client_internal
