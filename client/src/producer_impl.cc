#include "client/src/producer_impl.h"

#include <grpcpp/client_context.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/src/broker_send_stream.h"
#include "client/src/client_registry.h"
#include "client/src/compression.h"
#include "client/src/message_id_generator.h"
#include "common/format/property_keys.h"
#include "common/status.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace mq {
namespace client_internal {
namespace {

// Topics the broker keeps for itself (RocketMQ's TopicValidator.isNotAllowedSendTopic).
constexpr absl::string_view kNotAllowedSendTopics[] = {
    "SCHEDULE_TOPIC_XXXX",        "RMQ_SYS_TRANS_HALF_TOPIC", "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC", "SELF_TEST_TOPIC",          "OFFSET_MOVED_EVENT"};

constexpr absl::string_view kRetryTopicPrefix = "%RETRY%";
constexpr absl::string_view kReservedProducerGroup = "DEFAULT_PRODUCER";

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

int64_t NowUnixMillis() { return absl::ToUnixMillis(absl::Now()); }

absl::Status MessageIllegal(std::string message) {
  return WithResponseCode(absl::InvalidArgumentError(std::move(message)),
                          common::v1::MESSAGE_ILLEGAL);
}

absl::Status ValidateProducerOptions(const std::string& group, const ProducerOptions& options) {
  if (absl::Status s = ValidateGroup(group); !s.ok()) return s;
  if (group == kReservedProducerGroup) {
    return absl::InvalidArgumentError(
        absl::StrCat("producer group ", group, " is reserved; choose another name"));
  }
  if (options.send_timeout <= absl::ZeroDuration() ||
      options.max_attempt_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("send_timeout and max_attempt_timeout must be positive");
  }
  if (options.retry_times_when_send_failed < 0 || options.retry_times_when_send_async_failed < 0) {
    return absl::InvalidArgumentError("retry counts must not be negative");
  }
  if (options.compress_level < 0 || options.compress_level > 9) {
    return absl::InvalidArgumentError(
        absl::StrCat("compress_level must be 0..9, got ", options.compress_level));
  }
  if (options.max_message_size_bytes == 0) {
    return absl::InvalidArgumentError("max_message_size_bytes must be positive");
  }
  if (absl::Status s = ValidateTopic(options.create_topic_key); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("create_topic_key: ", s.message()));
  }
  return ValidateQueueNums("default_topic_queue_nums", options.default_topic_queue_nums);
}

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

std::string BrokerLabel(const MessageQueue& queue, const std::string& address) {
  return absl::StrCat("broker ", queue.broker_name, " (", address, "): ");
}

// `sent_msg_id` stands in for an answer without a message id.
SendResult ResultOf(const broker::v1::SendMessageResponse& response, const std::string& sent_msg_id,
                    const MessageQueue& queue) {
  return ToSendResult(response.status(),
                      response.msg_id().empty() ? sent_msg_id : response.msg_id(),
                      response.offset_msg_id(), response.broker_name(), response.queue_id(),
                      response.queue_offset(), queue);
}

}  // namespace

SendResult ToSendResult(broker::v1::SendStatus status, const std::string& msg_id,
                        const std::string& offset_msg_id, const std::string& broker_name,
                        int32_t queue_id, int64_t queue_offset, const MessageQueue& queue) {
  SendResult result;
  result.status = FromProto(status);
  result.msg_id = msg_id;
  result.offset_msg_id = offset_msg_id;
  result.message_queue.topic = queue.topic;
  result.message_queue.broker_name = broker_name.empty() ? queue.broker_name : broker_name;
  result.message_queue.queue_id = queue_id;
  result.queue_offset = queue_offset;
  return result;
}

