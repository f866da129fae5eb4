#include "services/broker/consumer_send_back_processor.h"

#include <glog/logging.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/format/property_keys.h"
#include "common/retry_topics.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/broker/broker_errors.h"

namespace mq::broker {

void ClearDeliveryProperties(google::protobuf::Map<std::string, std::string>* properties) {
  for (absl::string_view key :
       {format::kPropertyTimerDeliverMs, format::kPropertyStartDeliverTime,
        format::kPropertyScheduleDueMs, format::kPropertyScheduleSource, format::kPropertyRealTopic,
        format::kPropertyRealQueueId, format::kPropertyTransactionPrepared}) {
    properties->erase(std::string(key));
  }
}

int32_t RetryDelayLevel(int32_t requested, int32_t reconsume_times, int32_t level_count) {
  const int32_t level = requested > 0 ? requested : kFirstRetryDelayLevel + reconsume_times;
  return std::max(1, std::min(level, level_count));
}

ConsumerSendBackProcessor::ConsumerSendBackProcessor(store::StoreApi* store,
                                                     TopicConfigManager* topics,
                                                     SubscriptionGroupManager* groups,
                                                     SendMessageProcessor* send,
                                                     SendBackOptions options)
    : store_(store), topics_(topics), groups_(groups), send_(send), options_(std::move(options)) {}

absl::Status ConsumerSendBackProcessor::Check(
    const broker::v1::ConsumerSendBackRequest& request) const {
  if (options_.role == store::v1::SLAVE) {
    return ServiceNotAvailable(
        absl::StrCat("broker ", options_.broker_name, " is a slave and takes no send-backs"));
  }
  if (!request.broker_name().empty() && request.broker_name() != options_.broker_name) {
    return WithResponseCode(absl::FailedPreconditionError(absl::StrCat(
                                "the send-back is for broker ", QuoteInput(request.broker_name()),
                                ", this is broker ", options_.broker_name)),
                            common::v1::SYSTEM_ERROR);
  }
  if (absl::Status group = ValidateGroup(request.consumer_group()); !group.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("consumer ", group.message()));
  }
  if (request.commit_log_offset() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit log offset ", request.commit_log_offset(), " < 0"));
  }
  if (request.max_reconsume_times() < -1 || request.max_reconsume_times() > kMaxRetryMaxTimes) {
    return absl::InvalidArgumentError(absl::StrFormat("max reconsume times %d is outside -1..%d",
                                                      request.max_reconsume_times(),
                                                      kMaxRetryMaxTimes));
  }
  return absl::OkStatus();
}

absl::StatusOr<broker::v1::ConsumerSendBackResponse> ConsumerSendBackProcessor::SendBack(
    const broker::v1::ConsumerSendBackRequest& request) {
  return Copy(request, /*immediate=*/false);
}

absl::StatusOr<broker::v1::ConsumerSendBackResponse> ConsumerSendBackProcessor::Redeliver(
    const std::string& group, int64_t commit_log_offset, bool dead_letter) {
  std::vector<Redelivery> messages(1);
  messages[0].commit_log_offset = commit_log_offset;
  messages[0].dead_letter = dead_letter;
  return std::move(RedeliverAll(group, std::move(messages)).front());
}

std::vector<absl::StatusOr<broker::v1::ConsumerSendBackResponse>>
ConsumerSendBackProcessor::RedeliverAll(const std::string& group,
                                        std::vector<Redelivery> messages) {
  std::vector<absl::StatusOr<broker::v1::ConsumerSendBackResponse>> results(
      messages.size(), absl::InternalError("not redelivered"));
  std::vector<PreparedCopy> copies;
  std::vector<size_t> indexes;
  for (size_t i = 0; i < messages.size(); ++i) {
    broker::v1::ConsumerSendBackRequest request;
    request.set_consumer_group(group);
    request.set_commit_log_offset(messages[i].commit_log_offset);
    request.set_delay_level(messages[i].dead_letter ? -1 : 0);
    request.set_max_reconsume_times(-1);
    absl::StatusOr<PreparedCopy> copy =
        Prepare(request, /*immediate=*/true,
                messages[i].stored.has_value() ? &*messages[i].stored : nullptr);
    if (!copy.ok()) {
      results[i] = copy.status();
      continue;
    }
    copies.push_back(*std::move(copy));
    indexes.push_back(i);
  }
  // One store append per target topic (the group's %RETRY% or %DLQ%).
  std::map<std::string, std::vector<size_t>> by_target;
  for (size_t c = 0; c < copies.size(); ++c) {
    by_target[copies[c].target.topic_name()].push_back(c);
  }
  for (const auto& [topic, members] : by_target) {
    std::vector<store::v1::AppendEntry> entries;
    entries.reserve(members.size());
    for (size_t c : members) entries.push_back(std::move(copies[c].entry));
    std::vector<absl::StatusOr<broker::v1::SendMessageResponse>> sent =
        send_->StoreCopies(std::move(entries), copies[members.front()].target);
    for (size_t k = 0; k < members.size(); ++k) {
      results[indexes[members[k]]] = Finish(copies[members[k]], sent[k]);
    }
  }
  return results;
}

