// A stored record as the common.proto MessageExt that the store answers
// queries with (and the broker relays), built from the one decoding in
// stored_message.h.
#ifndef MQ_COMMON_FORMAT_MESSAGE_EXT_PROTO_H_
#define MQ_COMMON_FORMAT_MESSAGE_EXT_PROTO_H_

#include "absl/status/status.h"
#include "common/format/record_format.h"
#include "proto/common.pb.h"

namespace mq::format {

// Fills `out` with the message in `decoded`, which must be a kMessage record.
// DATA_LOSS when its properties do not decode.
absl::Status ToMessageExtProto(const DecodedRecord& decoded, common::v1::MessageExt* out);

}  // namespace mq::format

#endif  // MQ_COMMON_FORMAT_MESSAGE_EXT_PROTO_H_
