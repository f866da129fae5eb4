#include "client/src/producer_impl.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/src/client_registry.h"
#include "client/src/compression.h"
#include "client/src/message_id_generator.h"
#include "client/src/send_operation.h"
#include "common/format/property_keys.h"
#include "common/retry_topics.h"
#include "common/status.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace mq::client_internal {
namespace {

// Topics the broker keeps for itself (RocketMQ's TopicValidator.isNotAllowedSendTopic).
constexpr absl::string_view kNotAllowedSendTopics[] = {
    "SCHEDULE_TOPIC_XXXX",        "RMQ_SYS_TRANS_HALF_TOPIC", "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC", "SELF_TEST_TOPIC",          "OFFSET_MOVED_EVENT"};

constexpr absl::string_view kReservedProducerGroup = "DEFAULT_PRODUCER";

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
  if (options.max_oneway_in_flight <= 0) {
    return absl::InvalidArgumentError("max_oneway_in_flight must be positive");
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

}  // namespace

ProducerImpl::ProducerImpl(std::string group, ProducerOptions options, const Clock* fault_clock)
    : group_(std::move(group)),
      options_(std::move(options)),
      lifecycle_(absl::StrCat("producer group ", group_)),
      fault_(options_.send_latency_fault_enable, fault_clock) {}

ProducerImpl::~ProducerImpl() { Shutdown(); }

absl::Status ProducerImpl::Start() {
  if (absl::Status s = lifecycle_.BeginStart(); !s.ok()) return s;
  if (absl::Status s = ValidateProducerOptions(group_, options_); !s.ok()) {
    return lifecycle_.StartFailed(s);
  }
  {
    // As RocketMQ: the default topic's route is fetched with the others from
    // the start, so the brokers are known (and hear the first heartbeat)
    // before the first send.
    absl::MutexLock lock(&mu_);
    topics_[options_.create_topic_key];
  }
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance =
      ClientRegistry::Default().RegisterProducer(options_.client, group_, this);
  if (!instance.ok()) return lifecycle_.StartFailed(instance.status());
  (*instance)->SendHeartbeatToAllBrokers();
  VLOG(1) << "producer group " << group_ << " started in client instance "
          << (*instance)->client_id();
  lifecycle_.Started(*std::move(instance));
  return absl::OkStatus();
}

void ProducerImpl::Shutdown() {
  std::shared_ptr<ClientInstance> instance = lifecycle_.Shutdown();
  if (instance == nullptr) return;
  lifecycle_.ShutdownDone();
  ClientRegistry::Default().UnregisterProducer(instance, group_);
  VLOG(1) << "producer group " << group_ << " shut down";
}

ServiceState ProducerImpl::state() const { return lifecycle_.state(); }

std::string ProducerImpl::client_id() const { return lifecycle_.client_id(); }

absl::Status ProducerImpl::AddSendHook(std::shared_ptr<SendHook> hook) {
  absl::MutexLock lock(&mu_);
  if (lifecycle_.state() != ServiceState::kCreateJust) {
    return absl::FailedPreconditionError("send hooks must be added before Start()");
  }
  hooks_.push_back(std::move(hook));
  return absl::OkStatus();
}

std::vector<std::string> ProducerImpl::TopicsInUse() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> topics;
  for (const auto& [topic, index] : topics_) topics.push_back(topic);
  return topics;
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
  std::string level = message.GetProperty(format::kPropertyDelayTimeLevel);
  int level_value = 0;
  if (!level.empty() && (!absl::SimpleAtoi(level, &level_value) || level_value < 0)) {
    return MessageIllegal(absl::StrCat("delay level \"", level, "\" must be an integer >= 0"));
  }
  std::string deliver = message.GetProperty(format::kPropertyTimerDeliverMs);
  int64_t deliver_ms = 0;
  if (!deliver.empty() && !absl::SimpleAtoi(deliver, &deliver_ms)) {
    return MessageIllegal(
        absl::StrCat("deliver time \"", deliver, "\" must be milliseconds since the epoch"));
  }
  if (level_value > 0 && !deliver.empty()) {
    return MessageIllegal("a message may have a delay level or a deliver time, not both");
  }
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
  TopicEntry entry;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<ThreadLocalIndex>& index = topics_[topic];
    if (index == nullptr) index = std::make_shared<ThreadLocalIndex>();
    entry.index = index;
  }
  auto usable = [&] {
    entry.info = instance.routes().PublishInfo(topic);
    return entry.info != nullptr && entry.info->ok();
  };
  if (usable()) return entry;
  absl::Status status = instance.UpdateTopicRouteFromNameServer(topic, deadline);
  if (usable()) return entry;
  if (status.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "topic ", topic, " has no writable queue on a broker group with a live master"));
  }
  if (status.code() != absl::StatusCode::kNotFound) {
    return PrefixStatus(absl::StrCat("no route for topic ", topic, ": "), status);
  }
  absl::Status from_default = instance.UpdateTopicRouteFromDefault(
      topic, options_.create_topic_key, options_.default_topic_queue_nums, deadline);
  if (usable()) return entry;
  return absl::NotFoundError(absl::StrCat(
      "no route for topic ", topic, ": the name servers know neither it nor the default topic ",
      options_.create_topic_key,
      " (create the topic, or turn on auto-creation on a broker); last error: ",
      from_default.ok() ? "no writable queue" : from_default.message()));
}