// One async send: each attempt is a callback-API RPC; the next attempt starts
// from the completion of the previous one, so no thread waits.
class ProducerImpl::AsyncSend : public std::enable_shared_from_this<AsyncSend> {
 public:
  AsyncSend(ProducerImpl* producer, std::shared_ptr<ClientInstance> instance, TopicEntry entry,
            broker::v1::SendMessageRequest request, std::string msg_id,
            std::unique_ptr<Message> original, SendCallback callback, absl::Time begin,
            absl::Duration timeout)
      : producer_(producer),
        instance_(std::move(instance)),
        entry_(std::move(entry)),
        request_(std::move(request)),
        msg_id_(std::move(msg_id)),
        original_(std::move(original)),
        callback_(std::move(callback)),
        retry_(1 + producer->options_.retry_times_when_send_async_failed, timeout,
               producer->options_.max_attempt_timeout, begin) {}

  // Starts the next attempt, or reports the outcome when none is left.
  void Next() {
    const std::string& topic = request_.message().topic();
    while (true) {
      absl::optional<MessageQueue> queue =
          producer_->fault_.SelectQueue(*entry_.info, *entry_.index, retry_.last_broker());
      if (!queue.has_value()) break;
      absl::optional<absl::Duration> timeout = retry_.BeginAttempt(*queue);
      if (!timeout.has_value()) break;
      absl::StatusOr<std::string> address =
          producer_->MasterAddressFor(*instance_, topic, queue->broker_name);
      if (!address.ok()) {
        producer_->fault_.UpdateFaultItem(queue->broker_name, absl::ZeroDuration(), true);
        retry_.RecordFailure(address.status());
        continue;
      }
      queue_ = *queue;
      address_ = *address;
      producer_->RunBeforeHooks(Context());
      request_.set_queue_id(queue_.queue_id);
      request_.set_broker_name(queue_.broker_name);
      request_.set_born_timestamp_ms(NowUnixMillis());
      attempt_start_ = absl::Now();
      instance_->SendStream(address_)->Send(
          request_, attempt_start_ + *timeout,
          [self = shared_from_this()](absl::StatusOr<broker::v1::SendMessageResponse> response) {
            self->OnDone(std::move(response));
          });
      return;
    }
    Finish(retry_.Final(topic, msg_id_));
  }

 private:
  void OnDone(absl::StatusOr<broker::v1::SendMessageResponse> response) {
    const absl::Duration latency = absl::Now() - attempt_start_;
    absl::StatusOr<SendResult> result =
        response.ok() ? absl::StatusOr<SendResult>(ResultOf(*response, msg_id_, queue_))
                      : absl::StatusOr<SendResult>(
                            PrefixStatus(BrokerLabel(queue_, address_), response.status()));
    producer_->RunAfterHooks(Context(), result);
    producer_->fault_.UpdateFaultItem(queue_.broker_name, latency, !result.ok());
    if (result.ok()) {
      Finish(std::move(result));
      return;
    }
    retry_.RecordFailure(result.status());
    // RocketMQ's rule for async sends: retry only when no answer came; a
    // broker's error answer goes to the callback.
    if (IsNoResponseFailure(result.status())) {
      Next();
      return;
    }
    Finish(retry_.Final(request_.message().topic(), msg_id_));
  }

  void Finish(absl::StatusOr<SendResult> result) {
    callback_(std::move(result));
    // The producer may be destroyed as soon as EndInflight() returns.
    ProducerImpl* producer = producer_;
    instance_.reset();
    producer->EndInflight();
  }

  SendContext Context() const {
    SendContext context;
    context.producer_group = &producer_->group_;
    context.message = original_.get();
    context.mode = SendMode::kAsync;
    context.queue = queue_;
    context.broker_address = address_;
    context.attempt = retry_.attempt();
    context.msg_id = msg_id_;
    return context;
  }

  ProducerImpl* const producer_;
  std::shared_ptr<ClientInstance> instance_;
  const TopicEntry entry_;
  broker::v1::SendMessageRequest request_;
  const std::string msg_id_;
  // A copy for the hooks; null when there are none.
  const std::unique_ptr<Message> original_;
  SendCallback callback_;
  SendRetryState retry_;
  MessageQueue queue_;
  std::string address_;
  absl::Time attempt_start_;
};

