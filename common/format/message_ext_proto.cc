#include "common/format/message_ext_proto.h"

#include <string>
#include <utility>

#include "common/format/stored_message.h"

namespace mq::format {

absl::Status ToMessageExtProto(const DecodedRecord& decoded, common::v1::MessageExt* out) {
  absl::StatusOr<StoredMessage> message = DecodeStoredMessage(decoded);
  if (!message.ok()) return message.status();
  const MessageRecord& record = message->record;
  out->set_topic(std::string(record.topic));
  out->set_flag(record.flag);
  auto* map = out->mutable_properties();
  for (const auto& [key, value] : message->properties)
    (*map)[std::string(key)] = std::string(value);
  out->set_body(std::string(record.body));
  out->set_queue_id(record.queue_id);
  out->set_queue_offset(record.queue_offset);
  out->set_commit_log_offset(record.physical_offset);
  out->set_store_size(message->store_size);
  out->set_sys_flag(record.sys_flag);
  out->set_born_timestamp_ms(record.born_timestamp_ms);
  out->set_born_host(HostAddressToString(record.born_host));
  out->set_store_timestamp_ms(record.store_timestamp_ms);
  out->set_store_host(HostAddressToString(record.store_host));
  out->set_reconsume_times(record.reconsume_times);
  out->set_body_crc(message->body_crc);
  out->set_msg_id(std::string(message->msg_id));
  out->set_offset_msg_id(std::move(message->offset_msg_id));
  return absl::OkStatus();
}

}  // namespace mq::format