absl::StatusOr<std::string> ProducerImpl::MasterAddressFor(ClientInstance& instance,
                                                           const std::string& topic,
                                                           const std::string& broker_name) {
  absl::optional<std::string> address = instance.routes().FindMasterAddress(broker_name);
  if (!address.has_value()) {
    absl::Status refreshed = instance.UpdateTopicRouteFromNameServer(topic);
    if (!refreshed.ok()) VLOG(1) << "route refresh of " << topic << ": " << refreshed;
    address = instance.routes().FindMasterAddress(broker_name);
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

absl::StatusOr<std::shared_ptr<ProducerImpl::SendOperation>> ProducerImpl::Launch(
    std::shared_ptr<ClientInstance> instance, const std::string& topic, const Message& hook_message,
    std::shared_ptr<broker::v1::SendStreamRequest> request, std::string msg_id, SendPlan plan,
    SendDone done) {
  SendDone finish = [this, done = std::move(done)](absl::StatusOr<SendResult> result) {
    done(std::move(result));
    lifecycle_.Leave();
  };
  const absl::Time begin = absl::Now();
  absl::StatusOr<TopicEntry> entry = FindTopicEntry(*instance, topic, begin + plan.timeout);
  if (!entry.ok()) {
    finish(entry.status());
    return entry.status();
  }
  absl::optional<MessageQueue> fixed_queue;
  if (plan.choose_queue) {
    absl::StatusOr<MessageQueue> chosen = plan.choose_queue(*entry->info);
    if (!chosen.ok()) {
      finish(chosen.status());
      return chosen.status();
    }
    fixed_queue = *std::move(chosen);
  }
  // A send that outlives the call keeps a copy of the message for the hooks.
  std::unique_ptr<Message> hook_copy;
  if (!hooks_.empty() && plan.mode != SendMode::kSync) {
    hook_copy = std::make_unique<Message>(hook_message);
  }
  auto operation = std::make_shared<SendOperation>(
      this, std::move(instance), *std::move(entry), std::move(fixed_queue), std::move(plan), begin,
      std::move(request), std::move(msg_id), &hook_message, std::move(hook_copy),
      std::move(finish));
  if (!operation->Start()) return operation->unsent_error();
  return operation;
}

absl::StatusOr<SendResult> ProducerImpl::LaunchAndWait(
    std::shared_ptr<ClientInstance> instance, const std::string& topic, const Message& hook_message,
    std::shared_ptr<broker::v1::SendStreamRequest> request, std::string msg_id, SendPlan plan) {
  // Shared with the operation, which may finish after a wait that gave up.
  struct Outcome {
    absl::Notification done;
    absl::StatusOr<SendResult> result;
  };
  auto outcome = std::make_shared<Outcome>();
  absl::StatusOr<std::shared_ptr<SendOperation>> operation =
      Launch(std::move(instance), topic, hook_message, std::move(request), std::move(msg_id),
             std::move(plan), [outcome](absl::StatusOr<SendResult> result) {
               outcome->result = std::move(result);
               outcome->done.Notify();
             });
  if (operation.ok()) (*operation)->AwaitOnCaller();
  outcome->done.WaitForNotification();
  return std::move(outcome->result);
}

absl::StatusOr<ProducerImpl::PreparedSend> ProducerImpl::PrepareSend(const Message& message) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = lifecycle_.Enter();
  if (!instance.ok()) return instance.status();
  if (absl::Status s = ValidateMessage(message); !s.ok()) {
    lifecycle_.Leave();
    return s;
  }
  PreparedSend prepared;
  prepared.instance = *std::move(instance);
  prepared.request = std::make_shared<broker::v1::SendStreamRequest>();
  prepared.msg_id = PrepareRequest(message, true, prepared.request->mutable_send());
  return prepared;
}

absl::StatusOr<SendResult> ProducerImpl::SendOne(const Message& message, SendPlan plan) {
  absl::StatusOr<PreparedSend> prepared = PrepareSend(message);
  if (!prepared.ok()) return prepared.status();
  return LaunchAndWait(std::move(prepared->instance), message.topic(), message,
                       std::move(prepared->request), std::move(prepared->msg_id), std::move(plan));
}

absl::StatusOr<SendResult> ProducerImpl::Send(const Message& message, absl::Duration timeout) {
  SendPlan plan;
  plan.timeout = timeout;
  plan.max_attempts = 1 + options_.retry_times_when_send_failed;
  return SendOne(message, std::move(plan));
}

void ProducerImpl::SendAsync(const Message& message, SendCallback callback,
                             absl::Duration timeout) {
  absl::StatusOr<PreparedSend> prepared = PrepareSend(message);
  if (!prepared.ok()) {
    callback(prepared.status());
    return;
  }
  SendPlan plan;
  plan.mode = SendMode::kAsync;
  plan.timeout = timeout;
  plan.max_attempts = 1 + options_.retry_times_when_send_async_failed;
  Launch(std::move(prepared->instance), message.topic(), message, std::move(prepared->request),
         std::move(prepared->msg_id), std::move(plan), std::move(callback));
}

absl::Status ProducerImpl::SendOneway(const Message& message) {
  {
    absl::MutexLock lock(&mu_);
    auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return oneway_in_flight_ < options_.max_oneway_in_flight;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&has_room), options_.send_timeout)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "producer group ", group_, ": ", oneway_in_flight_,
          " oneway sends are still unanswered (max_oneway_in_flight) after send_timeout ",
          absl::FormatDuration(options_.send_timeout)));
    }
    ++oneway_in_flight_;
  }
  auto release = [this] {
    absl::MutexLock lock(&mu_);
    --oneway_in_flight_;
  };
  absl::StatusOr<PreparedSend> prepared = PrepareSend(message);
  if (!prepared.ok()) {
    release();
    return prepared.status();
  }
  SendPlan plan;
  plan.mode = SendMode::kOneway;
  plan.timeout = options_.send_timeout;
  // Its outcome goes only to the hooks; failures before it went out are returned.
  return Launch(std::move(prepared->instance), message.topic(), message,
                std::move(prepared->request), std::move(prepared->msg_id), std::move(plan),
                [release](absl::StatusOr<SendResult>) { release(); })
      .status();
}