// A oneway send: one callback-API RPC whose outcome only the hooks see.
class ProducerImpl::OnewaySend {
 public:
  // Copies the message for the hooks when there are any.
  OnewaySend(ProducerImpl* producer, broker::v1::SendMessageRequest request, SendContext context)
      : producer_(producer),
        request_(std::move(request)),
        original_(producer->hooks_.empty() ? nullptr : std::make_unique<Message>(*context.message)),
        hook_context_(std::move(context)) {
    hook_context_.message = original_.get();
  }

  // Deletes itself when the RPC completes.
  void Start(ClientInstance& instance) {
    SetDeadline(&context_, producer_->options_.send_timeout);
    attempt_start_ = absl::Now();
    instance.BrokerStub(hook_context_.broker_address)
        ->async()
        ->SendMessage(&context_, &request_, &response_,
                      [this](grpc::Status status) { OnDone(status); });
  }

 private:
  void OnDone(const grpc::Status& grpc_status) {
    absl::Status status = FromGrpcStatus(grpc_status, context_);
    producer_->RunAfterHooks(hook_context_, status.ok() ? absl::StatusOr<SendResult>(SendResult())
                                                        : absl::StatusOr<SendResult>(status));
    producer_->fault_.UpdateFaultItem(hook_context_.queue.broker_name, absl::Now() - attempt_start_,
                                      !status.ok());
    ProducerImpl* producer = producer_;
    delete this;
    producer->EndInflight();
  }

  ProducerImpl* const producer_;
  broker::v1::SendMessageRequest request_;
  const std::unique_ptr<Message> original_;
  SendContext hook_context_;
  grpc::ClientContext context_;
  broker::v1::SendMessageResponse response_;
  absl::Time attempt_start_;
};

ProducerImpl::ProducerImpl(std::string group, ProducerOptions options, const Clock* fault_clock)
    : group_(std::move(group)),
      options_(std::move(options)),
      fault_(options_.send_latency_fault_enable, fault_clock) {}

ProducerImpl::~ProducerImpl() { Shutdown(); }

absl::Status ProducerImpl::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (state_ != ServiceState::kCreateJust) {
      return absl::FailedPreconditionError(
          absl::StrCat("producer group ", group_, " cannot start: state is ",
                       ServiceStateName(state_), " (a producer starts once)"));
    }
    // Until the end of Start(), so a concurrent Start() fails.
    state_ = ServiceState::kStartFailed;
  }
  if (absl::Status s = ValidateProducerOptions(group_, options_); !s.ok()) return s;
  {
    // As RocketMQ: the default topic's route is fetched with the others from
    // the start, so the brokers are known (and hear the first heartbeat)
    // before the first send.
    absl::MutexLock lock(&mu_);
    topics_[options_.create_topic_key];
  }
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance =
      ClientRegistry::Default().RegisterProducer(options_.client, group_, this);
  if (!instance.ok()) {
    absl::MutexLock lock(&mu_);
    // A taken group leaves the producer startable later, as in RocketMQ.
    if (instance.status().code() == absl::StatusCode::kFailedPrecondition) {
      state_ = ServiceState::kCreateJust;
    }
    return instance.status();
  }
  (*instance)->SendHeartbeatToAllBrokers();
  absl::MutexLock lock(&mu_);
  instance_ = *std::move(instance);
  state_ = ServiceState::kRunning;
  VLOG(1) << "producer group " << group_ << " started in client instance "
          << instance_->client_id();
  return absl::OkStatus();
}

void ProducerImpl::Shutdown() {
  std::shared_ptr<ClientInstance> instance;
  {
    absl::MutexLock lock(&mu_);
    if (state_ != ServiceState::kRunning) return;
    state_ = ServiceState::kShutdownAlready;
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return inflight_ == 0; };
    mu_.Await(absl::Condition(&idle));
    instance = std::move(instance_);
  }
  ClientRegistry::Default().UnregisterProducer(instance, group_);
  VLOG(1) << "producer group " << group_ << " shut down";
}

ServiceState ProducerImpl::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

