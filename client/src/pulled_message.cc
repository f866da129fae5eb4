#include "client/src/pulled_message.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/src/compression.h"
#include "client/src/subscription.h"
#include "common/format/property_keys.h"
#include "common/format/record_format.h"
#include "common/format/stored_message.h"
#include "common/retry_topics.h"
#include "common/status.h"

namespace mq::client_internal {

PullStatus PullStatusFromProto(broker::v1::PullStatus status) {
  switch (status) {
    case broker::v1::FOUND:
      return PullStatus::kFound;
    case broker::v1::NO_MATCHED_MSG:
      return PullStatus::kNoMatchedMsg;
    case broker::v1::OFFSET_ILLEGAL:
      return PullStatus::kOffsetIllegal;
    default:
      return PullStatus::kNoNewMsg;
  }
}

namespace {

// The body as consumers see it: uncompressed when `sys_flag` says so.
absl::StatusOr<std::string> ConsumerBody(absl::string_view body, int32_t sys_flag,
                                         int64_t queue_offset, size_t max_body_size_bytes) {
  if ((sys_flag & kCompressedFlag) == 0) return std::string(body);
  absl::StatusOr<std::string> uncompressed = ZlibUncompress(body, max_body_size_bytes);
  if (!uncompressed.ok()) {
    return PrefixStatus(absl::StrCat("message at offset ", queue_offset, ": "),
                        uncompressed.status());
  }
  return uncompressed;
}

}  // namespace

absl::StatusOr<MessageExt> ToMessageExt(const common::v1::MessageExt& wire,
                                        const std::string& broker_name,
                                        size_t max_body_size_bytes) {
  MessageExt ext;
  ext.message.set_topic(wire.topic());
  ext.message.set_flag(wire.flag());
  for (const auto& [key, value] : wire.properties()) ext.message.SetProperty(key, value);
  absl::StatusOr<std::string> body =
      ConsumerBody(wire.body(), wire.sys_flag(), wire.queue_offset(), max_body_size_bytes);
  if (!body.ok()) return body.status();
  ext.message.set_body(*std::move(body));
  ext.msg_id = wire.msg_id().empty() ? ext.message.unique_id() : wire.msg_id();
  ext.offset_msg_id = wire.offset_msg_id();
  ext.broker_name = broker_name;
  ext.queue_id = wire.queue_id();
  ext.queue_offset = wire.queue_offset();
  ext.commit_log_offset = wire.commit_log_offset();
  ext.store_size = wire.store_size();
  ext.reconsume_times = wire.reconsume_times();
  ext.body_crc = wire.body_crc();
  ext.born_timestamp_ms = wire.born_timestamp_ms();
  ext.born_host = wire.born_host();
  ext.store_timestamp_ms = wire.store_timestamp_ms();
  ext.store_host = wire.store_host();
  return ext;
}

namespace {

// "ip:port" of the hosts in one answer's records, each formatted once: they
// repeat (one broker stores them all, a few producers sent them).
class HostNames {
 public:
  const std::string& Of(const format::HostAddress& host) {
    for (const auto& [address, name] : known_) {
      if (address == host) return name;
    }
    if (known_.size() == kMaxKnown) known_.pop_back();
    known_.emplace(known_.begin(), host, format::HostAddressToString(host));
    return known_.front().second;
  }