absl::StatusOr<SendResult> ProducerImpl::SendSelect(const Message& message,
                                                    const MessageQueueSelector& selector) {
  if (!selector) {
    if (absl::Status s = lifecycle_.Enter().status(); !s.ok()) return s;
    lifecycle_.Leave();
    return absl::InvalidArgumentError("message queue selector is empty");
  }
  SendPlan plan;
  plan.timeout = options_.send_timeout;
  plan.choose_queue = [&](const TopicPublishInfo& info) -> absl::StatusOr<MessageQueue> {
    const std::vector<MessageQueue>& queues = info.queues();
    const size_t index = selector(queues, message);
    if (index >= queues.size()) {
      return absl::InvalidArgumentError(absl::StrCat("selector chose queue index ", index,
                                                     " of topic ", message.topic(), ", which has ",
                                                     queues.size(), " writable queues"));
    }
    return queues[index];
  };
  return SendOne(message, std::move(plan));
}

absl::StatusOr<SendResult> ProducerImpl::SendToQueue(const Message& message,
                                                     const MessageQueue& queue) {
  if (queue.topic != message.topic()) {
    if (absl::Status s = lifecycle_.Enter().status(); !s.ok()) return s;
    lifecycle_.Leave();
    return absl::InvalidArgumentError(absl::StrCat(
        "queue ", queue.ToString(), " is not of the message's topic ", message.topic()));
  }
  SendPlan plan;
  plan.timeout = options_.send_timeout;
  plan.choose_queue = [&queue](const TopicPublishInfo&) -> absl::StatusOr<MessageQueue> {
    return queue;
  };
  return SendOne(message, std::move(plan));
}