std::string ProducerImpl::client_id() const {
  absl::MutexLock lock(&mu_);
  return instance_ == nullptr ? std::string() : instance_->client_id();
}

absl::Status ProducerImpl::AddSendHook(std::shared_ptr<SendHook> hook) {
  absl::MutexLock lock(&mu_);
  if (state_ != ServiceState::kCreateJust) {
    return absl::FailedPreconditionError("send hooks must be added before Start()");
  }
  hooks_.push_back(std::move(hook));
  return absl::OkStatus();
}

std::vector<std::string> ProducerImpl::TopicsInUse() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> topics;
  for (const auto& [topic, entry] : topics_) topics.push_back(topic);
  return topics;
}

void ProducerImpl::UpdateTopicPublishInfo(const std::string& topic,
                                          std::shared_ptr<const TopicPublishInfo> info) {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(topic);
  if (it != topics_.end()) it->second.info = std::move(info);
}

absl::StatusOr<std::shared_ptr<ClientInstance>> ProducerImpl::CheckRunning(bool inflight) {
  absl::MutexLock lock(&mu_);
  if (state_ != ServiceState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat(
        "producer group ", group_, " is not running (state ", ServiceStateName(state_), ")"));
  }
  if (inflight) ++inflight_;
  return instance_;
}

void ProducerImpl::EndInflight() {
  absl::MutexLock lock(&mu_);
  --inflight_;
}

absl::Status ProducerImpl::ValidateMessage(const Message& message) const {
  if (absl::Status s = ValidateTopic(message.topic()); !s.ok())
    return MessageIllegal(std::string(s.message()));
  for (absl::string_view reserved : kNotAllowedSendTopics) {
    if (message.topic() == reserved) {
      return MessageIllegal(absl::StrCat("topic ", message.topic(),
                                         " is reserved for the broker; sending is not allowed"));
    }
  }
  if (message.body().empty()) return MessageIllegal("message body is empty");
  if (message.body().size() > options_.max_message_size_bytes) {
    return MessageIllegal(absl::StrCat("message body of ", message.body().size(),
                                       " bytes exceeds max_message_size_bytes (",
                                       options_.max_message_size_bytes, ")"));
  }
  return absl::OkStatus();
}

std::string ProducerImpl::PrepareRequest(const Message& message, bool allow_compression,
                                         broker::v1::SendMessageRequest* request) const {
  common::v1::Message* wire = request->mutable_message();
  wire->set_topic(message.topic());
  wire->set_flag(message.flag());
  wire->mutable_properties()->insert(message.properties().begin(), message.properties().end());
  std::string msg_id = message.unique_id();
  if (msg_id.empty()) {
    msg_id = MessageIdGenerator::Default().Next();
    (*wire->mutable_properties())[std::string(format::kPropertyUniqueKey)] = msg_id;
  }
  int32_t sys_flag = 0;
  if (allow_compression && message.body().size() >= options_.compress_body_threshold_bytes) {
    absl::StatusOr<std::string> compressed = ZlibCompress(message.body(), options_.compress_level);
    if (compressed.ok() && compressed->size() < message.body().size()) {
      wire->set_body(*std::move(compressed));
      sys_flag |= kCompressedFlag;
    } else if (!compressed.ok()) {
      LOG(WARNING) << "sending message " << msg_id << " uncompressed: " << compressed.status();
    }
  }
  if ((sys_flag & kCompressedFlag) == 0) wire->set_body(message.body());
  request->set_producer_group(group_);
  request->set_default_topic(options_.create_topic_key);
  request->set_default_topic_queue_nums(options_.default_topic_queue_nums);
  request->set_sys_flag(sys_flag);
  return msg_id;
}