absl::StatusOr<broker::v1::ConsumerSendBackResponse> ConsumerSendBackProcessor::Copy(
    const broker::v1::ConsumerSendBackRequest& request, bool immediate) {
  absl::StatusOr<PreparedCopy> copy = Prepare(request, immediate, nullptr);
  if (!copy.ok()) return copy.status();
  std::vector<store::v1::AppendEntry> entries;
  entries.push_back(std::move(copy->entry));
  std::vector<absl::StatusOr<broker::v1::SendMessageResponse>> sent =
      send_->StoreCopies(std::move(entries), copy->target);
  return Finish(*copy, sent.front());
}

absl::StatusOr<ConsumerSendBackProcessor::PreparedCopy> ConsumerSendBackProcessor::Prepare(
    const broker::v1::ConsumerSendBackRequest& request, bool immediate,
    common::v1::MessageExt* preloaded) {
  if (absl::Status checked = Check(request); !checked.ok()) return checked;
  const std::string& group = request.consumer_group();
  absl::optional<broker::v1::SubscriptionGroupConfig> config = groups_->Find(group);
  if (!config.has_value()) return SubscriptionGroupNotExist(group);

  store::v1::GetMessageByOffsetResponse found;
  if (preloaded != nullptr) {
    *found.mutable_message() = std::move(*preloaded);
  } else {
    store::v1::GetMessageByOffsetRequest lookup;
    lookup.set_physical_offset(request.commit_log_offset());
    absl::StatusOr<store::v1::GetMessageByOffsetResponse> read = store_->GetMessageByOffset(lookup);
    if (!read.ok()) {
      if (absl::IsNotFound(read.status())) {
        return absl::NotFoundError(absl::StrCat("no message at commit log offset ",
                                                request.commit_log_offset(), ": ",
                                                read.status().message()));
      }
      return StoreCallError(absl::StrCat("cannot read the message at commit log offset ",
                                         request.commit_log_offset()),
                            read.status());
    }
    found = *std::move(read);
  }
  common::v1::MessageExt& stored = *found.mutable_message();
  if (!request.origin_message_id().empty() && request.origin_message_id() != stored.msg_id() &&
      request.origin_message_id() != stored.offset_msg_id()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the message at commit log offset ", request.commit_log_offset(), " is ",
                     stored.msg_id(), ", not ", QuoteInput(request.origin_message_id())));
  }

  const int32_t max_reconsume_times = request.max_reconsume_times() >= 0
                                          ? request.max_reconsume_times()
                                          : config->retry_max_times();
  const bool dead = request.delay_level() < 0 || stored.reconsume_times() >= max_reconsume_times;
  absl::StatusOr<common::v1::TopicConfig> target =
      dead ? FindOrCreateDlqTopic(topics_, group) : FindOrCreateRetryTopic(topics_, *config);
  if (!target.ok()) return StoreCallError("cannot create the group's topic", target.status());

  store::v1::AppendEntry entry;
  common::v1::Message& copy = *entry.mutable_message();
  copy.set_topic(target->topic_name());
  copy.set_flag(stored.flag());
  *copy.mutable_body() = std::move(*stored.mutable_body());
  *copy.mutable_properties() = std::move(*stored.mutable_properties());
  auto& properties = *copy.mutable_properties();
  ClearDeliveryProperties(&properties);
  properties.emplace(std::string(format::kPropertyRetryTopic), stored.topic());
  properties.emplace(std::string(format::kPropertyOriginMessageId), stored.msg_id());
  if (dead || immediate) {
    properties.erase(std::string(format::kPropertyDelayTimeLevel));
  } else {
    properties[std::string(format::kPropertyDelayTimeLevel)] = absl::StrCat(RetryDelayLevel(
        request.delay_level(), stored.reconsume_times(), options_.delay_level_count));
  }
  entry.set_sys_flag(stored.sys_flag());
  entry.set_born_timestamp_ms(stored.born_timestamp_ms());
  entry.set_born_host(stored.born_host());
  entry.set_reconsume_times(stored.reconsume_times() + 1);

  PreparedCopy prepared;
  prepared.entry = std::move(entry);
  prepared.target = *std::move(target);
  prepared.dead = dead;
  prepared.group = group;
  prepared.reconsume_times = stored.reconsume_times();
  return prepared;
}

absl::StatusOr<broker::v1::ConsumerSendBackResponse> ConsumerSendBackProcessor::Finish(
    const PreparedCopy& copy, const absl::StatusOr<broker::v1::SendMessageResponse>& sent) {
  if (!sent.ok()) return sent.status();
  if (copy.dead) {
    LOG(INFO) << "group " << copy.group << ": message " << sent->msg_id() << " moved to "
              << copy.target.topic_name() << " after " << copy.reconsume_times + 1 << " deliveries";
  }
  broker::v1::ConsumerSendBackResponse response;
  response.set_topic(copy.target.topic_name());
  response.set_msg_id(sent->msg_id());
  return response;
}

}  // namespace mq::broker
