// A stored record decoded once into the fields consumers see. The store's
// wire MessageExt (common.proto) and the client's mq::MessageExt are both
// built from this, so ids, properties and the body CRC are derived in one
// place.
#ifndef MQ_COMMON_FORMAT_STORED_MESSAGE_H_
#define MQ_COMMON_FORMAT_STORED_MESSAGE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/format/record_format.h"

namespace mq::format {

struct StoredMessage {
  // The record's fields; views into the decoded bytes.
  MessageRecord record;
  // Bytes the record occupies in the commit log.
  int32_t store_size = 0;
  // BodyCrc(record.body).
  uint32_t body_crc = 0;
  // The decoded properties, in record order; views into the decoded bytes.
  std::vector<std::pair<absl::string_view, absl::string_view>> properties;
  // The UNIQ_KEY property (the last one, as in a map); empty when absent.
  absl::string_view msg_id;
  // MakeOffsetMessageId(store host, physical offset).
  std::string offset_msg_id;
};

// The message in `decoded`, which must be a kMessage record; views point into
// the bytes it was decoded from. DATA_LOSS when its properties do not decode.
absl::StatusOr<StoredMessage> DecodeStoredMessage(const DecodedRecord& decoded);

}  // namespace mq::format

#endif  // MQ_COMMON_FORMAT_STORED_MESSAGE_H_