absl::StatusOr<ProducerImpl::TopicEntry> ProducerImpl::FindTopicEntry(ClientInstance& instance,
                                                                      const std::string& topic,
                                                                      absl::Time deadline) {
  auto usable = [this, &topic]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> const TopicEntry* {
    TopicEntry& entry = topics_[topic];
    if (entry.index == nullptr) entry.index = std::make_shared<ThreadLocalIndex>();
    return entry.info != nullptr && entry.info->ok() ? &entry : nullptr;
  };
  {
    absl::MutexLock lock(&mu_);
    if (const TopicEntry* entry = usable()) return *entry;
  }
  absl::Status status = instance.UpdateTopicRouteFromNameServer(topic, deadline);
  {
    absl::MutexLock lock(&mu_);
    if (const TopicEntry* entry = usable()) return *entry;
  }
  if (status.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "topic ", topic, " has no writable queue on a broker group with a live master"));
  }
  if (status.code() != absl::StatusCode::kNotFound) {
    return PrefixStatus(absl::StrCat("no route for topic ", topic, ": "), status);
  }
  absl::Status from_default = instance.UpdateTopicRouteFromDefault(
      topic, options_.create_topic_key, options_.default_topic_queue_nums, deadline);
  {
    absl::MutexLock lock(&mu_);
    if (const TopicEntry* entry = usable()) return *entry;
  }
  return absl::NotFoundError(absl::StrCat(
      "no route for topic ", topic, ": the name servers know neither it nor the default topic ",
      options_.create_topic_key,
      " (create the topic, or turn on auto-creation on a broker); last error: ",
      from_default.ok() ? "no writable queue" : from_default.message()));
}

absl::StatusOr<std::string> ProducerImpl::MasterAddressFor(ClientInstance& instance,
                                                           const std::string& topic,
                                                           const std::string& broker_name) {
  absl::optional<std::string> address = instance.FindBrokerMasterAddress(broker_name);
  if (!address.has_value()) {
    absl::Status refreshed = instance.UpdateTopicRouteFromNameServer(topic);
    if (!refreshed.ok()) VLOG(1) << "route refresh of " << topic << ": " << refreshed;
    address = instance.FindBrokerMasterAddress(broker_name);
  }
  if (!address.has_value()) {
    return absl::UnavailableError(
        absl::StrCat("broker group ", broker_name, " has no master address in the route"));
  }
  return *address;
}

void ProducerImpl::RunBeforeHooks(const SendContext& context) const {
  for (const auto& hook : hooks_) hook->BeforeSend(context);
}

void ProducerImpl::RunAfterHooks(const SendContext& context,
                                 const absl::StatusOr<SendResult>& result) const {
  for (const auto& hook : hooks_) hook->AfterSend(context, result);
}

absl::StatusOr<SendResult> ProducerImpl::SendWithRetries(ClientInstance& instance,
                                                         const std::string& topic,
                                                         const TopicEntry& entry,
                                                         const MessageQueue* fixed_queue,
                                                         SendRetryState& retry, SendContext context,
                                                         AttemptFn attempt) {
  while (true) {
    absl::optional<MessageQueue> queue =
        fixed_queue != nullptr ? absl::optional<MessageQueue>(*fixed_queue)
                               : fault_.SelectQueue(*entry.info, *entry.index, retry.last_broker());
    if (!queue.has_value()) break;
    absl::optional<absl::Duration> timeout = retry.BeginAttempt(*queue);
    if (!timeout.has_value()) break;
    absl::StatusOr<std::string> address = MasterAddressFor(instance, topic, queue->broker_name);
    if (!address.ok()) {
      fault_.UpdateFaultItem(queue->broker_name, absl::ZeroDuration(), true);
      retry.RecordFailure(address.status());
      continue;
    }
    context.queue = *queue;
    context.broker_address = *address;
    context.attempt = retry.attempt();
    RunBeforeHooks(context);
    const absl::Time start = absl::Now();
    absl::StatusOr<SendResult> result = attempt(*queue, *address, *timeout);
    fault_.UpdateFaultItem(queue->broker_name, absl::Now() - start, !result.ok());
    RunAfterHooks(context, result);
    if (result.ok()) {
      if (result->status != SendStatus::kSendOk &&
          options_.retry_another_broker_when_not_store_ok && retry.HasAttemptsLeft()) {
        retry.RecordNotStoredOk(*result);
        continue;
      }
      return result;
    }
    retry.RecordFailure(result.status());
    if (!IsRetryableSendError(result.status(), options_.retry_response_codes)) break;
  }
  return retry.Final(topic, context.msg_id);
}

