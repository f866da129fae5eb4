#include "services/broker/dead_letter_processor.h"

#include <glog/logging.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/format/property_keys.h"
#include "common/retry_topics.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/broker/broker_errors.h"
#include "services/broker/consumer_send_back_processor.h"
#include "services/broker/pull_message_processor.h"

namespace mq::broker {

namespace {

constexpr int32_t kReadPage = 256;

absl::Status NoDeadLetterQueue(absl::string_view group) {
  return WithResponseCode(
      absl::NotFoundError(absl::StrCat("group ", group, " has no dead letters on this broker (no ",
                                       DlqTopic(group), ")")),
      common::v1::TOPIC_NOT_EXIST);
}

// The topic a dead letter was consumed from.
std::string OriginalTopic(const common::v1::MessageExt& message) {
  for (absl::string_view key : {format::kPropertyRetryTopic, format::kPropertyRealTopic}) {
    auto it = message.properties().find(std::string(key));
    if (it != message.properties().end() && !it->second.empty()) return it->second;
  }
  return "";
}

}  // namespace

DeadLetterProcessor::DeadLetterProcessor(store::StoreApi* store, TopicConfigManager* topics,
                                         SendMessageProcessor* send)
    : store_(store), topics_(topics), send_(send) {}

absl::StatusOr<broker::v1::ListDeadLettersResponse> DeadLetterProcessor::List(
    const broker::v1::ListDeadLettersRequest& request) {
  if (absl::Status group = ValidateGroup(request.consumer_group()); !group.ok()) return group;
  if (request.offset() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("offset ", request.offset(), " < 0"));
  }
  int32_t max_num = request.max_num() == 0 ? kDefaultPullBatchSize : request.max_num();
  if (max_num < 1 || max_num > kMaxPullBatchSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("max num ", request.max_num(), " is outside 1..", kMaxPullBatchSize));
  }
  const std::string topic = DlqTopic(request.consumer_group());
  if (!topics_->Find(topic).has_value()) return NoDeadLetterQueue(request.consumer_group());
  store::v1::GetQueueOffsetsRequest bounds;
  bounds.set_topic(topic);
  absl::StatusOr<store::v1::GetQueueOffsetsResponse> offsets = store_->GetQueueOffsets(bounds);
  if (!offsets.ok()) return StoreCallError("cannot read the DLQ's offsets", offsets.status());
  broker::v1::ListDeadLettersResponse response;
  response.set_max_offset(offsets->max_offset());
  const int64_t from = std::max(request.offset(), offsets->min_offset());
  response.set_next_offset(from);
  if (from >= offsets->max_offset()) return response;
  store::v1::GetMessagesRequest read;
  read.set_topic(topic);
  read.set_offset(from);
  read.set_max_count(max_num);
  absl::StatusOr<store::v1::GetMessagesResponse> got = store_->GetMessages(read);
  if (!got.ok()) return StoreCallError("cannot read the DLQ", got.status());
  for (common::v1::MessageExt& message : *got->mutable_messages()) {
    *response.add_messages() = std::move(message);
  }
  response.set_next_offset(got->next_begin_offset());
  return response;
}

absl::StatusOr<std::vector<common::v1::MessageExt>> DeadLetterProcessor::ReadAll(
    const std::string& dlq_topic) {
  std::vector<common::v1::MessageExt> all;
  store::v1::GetQueueOffsetsRequest bounds;
  bounds.set_topic(dlq_topic);
  absl::StatusOr<store::v1::GetQueueOffsetsResponse> offsets = store_->GetQueueOffsets(bounds);
  if (!offsets.ok()) return StoreCallError("cannot read the DLQ's offsets", offsets.status());
  int64_t offset = offsets->min_offset();
  while (offset < offsets->max_offset()) {
    store::v1::GetMessagesRequest read;
    read.set_topic(dlq_topic);
    read.set_offset(offset);
    read.set_max_count(kReadPage);
    absl::StatusOr<store::v1::GetMessagesResponse> got = store_->GetMessages(read);
    if (!got.ok()) return StoreCallError("cannot read the DLQ", got.status());
    for (common::v1::MessageExt& message : *got->mutable_messages()) {
      all.push_back(std::move(message));
    }
    if (got->next_begin_offset() <= offset) break;
    offset = got->next_begin_offset();
  }
  return all;
}

absl::StatusOr<broker::v1::ResendDeadLettersResponse> DeadLetterProcessor::Resend(
    const broker::v1::ResendDeadLettersRequest& request, bool slave) {
  if (slave) {
    return absl::FailedPreconditionError("a slave resends nothing; ask the master of the group");
  }
  const std::string& group = request.consumer_group();
  if (absl::Status valid = ValidateGroup(group); !valid.ok()) return valid;
  const std::string dlq_topic = DlqTopic(group);
  if (!topics_->Find(dlq_topic).has_value()) return NoDeadLetterQueue(group);
  absl::StatusOr<std::vector<common::v1::MessageExt>> dead = ReadAll(dlq_topic);
  if (!dead.ok()) return dead.status();

  struct Copy {
    store::v1::AppendEntry entry;
    common::v1::TopicConfig target;
  };
  std::vector<Copy> copies;
  for (common::v1::MessageExt& message : *dead) {
    if (!request.msg_id().empty() && message.msg_id() != request.msg_id()) continue;
    const std::string topic = OriginalTopic(message);
    if (topic.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("dead letter ", message.msg_id(), " does not say which topic it came from"));
    }
    absl::StatusOr<common::v1::TopicConfig> target = topics_->FindExisting(topic);
    if (!target.ok()) return target.status();
    if (!HasPerm(target->perm(), common::v1::PERM_WRITE)) {
      return NoPermission(
          absl::StrCat("topic ", topic, " of dead letter ", message.msg_id(), " is not writable"));
    }
    Copy copy;
    common::v1::Message& resent = *copy.entry.mutable_message();
    resent.set_topic(topic);
    resent.set_flag(message.flag());
    *resent.mutable_body() = std::move(*message.mutable_body());
    *resent.mutable_properties() = std::move(*message.mutable_properties());
    ClearDeliveryProperties(resent.mutable_properties());
    for (absl::string_view key :
         {format::kPropertyRetryTopic, format::kPropertyDelayTimeLevel,
          format::kPropertyReconsumeTime, format::kPropertyMaxReconsumeTimes}) {
      resent.mutable_properties()->erase(std::string(key));
    }
    copy.entry.set_sys_flag(message.sys_flag());
    copy.entry.set_born_timestamp_ms(message.born_timestamp_ms());
    copy.entry.set_born_host(message.born_host());
    copy.entry.set_reconsume_times(0);
    copy.target = *std::move(target);
    copies.push_back(std::move(copy));
  }
  if (!request.msg_id().empty() && copies.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no dead letter ", QuoteInput(request.msg_id()), " in ", dlq_topic));
  }
  broker::v1::ResendDeadLettersResponse response;
  for (Copy& copy : copies) {
    absl::StatusOr<broker::v1::SendMessageResponse> sent =
        send_->StoreCopy(std::move(copy.entry), copy.target);
    if (!sent.ok()) {
      return PrefixStatus(absl::StrCat("resent ", response.msg_ids_size(), " of ", copies.size(),
                                       " dead letters, then: "),
                          sent.status());
    }
    response.add_msg_ids(sent->msg_id());
    response.add_topics(copy.target.topic_name());
  }
  LOG(INFO) << "group " << group << ": resent " << response.msg_ids_size() << " dead letters";
  return response;
}

}  // namespace mq::broker