 private:
  static constexpr size_t kMaxKnown = 8;
  // Newest first.
  std::vector<std::pair<format::HostAddress, std::string>> known_;
};

// `decoded` must be a kMessage record.
absl::StatusOr<MessageExt> RecordToMessageExt(const format::DecodedRecord& decoded,
                                              const std::string& broker_name,
                                              size_t max_body_size_bytes, HostNames* hosts) {
  absl::StatusOr<format::StoredMessage> stored = format::DecodeStoredMessage(decoded);
  if (!stored.ok()) return stored.status();
  const format::MessageRecord& record = stored->record;
  MessageExt ext;
  ext.message.set_topic(std::string(record.topic));
  ext.message.set_flag(record.flag);
  for (const auto& [key, value] : stored->properties) ext.message.SetProperty(key, value);
  absl::StatusOr<std::string> body =
      ConsumerBody(record.body, record.sys_flag, record.queue_offset, max_body_size_bytes);
  if (!body.ok()) return body.status();
  ext.message.set_body(*std::move(body));
  ext.msg_id = std::string(stored->msg_id);
  ext.offset_msg_id = std::move(stored->offset_msg_id);
  ext.broker_name = broker_name;
  ext.queue_id = record.queue_id;
  ext.queue_offset = record.queue_offset;
  ext.commit_log_offset = record.physical_offset;
  ext.store_size = stored->store_size;
  ext.reconsume_times = record.reconsume_times;
  ext.body_crc = stored->body_crc;
  ext.born_timestamp_ms = record.born_timestamp_ms;
  ext.born_host = hosts->Of(record.born_host);
  ext.store_timestamp_ms = record.store_timestamp_ms;
  ext.store_host = hosts->Of(record.store_host);
  return ext;
}

// The messages of stored records back to back (`what` names the answer in
// errors) for which `keep(tags)` holds; DATA_LOSS when a record is torn or
// fails its CRC.
template <typename Keep>
absl::StatusOr<std::vector<MessageExt>> DecodeRecords(absl::string_view records,
                                                      absl::string_view what,
                                                      const std::string& broker_name,
                                                      size_t max_body_size_bytes, Keep keep) {
  std::vector<MessageExt> messages;
  HostNames hosts;
  for (int index = 0; !records.empty(); ++index) {
    format::DecodedRecord decoded = format::DecodeRecord(records, /*check_crc=*/true);
    if (decoded.kind != format::RecordKind::kMessage) {
      return absl::DataLossError(absl::StrCat(
          "record ", index, " of the ", what, " is not a valid message: ",
          decoded.kind == format::RecordKind::kBlank ? "an end-of-file marker" : decoded.error));
    }
    // Room for as many more records of this size as the answer holds.
    if (index == 0) messages.reserve(records.size() / decoded.size);
    records.remove_prefix(decoded.size);
    if (!keep(
            format::FindProperty(decoded.message.properties, format::kPropertyTags).value_or(""))) {
      continue;
    }
    absl::StatusOr<MessageExt> ext =
        RecordToMessageExt(decoded, broker_name, max_body_size_bytes, &hosts);
    if (!ext.ok()) return ext.status();
    messages.push_back(*std::move(ext));
  }
  return messages;
}

}  // namespace

absl::StatusOr<std::vector<MessageExt>> MatchingMessages(
    const broker::v1::PullMessageResponse& response,
    const broker::v1::SubscriptionData& subscription, const std::string& broker_name,
    size_t max_body_size_bytes) {
  if (!response.records().empty()) {
    return DecodeRecords(response.records(), "pull answer", broker_name, max_body_size_bytes,
                         [&subscription](absl::string_view tags) {
                           return MatchesSubscription(subscription, tags);
                         });
  }
  std::vector<MessageExt> messages;
  messages.reserve(response.messages_size());
  for (const common::v1::MessageExt& wire : response.messages()) {
    auto tags = wire.properties().find(std::string(format::kPropertyTags));
    if (!MatchesSubscription(subscription, tags == wire.properties().end() ? "" : tags->second)) {
      continue;
    }
    absl::StatusOr<MessageExt> ext = ToMessageExt(wire, broker_name, max_body_size_bytes);
    if (!ext.ok()) return ext.status();
    messages.push_back(*std::move(ext));
  }
  return messages;
}

absl::StatusOr<std::vector<MessageExt>> PoppedMessages(
    const broker::v1::PopMessageResponse& response, const std::string& broker_name,
    size_t max_body_size_bytes) {
  std::vector<MessageExt> messages;
  if (response.records().empty()) {
    messages.reserve(response.messages_size());
    for (const broker::v1::PoppedMessage& popped : response.messages()) {
      absl::StatusOr<MessageExt> ext =
          ToMessageExt(popped.message(), broker_name, max_body_size_bytes);
      if (!ext.ok()) return ext.status();
      messages.push_back(*std::move(ext));
    }
    return messages;
  }
  absl::StatusOr<std::vector<MessageExt>> decoded =
      DecodeRecords(response.records(), "pop answer", broker_name, max_body_size_bytes,
                    [](absl::string_view) { return true; });
  if (!decoded.ok()) return decoded.status();
  if (static_cast<int>(decoded->size()) != response.messages_size()) {
    return absl::DataLossError(absl::StrCat("the pop answer holds ", decoded->size(),
                                            " records for ", response.messages_size(),
                                            " messages"));
  }
  for (int i = 0; i < response.messages_size(); ++i) {
    MessageExt& ext = (*decoded)[i];
    // As the broker sets them in the fields form.
    ext.reconsume_times = response.messages(i).delivery_attempt() - 1;
    if (IsRetryTopic(ext.message.topic())) {
      std::string original = ext.message.GetProperty(format::kPropertyRetryTopic);
      if (!original.empty()) ext.message.set_topic(std::move(original));
    }
  }
  return decoded;
}

}  // namespace mq::client_internal