absl::StatusOr<SendResult> ProducerImpl::SendMessageRpc(ClientInstance& instance,
                                                        broker::v1::SendMessageRequest* request,
                                                        const MessageQueue& queue,
                                                        const std::string& address,
                                                        absl::Duration timeout) {
  request->set_queue_id(queue.queue_id);
  request->set_broker_name(queue.broker_name);
  request->set_born_timestamp_ms(NowUnixMillis());
  // Shared with the stream, which may answer after this attempt gave up.
  struct Answer {
    absl::Notification done;
    absl::StatusOr<broker::v1::SendMessageResponse> response;
  };
  auto answer = std::make_shared<Answer>();
  std::shared_ptr<BrokerSendStream> stream = instance.SendStream(address);
  const uint64_t id =
      stream->Send(*request, absl::Now() + timeout,
                   [answer](absl::StatusOr<broker::v1::SendMessageResponse> response) {
                     answer->response = std::move(response);
                     answer->done.Notify();
                   });
  // Expire() answers at once unless the answer is being delivered right now.
  if (!answer->done.WaitForNotificationWithTimeout(timeout)) stream->Expire(id);
  answer->done.WaitForNotification();
  if (!answer->response.ok()) {
    return PrefixStatus(BrokerLabel(queue, address), answer->response.status());
  }
  return ResultOf(*answer->response,
                  request->message().properties().at(std::string(format::kPropertyUniqueKey)),
                  queue);
}

absl::StatusOr<SendResult> ProducerImpl::SendBatchRpc(ClientInstance& instance,
                                                      broker::v1::SendBatchRequest* request,
                                                      const MessageQueue& queue,
                                                      const std::string& address,
                                                      absl::Duration timeout) {
  request->set_queue_id(queue.queue_id);
  request->set_broker_name(queue.broker_name);
  request->set_born_timestamp_ms(NowUnixMillis());
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  broker::v1::SendBatchResponse response;
  absl::Status status = FromGrpcStatus(
      instance.BrokerStub(address)->SendBatch(&context, *request, &response), context);
  if (!status.ok()) return PrefixStatus(BrokerLabel(queue, address), status);
  std::vector<std::string> ids;
  if (response.msg_ids().empty()) {
    for (const auto& m : request->messages()) {
      ids.push_back(m.properties().at(std::string(format::kPropertyUniqueKey)));
    }
  } else {
    ids.assign(response.msg_ids().begin(), response.msg_ids().end());
  }
  return ToSendResult(response.status(), absl::StrJoin(ids, ","),
                      absl::StrJoin(response.offset_msg_ids(), ","), response.broker_name(),
                      response.queue_id(), response.queue_offset(), queue);
}

absl::StatusOr<SendResult> ProducerImpl::Send(const Message& message, absl::Duration timeout) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(false);
  if (!instance.ok()) return instance.status();
  if (absl::Status s = ValidateMessage(message); !s.ok()) return s;
  const absl::Time begin = absl::Now();
  absl::StatusOr<TopicEntry> entry = FindTopicEntry(**instance, message.topic(), begin + timeout);
  if (!entry.ok()) return entry.status();
  broker::v1::SendMessageRequest request;
  const std::string msg_id = PrepareRequest(message, true, &request);
  SendRetryState retry(1 + options_.retry_times_when_send_failed, timeout,
                       options_.max_attempt_timeout, begin);
  SendContext context;
  context.producer_group = &group_;
  context.message = &message;
  context.mode = SendMode::kSync;
  context.msg_id = msg_id;
  ClientInstance& client = **instance;
  return SendWithRetries(
      client, message.topic(), *entry, nullptr, retry, std::move(context),
      [&](const MessageQueue& queue, const std::string& address, absl::Duration attempt_timeout) {
        return SendMessageRpc(client, &request, queue, address, attempt_timeout);
      });
}

