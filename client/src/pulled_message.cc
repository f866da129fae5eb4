#include "client/src/pulled_message.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/src/compression.h"
#include "client/src/send_retry.h"
#include "client/src/subscription.h"

namespace mq {
namespace client_internal {

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

absl::StatusOr<MessageExt> ToMessageExt(const common::v1::MessageExt& wire,
                                        const std::string& broker_name,
                                        size_t max_body_size_bytes) {
  MessageExt ext;
  ext.message.set_topic(wire.topic());
  ext.message.set_flag(wire.flag());
  for (const auto& [key, value] : wire.properties()) ext.message.SetProperty(key, value);
  if ((wire.sys_flag() & kCompressedFlag) != 0) {
    absl::StatusOr<std::string> body = ZlibUncompress(wire.body(), max_body_size_bytes);
    if (!body.ok()) {
      return PrefixStatus(absl::StrCat("message at offset ", wire.queue_offset(), ": "),
                          body.status());
    }
    ext.message.set_body(*std::move(body));
  } else {
    ext.message.set_body(wire.body());
  }
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

absl::StatusOr<std::vector<MessageExt>> MatchingMessages(
    const broker::v1::PullMessageResponse& response,
    const broker::v1::SubscriptionData& subscription, const std::string& broker_name,
    size_t max_body_size_bytes) {
  std::vector<MessageExt> messages;
  messages.reserve(response.messages_size());
  for (const common::v1::MessageExt& wire : response.messages()) {
    auto tags = wire.properties().find(std::string(kPropertyTags));
    if (!MatchesSubscription(subscription, tags == wire.properties().end() ? "" : tags->second)) {
      continue;
    }
    absl::StatusOr<MessageExt> ext = ToMessageExt(wire, broker_name, max_body_size_bytes);
    if (!ext.ok()) return ext.status();
    messages.push_back(*std::move(ext));
  }
  return messages;
}

}  // namespace client_internal
}  // namespace mq
