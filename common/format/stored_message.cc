#include "common/format/stored_message.h"

#include "absl/strings/str_cat.h"
#include "common/format/property_keys.h"

namespace mq::format {

absl::StatusOr<StoredMessage> DecodeStoredMessage(const DecodedRecord& decoded) {
  StoredMessage message;
  message.record = decoded.message;
  const MessageRecord& record = message.record;
  absl::StatusOr<std::vector<std::pair<absl::string_view, absl::string_view>>> properties =
      DecodeProperties(record.properties);
  if (!properties.ok()) {
    return absl::DataLossError(absl::StrCat("message at offset ", record.queue_offset,
                                            ": properties: ", properties.status().message()));
  }
  message.properties = *std::move(properties);
  for (const auto& [key, value] : message.properties) {
    if (key == kPropertyUniqueKey) message.msg_id = value;
  }
  message.store_size = decoded.size;
  // A checked decode already has the body's CRC; an unchecked one has 0, and
  // a body whose CRC is 0 gives 0 again.
  message.body_crc = decoded.body_crc != 0 ? decoded.body_crc : BodyCrc(record.body);
  message.offset_msg_id = MakeOffsetMessageId(record.store_host, record.physical_offset);
  return message;
}

}  // namespace mq::format