void ProducerImpl::SendAsync(const Message& message, SendCallback callback,
                             absl::Duration timeout) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(true);
  if (!instance.ok()) {
    callback(instance.status());
    return;
  }
  auto fail = [this, &callback](absl::Status status) {
    callback(std::move(status));
    EndInflight();
  };
  if (absl::Status s = ValidateMessage(message); !s.ok()) return fail(s);
  const absl::Time begin = absl::Now();
  absl::StatusOr<TopicEntry> entry = FindTopicEntry(**instance, message.topic(), begin + timeout);
  if (!entry.ok()) return fail(entry.status());
  broker::v1::SendMessageRequest request;
  const std::string msg_id = PrepareRequest(message, true, &request);
  auto send = std::make_shared<AsyncSend>(
      this, *std::move(instance), *std::move(entry), std::move(request), msg_id,
      hooks_.empty() ? nullptr : std::make_unique<Message>(message), std::move(callback), begin,
      timeout);
  send->Next();
}

absl::Status ProducerImpl::SendOneway(const Message& message) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(true);
  if (!instance.ok()) return instance.status();
  auto fail = [this](absl::Status status) {
    EndInflight();
    return status;
  };
  if (absl::Status s = ValidateMessage(message); !s.ok()) return fail(s);
  absl::StatusOr<TopicEntry> entry =
      FindTopicEntry(**instance, message.topic(), absl::Now() + options_.send_timeout);
  if (!entry.ok()) return fail(entry.status());
  broker::v1::SendMessageRequest request;
  const std::string msg_id = PrepareRequest(message, true, &request);
  absl::optional<MessageQueue> queue = fault_.SelectQueue(*entry->info, *entry->index, "");
  absl::StatusOr<std::string> address =
      MasterAddressFor(**instance, message.topic(), queue->broker_name);
  if (!address.ok()) return fail(address.status());
  request.set_queue_id(queue->queue_id);
  request.set_broker_name(queue->broker_name);
  request.set_born_timestamp_ms(NowUnixMillis());
  SendContext context;
  context.producer_group = &group_;
  context.message = &message;
  context.mode = SendMode::kOneway;
  context.queue = *queue;
  context.broker_address = *address;
  context.msg_id = msg_id;
  RunBeforeHooks(context);
  (new OnewaySend(this, std::move(request), std::move(context)))->Start(**instance);
  return absl::OkStatus();
}

absl::StatusOr<SendResult> ProducerImpl::SendToChosenQueue(ClientInstance& instance,
                                                           const Message& message,
                                                           const TopicEntry& entry,
                                                           const MessageQueue& queue,
                                                           absl::Time begin) {
  broker::v1::SendMessageRequest request;
  const std::string msg_id = PrepareRequest(message, true, &request);
  SendRetryState retry(1, options_.send_timeout, options_.max_attempt_timeout, begin);
  SendContext context;
  context.producer_group = &group_;
  context.message = &message;
  context.mode = SendMode::kSync;
  context.msg_id = msg_id;
  return SendWithRetries(
      instance, message.topic(), entry, &queue, retry, std::move(context),
      [&](const MessageQueue& q, const std::string& address, absl::Duration timeout) {
        return SendMessageRpc(instance, &request, q, address, timeout);
      });
}

absl::StatusOr<SendResult> ProducerImpl::SendSelect(const Message& message,
                                                    const MessageQueueSelector& selector) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(false);
  if (!instance.ok()) return instance.status();
  if (!selector) return absl::InvalidArgumentError("message queue selector is empty");
  if (absl::Status s = ValidateMessage(message); !s.ok()) return s;
  const absl::Time begin = absl::Now();
  absl::StatusOr<TopicEntry> entry =
      FindTopicEntry(**instance, message.topic(), begin + options_.send_timeout);
  if (!entry.ok()) return entry.status();
  const std::vector<MessageQueue>& queues = entry->info->queues();
  const size_t index = selector(queues, message);
  if (index >= queues.size()) {
    return absl::InvalidArgumentError(absl::StrCat("selector chose queue index ", index,
                                                   " of topic ", message.topic(), ", which has ",
                                                   queues.size(), " writable queues"));
  }
  return SendToChosenQueue(**instance, message, *entry, queues[index], begin);
}