absl::StatusOr<std::shared_ptr<broker::v1::SendStreamRequest>> ProducerImpl::PrepareBatch(
    const std::vector<Message>& messages, std::string* msg_ids) const {
  if (messages.empty()) return MessageIllegal("batch is empty");
  const std::string& topic = messages.front().topic();
  if (IsRetryTopic(topic)) {
    return MessageIllegal(absl::StrCat("batches cannot go to retry topic ", topic));
  }
  auto stream_request = std::make_shared<broker::v1::SendStreamRequest>();
  broker::v1::SendBatchRequest& request = *stream_request->mutable_batch();
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
    if (message.delay_time_level() > 0 || message.deliver_time().has_value() ||
        !message.GetProperty(format::kPropertyStartDeliverTime).empty()) {
      return MessageIllegal("a batch cannot carry delayed messages (delay level or deliver time)");
    }
    broker::v1::SendMessageRequest single;
    ids.push_back(PrepareRequest(message, false, &single));
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
  *msg_ids = absl::StrJoin(ids, ",");
  return stream_request;
}

absl::StatusOr<SendResult> ProducerImpl::SendBatch(const std::vector<Message>& messages) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = lifecycle_.Enter();
  if (!instance.ok()) return instance.status();
  std::string msg_ids;
  absl::StatusOr<std::shared_ptr<broker::v1::SendStreamRequest>> request =
      PrepareBatch(messages, &msg_ids);
  if (!request.ok()) {
    lifecycle_.Leave();
    return request.status();
  }
  SendPlan plan;
  plan.timeout = options_.send_timeout;
  plan.max_attempts = 1 + options_.retry_times_when_send_failed;
  return LaunchAndWait(*std::move(instance), messages.front().topic(), messages.front(),
                       *std::move(request), std::move(msg_ids), std::move(plan));
}

absl::StatusOr<std::vector<MessageQueue>> ProducerImpl::FetchPublishQueues(
    const std::string& topic) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = lifecycle_.Enter();
  if (!instance.ok()) return instance.status();
  absl::Status valid = ValidateTopic(topic);
  absl::StatusOr<TopicEntry> entry =
      valid.ok() ? FindTopicEntry(**instance, topic, absl::Now() + options_.client.api_timeout)
                 : absl::StatusOr<TopicEntry>(valid);
  lifecycle_.Leave();
  if (!entry.ok()) return entry.status();
  return entry->info->queues();
}

}  // namespace mq::client_internal
