#include "services/broker/send_message_processor.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/format/property_keys.h"
#include "common/format/record_format.h"
#include "common/retry_topics.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/broker/broker_errors.h"

namespace mq::broker {

namespace {

absl::Status StoreRefused(absl::StatusCode code, common::v1::ResponseCode response_code,
                          const store::v1::AppendResult& result) {
  return WithResponseCode(
      absl::Status(code, absl::StrCat("store refused the message: ",
                                      store::v1::PutStatus_Name(result.status()),
                                      result.error().empty() ? "" : ": ", result.error())),
      response_code);
}

std::string UniqueKey(const common::v1::Message& message) {
  auto it = message.properties().find(std::string(format::kPropertyUniqueKey));
  return it == message.properties().end() ? std::string() : it->second;
}

}  // namespace

absl::StatusOr<broker::v1::SendStatus> MapPutStatus(const store::v1::AppendResult& result) {
  switch (result.status()) {
    case store::v1::PUT_OK:
      return broker::v1::SEND_OK;
    case store::v1::FLUSH_DISK_TIMEOUT:
      return broker::v1::FLUSH_DISK_TIMEOUT;
    case store::v1::FLUSH_SLAVE_TIMEOUT:
      return broker::v1::FLUSH_SLAVE_TIMEOUT;
    case store::v1::SLAVE_NOT_AVAILABLE:
      return broker::v1::SLAVE_NOT_AVAILABLE;
    case store::v1::SERVICE_NOT_AVAILABLE:
      return StoreRefused(absl::StatusCode::kUnavailable, common::v1::SERVICE_NOT_AVAILABLE,
                          result);
    case store::v1::MESSAGE_ILLEGAL:
    case store::v1::PROPERTIES_SIZE_EXCEEDED:
      return StoreRefused(absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL, result);
    case store::v1::OS_PAGECACHE_BUSY:
      return StoreRefused(absl::StatusCode::kResourceExhausted, common::v1::SYSTEM_BUSY, result);
    case store::v1::CREATE_MAPPED_FILE_FAILED:
      // No file for the record: the disk is full or failing. As every other
      // out-of-space path, UNAVAILABLE, which clients retry on another broker.
      return StoreRefused(absl::StatusCode::kUnavailable, common::v1::SERVICE_NOT_AVAILABLE,
                          result);
    case store::v1::UNKNOWN_ERROR:
    default:
      return StoreRefused(absl::StatusCode::kInternal, common::v1::SYSTEM_ERROR, result);
  }
}

SendMessageProcessor::SendMessageProcessor(store::StoreApi* store, TopicConfigManager* topics,
                                           SubscriptionGroupManager* groups,
                                           BrokerSendHookRegistry* hooks, SendOptions options,
                                           HalfMessagePreparer prepare_half)
    : store_(store),
      topics_(topics),
      groups_(groups),
      hooks_(hooks),
      options_(std::move(options)),
      prepare_half_(std::move(prepare_half)) {}

absl::Status SendMessageProcessor::CheckBroker(absl::string_view requested_broker_name,
                                               absl::string_view producer_group) const {
  if (options_.role == store::v1::SLAVE) {
    return ServiceNotAvailable(
        absl::StrCat("broker ", options_.broker_name, " is a slave and takes no sends"));
  }
  if (!requested_broker_name.empty() && requested_broker_name != options_.broker_name) {
    return WithResponseCode(absl::FailedPreconditionError(absl::StrCat(
                                "the send is for broker ", QuoteInput(requested_broker_name),
                                ", this is broker ", options_.broker_name)),
                            common::v1::SYSTEM_ERROR);
  }
  absl::Status group = ValidateGroup(producer_group);
  if (!group.ok()) return IllegalMessage(absl::StrCat("producer ", group.message()));
  return absl::OkStatus();
}

absl::Status SendMessageProcessor::CheckMessage(const common::v1::Message& message) const {
  if (message.body().empty()) return IllegalMessage("message body is empty");
  if (static_cast<int64_t>(message.body().size()) > options_.max_message_size) {
    return IllegalMessage(absl::StrFormat("message body is %d bytes, more than the limit %d",
                                          message.body().size(), options_.max_message_size));
  }
  absl::StatusOr<std::string> properties = format::EncodeProperties(message.properties());
  if (!properties.ok()) return IllegalMessage(properties.status().message());
  if (static_cast<int64_t>(properties->size()) > format::kMaxPropertiesBytes) {
    return IllegalMessage(absl::StrFormat("message properties are %d bytes encoded, more than %d",
                                          properties->size(), format::kMaxPropertiesBytes));
  }
  return absl::OkStatus();
}

absl::Status SendMessageProcessor::PrepareTransaction(store::v1::AppendEntry* entry) const {
  const auto& properties = entry->message().properties();
  auto prepared = properties.find(std::string(format::kPropertyTransactionPrepared));
  if (prepared == properties.end() || prepared->second != "true") return absl::OkStatus();
  if (prepare_half_ == nullptr) {
    return NoPermission(
        absl::StrCat("broker ", options_.broker_name, " takes no transaction messages"));
  }
  return prepare_half_(entry);
}

absl::Status SendMessageProcessor::ApplyRetryRules(int32_t reconsume_times,
                                                   common::v1::Message* message,
                                                   int32_t* queue_id) {
  const std::string group = message->topic().substr(kRetryTopicPrefix.size());
  absl::optional<broker::v1::SubscriptionGroupConfig> config = groups_->Find(group);
  if (!config.has_value()) return SubscriptionGroupNotExist(group);
  int32_t max_reconsume_times = config->retry_max_times();
  auto& properties = *message->mutable_properties();
  auto max_property = properties.find(std::string(format::kPropertyMaxReconsumeTimes));
  if (max_property != properties.end() &&
      !absl::SimpleAtoi(max_property->second, &max_reconsume_times)) {
    return IllegalMessage(absl::StrCat("property ", format::kPropertyMaxReconsumeTimes, " ",
                                       QuoteInput(max_property->second), " is not a number"));
  }
  absl::StatusOr<common::v1::TopicConfig> topic = reconsume_times >= max_reconsume_times
                                                      ? FindOrCreateDlqTopic(topics_, group)
                                                      : FindOrCreateRetryTopic(topics_, *config);
  if (!topic.ok()) return StoreCallError("cannot create the group's topic", topic.status());
  if (reconsume_times >= max_reconsume_times) {
    message->set_topic(topic->topic_name());
    properties.erase(std::string(format::kPropertyDelayTimeLevel));
    *queue_id = -1;
  }
  return absl::OkStatus();
}

absl::StatusOr<SendMessageProcessor::Target> SendMessageProcessor::ResolveTarget(
    absl::string_view topic, absl::string_view default_topic, int32_t default_topic_queue_nums,
    int32_t queue_id) {
  if (IsBrokerSystemTopic(topic)) {
    return NoPermission(absl::StrCat("topic ", topic,
                                     " is the broker's own; sending to it is "
                                     "forbidden"));
  }
  absl::StatusOr<common::v1::TopicConfig> config =
      topics_->FindOrCreateForSend(topic, default_topic, default_topic_queue_nums);
  if (!config.ok()) {
    if (GetResponseCode(config.status()).has_value()) return config.status();
    return StoreCallError(absl::StrCat("cannot create topic ", topic), config.status());
  }
  if (!HasPerm(config->perm(), common::v1::PERM_WRITE)) {
    return NoPermission(absl::StrCat("the topic[", topic, "] sending message is forbidden (perm ",
                                     config->perm(), ")"));
  }
  Target target;
  if (queue_id == -1) {
    target.queue_id = static_cast<int32_t>(next_queue_.fetch_add(1, std::memory_order_relaxed) %
                                           static_cast<uint32_t>(config->write_queue_nums()));
  } else if (queue_id < 0 || queue_id >= config->write_queue_nums()) {
    return WithResponseCode(
        absl::InvalidArgumentError(absl::StrFormat(
            "request queueId[%d] is illegal, topic %s has %d write queues on broker %s", queue_id,
            topic, config->write_queue_nums(), options_.broker_name)),
        common::v1::SYSTEM_ERROR);
  } else {
    target.queue_id = queue_id;
  }
  target.config = *std::move(config);
  return target;
}

bool SendMessageProcessor::FillEntry(common::v1::Message message, const Target& target,
                                     int32_t sys_flag, int64_t born_timestamp_ms,
                                     int32_t reconsume_times, absl::string_view born_host,
                                     store::v1::AppendEntry* entry) const {
  *entry->mutable_message() = std::move(message);
  bool wait_store_ok = true;
  auto wait = entry->mutable_message()->mutable_properties()->find(
      std::string(format::kPropertyWaitStoreMsgOk));
  if (wait != entry->mutable_message()->mutable_properties()->end()) {
    wait_store_ok = wait->second != "false";
    entry->mutable_message()->mutable_properties()->erase(wait);
  }
  entry->set_queue_id(target.queue_id);
  entry->set_sys_flag(sys_flag);
  entry->set_born_timestamp_ms(born_timestamp_ms > 0 ? born_timestamp_ms
                                                     : absl::ToUnixMillis(absl::Now()));
  entry->set_born_host(std::string(born_host));
  entry->set_store_host(options_.store_host);
  entry->set_reconsume_times(reconsume_times);
  return wait_store_ok;
}

void SendMessageProcessor::Append(store::v1::AppendBatchRequest request, BrokerSendContext context,
                                  Callback<Stored> done) {
  absl::Status before = hooks_->RunBefore(context);
  if (!before.ok()) {
    done(before);
    return;
  }
  const int entries = request.entries_size();
  store_->AppendBatchAsync(std::move(request),
                           [this, entries, context = std::move(context), done = std::move(done)](
                               absl::StatusOr<store::v1::AppendBatchResponse> response) mutable {
                             done(MapStored(response, entries, &context));
                           });
}

absl::StatusOr<SendMessageProcessor::Stored> SendMessageProcessor::MapStored(
    const absl::StatusOr<store::v1::AppendBatchResponse>& response, int entries,
    BrokerSendContext* context_out) const {
  BrokerSendContext& context = *context_out;
  Stored stored;
  if (!response.ok()) {
    context.status = StoreCallError("store append failed", response.status());
  } else if (response->results_size() != entries) {
    context.status = WithResponseCode(
        absl::InternalError(absl::StrFormat("store answered %d results for %d messages",
                                            response->results_size(), entries)),
        common::v1::SYSTEM_ERROR);
  } else {
    for (const store::v1::AppendResult& result : response->results()) {
      absl::StatusOr<broker::v1::SendStatus> status = MapPutStatus(result);
      if (!status.ok()) {
        context.status = status.status();
        break;
      }
      // The worst outcome of the batch; the enum is ordered by severity.
      stored.status = std::max(stored.status, *status);
    }
  }
  if (context.status.ok()) {
    stored.results.assign(response->results().begin(), response->results().end());
    context.send_status = stored.status;
    context.queue_offset = stored.results.front().queue_offset();
    store_failures_.Success();
  } else if (absl::IsUnavailable(context.status) || absl::IsInternal(context.status) ||
             absl::IsDeadlineExceeded(context.status)) {
    // The store cannot take writes (a bad message is the client's, not logged).
    store_failures_.Failure(context.status);
  }
  hooks_->RunAfter(context);
  if (!context.status.ok()) return context.status;
  return stored;
}

namespace {

// Runs an asynchronous send and waits for its answer.
template <typename Response>
absl::StatusOr<Response> Await(
    const std::function<void(SendMessageProcessor::Callback<Response>)>& start) {
  absl::Notification answered;
  absl::StatusOr<Response> result;
  start([&](absl::StatusOr<Response> r) {
    result = std::move(r);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

}  // namespace

broker::v1::SendMessageResponse SendMessageProcessor::ToSendResponse(const Stored& stored,
                                                                     const std::string& unique_key,
                                                                     int32_t queue_id) const {
  const store::v1::AppendResult& result = stored.results.front();
  broker::v1::SendMessageResponse response;
  response.set_status(stored.status);
  response.set_msg_id(unique_key.empty() ? result.offset_msg_id() : unique_key);
  response.set_offset_msg_id(result.offset_msg_id());
  response.set_queue_id(queue_id);
  response.set_queue_offset(result.queue_offset());
  response.set_broker_name(options_.broker_name);
  return response;
}

absl::StatusOr<broker::v1::SendMessageResponse> SendMessageProcessor::Send(
    broker::v1::SendMessageRequest request, absl::string_view born_host) {
  return Await<broker::v1::SendMessageResponse>(
      [&](Callback<broker::v1::SendMessageResponse> done) {
        SendAsync(std::move(request), born_host, std::move(done));
      });
}

absl::StatusOr<broker::v1::SendBatchResponse> SendMessageProcessor::SendBatch(
    broker::v1::SendBatchRequest request, absl::string_view born_host) {
  return Await<broker::v1::SendBatchResponse>([&](Callback<broker::v1::SendBatchResponse> done) {
    SendBatchAsync(std::move(request), born_host, std::move(done));
  });
}

absl::StatusOr<SendMessageProcessor::PreparedSend> SendMessageProcessor::PrepareSend(
    broker::v1::SendMessageRequest* request, absl::string_view born_host,
    store::v1::AppendEntry* entry) {
  absl::Status status = CheckBroker(request->broker_name(), request->producer_group());
  const common::v1::Message& message = request->message();
  if (status.ok()) {
    status = ValidateTopic(message.topic());
    if (!status.ok()) status = IllegalMessage(status.message());
  }
  if (status.ok()) status = CheckMessage(message);
  int32_t queue_id = request->queue_id();
  if (status.ok() && IsRetryTopic(message.topic())) {
    status = ApplyRetryRules(request->reconsume_times(), request->mutable_message(), &queue_id);
  }
  if (!status.ok()) return status;
  absl::StatusOr<Target> target = ResolveTarget(message.topic(), request->default_topic(),
                                                request->default_topic_queue_nums(), queue_id);
  if (!target.ok()) return target.status();

  PreparedSend prepared;
  BrokerSendContext& context = prepared.context;
  context.producer_group = request->producer_group();
  context.topic = message.topic();
  context.queue_id = target->queue_id;
  context.message_count = 1;
  context.body_bytes = static_cast<int64_t>(message.body().size());
  context.born_host = std::string(born_host);
  prepared.unique_key = UniqueKey(message);
  prepared.queue_id = target->queue_id;
  prepared.wait_store_ok =
      FillEntry(std::move(*request->mutable_message()), *target, request->sys_flag(),
                request->born_timestamp_ms(), request->reconsume_times(), born_host, entry);
  if (absl::Status half = PrepareTransaction(entry); !half.ok()) return half;
  return prepared;
}

void SendMessageProcessor::SendAsync(broker::v1::SendMessageRequest request,
                                     absl::string_view born_host,
                                     Callback<broker::v1::SendMessageResponse> done) {
  store::v1::AppendBatchRequest append;
  absl::StatusOr<PreparedSend> prepared = PrepareSend(&request, born_host, append.add_entries());
  if (!prepared.ok()) {
    done(prepared.status());
    return;
  }
  append.set_wait_store_ok(prepared->wait_store_ok);
  Append(std::move(append), std::move(prepared->context),
         [this, unique_key = std::move(prepared->unique_key), queue_id = prepared->queue_id,
          done = std::move(done)](absl::StatusOr<Stored> stored) {
           if (!stored.ok()) {
             done(stored.status());
             return;
           }
           done(ToSendResponse(*stored, unique_key, queue_id));
         });
}

void SendMessageProcessor::SendEachAsync(
    std::vector<broker::v1::SendMessageRequest> requests, absl::string_view born_host,
    std::function<void(std::vector<absl::StatusOr<broker::v1::SendMessageResponse>>)> done) {
  using Answers = std::vector<absl::StatusOr<broker::v1::SendMessageResponse>>;
  // What the store's callback needs: the answers so far (the refused sends'),
  // and for each stored entry its send's index and bookkeeping.
  struct Pending {
    Answers answers;
    std::vector<size_t> send_of_entry;
    std::vector<PreparedSend> prepared;
  };
  auto pending = std::make_shared<Pending>();
  pending->answers.resize(requests.size(), absl::UnknownError("not answered"));
  store::v1::AppendBatchRequest append;
  bool wait_store_ok = false;
  for (size_t i = 0; i < requests.size(); ++i) {
    store::v1::AppendEntry entry;
    absl::StatusOr<PreparedSend> prepared = PrepareSend(&requests[i], born_host, &entry);
    absl::Status before = prepared.ok() ? hooks_->RunBefore(prepared->context) : prepared.status();
    if (!before.ok()) {
      // Refused alone: its neighbours are stored.
      pending->answers[i] = before;
      continue;
    }
    wait_store_ok |= prepared->wait_store_ok;
    *append.add_entries() = std::move(entry);
    pending->send_of_entry.push_back(i);
    pending->prepared.push_back(*std::move(prepared));
  }
  if (append.entries().empty()) {
    done(std::move(pending->answers));
    return;
  }
  // One append for all: one lock, one flush wait, one slave wait. A send
  // that asked not to wait (WAIT=false) is answered with the others.
  append.set_wait_store_ok(wait_store_ok);
  store_->AppendBatchAsync(
      std::move(append), [this, pending, done = std::move(done)](
                             absl::StatusOr<store::v1::AppendBatchResponse> response) {
        const size_t entries = pending->send_of_entry.size();
        const bool counted =
            response.ok() && static_cast<size_t>(response->results_size()) == entries;
        for (size_t e = 0; e < entries; ++e) {
          PreparedSend& prepared = pending->prepared[e];
          // Each send's outcome is its own entry's (or the call's error).
          absl::StatusOr<store::v1::AppendBatchResponse> own =
              response.ok()
                  ? absl::StatusOr<store::v1::AppendBatchResponse>(store::v1::AppendBatchResponse())
                  : absl::StatusOr<store::v1::AppendBatchResponse>(response.status());
          if (counted) *own->add_results() = response->results(static_cast<int>(e));
          absl::StatusOr<Stored> stored = MapStored(own, 1, &prepared.context);
          pending->answers[pending->send_of_entry[e]] =
              stored.ok() ? absl::StatusOr<broker::v1::SendMessageResponse>(
                                ToSendResponse(*stored, prepared.unique_key, prepared.queue_id))
                          : absl::StatusOr<broker::v1::SendMessageResponse>(stored.status());
        }
        done(std::move(pending->answers));
      });
}

absl::StatusOr<int64_t> SendMessageProcessor::CheckBatch(
    const broker::v1::SendBatchRequest& request) const {
  absl::Status status = CheckBroker(request.broker_name(), request.producer_group());
  if (!status.ok()) return status;
  status = ValidateTopic(request.topic());
  if (!status.ok()) return IllegalMessage(status.message());
  if (request.messages().empty()) return IllegalMessage("the batch has no messages");
  int64_t body_bytes = 0;
  for (int i = 0; i < request.messages_size(); ++i) {
    const common::v1::Message& message = request.messages(i);
    if (message.topic() != request.topic()) {
      return IllegalMessage(absl::StrFormat("message %d of the batch is for topic %s, not %s", i,
                                            QuoteInput(message.topic()),
                                            QuoteInput(request.topic())));
    }
    status = CheckMessage(message);
    if (!status.ok()) return IllegalMessage(absl::StrCat("message ", i, ": ", status.message()));
    // Delayed delivery: as RocketMQ (MessageBatch), a batch carries no
    // delayed message.
    const auto& properties = message.properties();
    auto level = properties.find(std::string(format::kPropertyDelayTimeLevel));
    if ((level != properties.end() && level->second != "0") ||
        properties.count(std::string(format::kPropertyTimerDeliverMs)) > 0 ||
        properties.count(std::string(format::kPropertyStartDeliverTime)) > 0) {
      return IllegalMessage(absl::StrCat("message ", i,
                                         " of the batch is delayed (DELAY or TIMER_DELIVER_MS); "
                                         "a batch cannot carry delayed messages"));
    }
    if (message.properties().count(std::string(format::kPropertyTransactionPrepared)) > 0) {
      return IllegalMessage(absl::StrCat("message ", i,
                                         " is a transaction half message; "
                                         "a batch cannot carry one"));
    }
    body_bytes += static_cast<int64_t>(message.body().size());
  }
  if (body_bytes > options_.max_message_size) {
    return IllegalMessage(absl::StrFormat("the batch bodies are %d bytes, more than the limit %d",
                                          body_bytes, options_.max_message_size));
  }
  return body_bytes;
}

void SendMessageProcessor::SendBatchAsync(broker::v1::SendBatchRequest request,
                                          absl::string_view born_host,
                                          Callback<broker::v1::SendBatchResponse> done) {
  absl::StatusOr<int64_t> body_bytes = CheckBatch(request);
  absl::StatusOr<Target> target =
      body_bytes.ok() ? ResolveTarget(request.topic(), request.default_topic(),
                                      request.default_topic_queue_nums(), request.queue_id())
                      : absl::StatusOr<Target>(body_bytes.status());
  if (!target.ok()) {
    done(target.status());
    return;
  }

  std::vector<std::string> unique_keys;
  unique_keys.reserve(request.messages_size());
  store::v1::AppendBatchRequest append;
  bool wait_store_ok = true;
  for (common::v1::Message& message : *request.mutable_messages()) {
    unique_keys.push_back(UniqueKey(message));
    wait_store_ok &=
        FillEntry(std::move(message), *target, /*sys_flag=*/0, request.born_timestamp_ms(),
                  /*reconsume_times=*/0, born_host, append.add_entries());
  }
  append.set_wait_store_ok(wait_store_ok);
  BrokerSendContext context;
  context.producer_group = request.producer_group();
  context.topic = request.topic();
  context.queue_id = target->queue_id;
  context.message_count = request.messages_size();
  context.body_bytes = *body_bytes;
  context.born_host = std::string(born_host);
  Append(std::move(append), std::move(context),
         [this, unique_keys = std::move(unique_keys), queue_id = target->queue_id,
          done = std::move(done)](absl::StatusOr<Stored> stored) {
           if (!stored.ok()) {
             done(stored.status());
             return;
           }
           broker::v1::SendBatchResponse response;
           response.set_status(stored->status);
           for (size_t i = 0; i < unique_keys.size(); ++i) {
             const store::v1::AppendResult& result = stored->results[i];
             const std::string& unique_key = unique_keys[i];
             response.add_msg_ids(unique_key.empty() ? result.offset_msg_id() : unique_key);
             response.add_offset_msg_ids(result.offset_msg_id());
           }
           response.set_queue_id(queue_id);
           response.set_queue_offset(stored->results.front().queue_offset());
           response.set_broker_name(options_.broker_name);
           done(std::move(response));
         });
}

absl::StatusOr<broker::v1::SendMessageResponse> SendMessageProcessor::StoreCopy(
    store::v1::AppendEntry entry, const common::v1::TopicConfig& config) {
  std::vector<store::v1::AppendEntry> entries;
  entries.push_back(std::move(entry));
  return std::move(StoreCopies(std::move(entries), config).front());
}

std::vector<absl::StatusOr<broker::v1::SendMessageResponse>> SendMessageProcessor::StoreCopies(
    std::vector<store::v1::AppendEntry> entries, const common::v1::TopicConfig& config) {
  using Answers = std::vector<absl::StatusOr<broker::v1::SendMessageResponse>>;
  struct Copy {
    BrokerSendContext context;
    std::string unique_key;
    int32_t queue_id = 0;
  };
  Answers answers(entries.size(), absl::UnknownError("not answered"));
  std::vector<Copy> copies;
  std::vector<size_t> answer_of_entry;
  store::v1::AppendBatchRequest append;
  append.set_wait_store_ok(true);
  for (size_t i = 0; i < entries.size(); ++i) {
    store::v1::AppendEntry& entry = entries[i];
    Copy copy;
    copy.queue_id =
        static_cast<int32_t>(next_queue_.fetch_add(1, std::memory_order_relaxed) %
                             static_cast<uint32_t>(std::max(1, config.write_queue_nums())));
    entry.set_queue_id(copy.queue_id);
    entry.set_store_host(options_.store_host);
    copy.context.topic = config.topic_name();
    copy.context.queue_id = copy.queue_id;
    copy.context.message_count = 1;
    copy.context.body_bytes = static_cast<int64_t>(entry.message().body().size());
    copy.context.born_host = entry.born_host();
    copy.unique_key = UniqueKey(entry.message());
    if (absl::Status before = hooks_->RunBefore(copy.context); !before.ok()) {
      answers[i] = before;
      continue;
    }
    *append.add_entries() = std::move(entry);
    answer_of_entry.push_back(i);
    copies.push_back(std::move(copy));
  }
  if (append.entries().empty()) return answers;
  // One append for all: one lock, one flush wait, one slave wait.
  absl::StatusOr<store::v1::AppendBatchResponse> response = store_->AppendBatch(append);
  const bool counted =
      response.ok() && static_cast<size_t>(response->results_size()) == copies.size();
  for (size_t e = 0; e < copies.size(); ++e) {
    // Each copy's outcome is its own entry's (or the call's error).
    absl::StatusOr<store::v1::AppendBatchResponse> own =
        response.ok()
            ? absl::StatusOr<store::v1::AppendBatchResponse>(store::v1::AppendBatchResponse())
            : absl::StatusOr<store::v1::AppendBatchResponse>(response.status());
    if (counted) *own->add_results() = response->results(static_cast<int>(e));
    absl::StatusOr<Stored> stored = MapStored(own, 1, &copies[e].context);
    answers[answer_of_entry[e]] =
        stored.ok() ? absl::StatusOr<broker::v1::SendMessageResponse>(
                          ToSendResponse(*stored, copies[e].unique_key, copies[e].queue_id))
                    : absl::StatusOr<broker::v1::SendMessageResponse>(stored.status());
  }
  return answers;
}

}  // namespace mq::broker