absl::StatusOr<SendResult> ProducerImpl::SendToQueue(const Message& message,
                                                     const MessageQueue& queue) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(false);
  if (!instance.ok()) return instance.status();
  if (queue.topic != message.topic()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "queue ", queue.ToString(), " is not of the message's topic ", message.topic()));
  }
  if (absl::Status s = ValidateMessage(message); !s.ok()) return s;
  const absl::Time begin = absl::Now();
  absl::StatusOr<TopicEntry> entry =
      FindTopicEntry(**instance, message.topic(), begin + options_.send_timeout);
  if (!entry.ok()) return entry.status();
  return SendToChosenQueue(**instance, message, *entry, queue, begin);
}

absl::StatusOr<SendResult> ProducerImpl::SendBatch(const std::vector<Message>& messages) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(false);
  if (!instance.ok()) return instance.status();
  if (messages.empty()) return MessageIllegal("batch is empty");
  const std::string& topic = messages.front().topic();
  if (absl::StartsWith(topic, kRetryTopicPrefix)) {
    return MessageIllegal(absl::StrCat("batches cannot go to retry topic ", topic));
  }
  broker::v1::SendBatchRequest request;
  request.set_producer_group(group_);
  request.set_topic(topic);
  request.set_default_topic(options_.create_topic_key);
  request.set_default_topic_queue_nums(options_.default_topic_queue_nums);
  size_t total_bytes = 0;
  std::vector<std::string> ids;
  for (const Message& message : messages) {
    if (message.topic() != topic) {
      return MessageIllegal(
          absl::StrCat("a batch must have one topic; found ", topic, " and ", message.topic()));
    }
    if (absl::Status s = ValidateMessage(message); !s.ok()) return s;
    broker::v1::SendMessageRequest single;
    const std::string msg_id = PrepareRequest(message, false, &single);
    ids.push_back(msg_id);
    total_bytes += message.body().size();
    for (const auto& [key, value] : single.message().properties()) {
      total_bytes += key.size() + value.size();
    }
    *request.add_messages() = std::move(*single.mutable_message());
  }
  if (total_bytes > options_.max_message_size_bytes) {
    return MessageIllegal(absl::StrCat("batch of ", total_bytes,
                                       " bytes exceeds max_message_size_bytes (",
                                       options_.max_message_size_bytes, ")"));
  }
  const absl::Time begin = absl::Now();
  absl::StatusOr<TopicEntry> entry =
      FindTopicEntry(**instance, topic, begin + options_.send_timeout);
  if (!entry.ok()) return entry.status();
  SendRetryState retry(1 + options_.retry_times_when_send_failed, options_.send_timeout,
                       options_.max_attempt_timeout, begin);
  SendContext context;
  context.producer_group = &group_;
  context.message = &messages.front();
  context.mode = SendMode::kSync;
  context.msg_id = absl::StrJoin(ids, ",");
  ClientInstance& client = **instance;
  return SendWithRetries(
      client, topic, *entry, nullptr, retry, std::move(context),
      [&](const MessageQueue& queue, const std::string& address, absl::Duration timeout) {
        return SendBatchRpc(client, &request, queue, address, timeout);
      });
}

absl::StatusOr<std::vector<MessageQueue>> ProducerImpl::FetchPublishQueues(
    const std::string& topic) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(false);
  if (!instance.ok()) return instance.status();
  if (absl::Status s = ValidateTopic(topic); !s.ok()) return s;
  absl::StatusOr<TopicEntry> entry =
      FindTopicEntry(**instance, topic, absl::Now() + options_.client.api_timeout);
  if (!entry.ok()) return entry.status();
  return entry->info->queues();
}

}  // namespace client_internal
}  // namespace mq
