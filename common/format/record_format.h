// The format of a commit-log record (RocketMQ's V1 message layout with IPv4
// hosts) and the end-of-file blank marker, shared by the store (disk and
// replication), the broker and the client (pulled records). The encodings
// inside a record are in properties.h and message_id.h.
//
// Record layout, big-endian, fixed part 91 bytes:
//
//   offset size field
//        0    4 TOTALSIZE           the whole record
//        4    4 MAGICCODE           0xDAA320A7
//        8    4 RECORDCRC           see below
//       12    4 QUEUEID
//       16    4 FLAG                user flag
//       20    8 QUEUEOFFSET         index in the topic/queue
//       28    8 PHYSICALOFFSET      commit-log offset of this record
//       36    4 SYSFLAG
//       40    8 BORNTIMESTAMP       ms
//       48    8 BORNHOST            IPv4 (4) + port (4)
//       56    8 STORETIMESTAMP      ms
//       64    8 STOREHOST           IPv4 (4) + port (4)
//       72    4 RECONSUMETIMES
//       76    8 PREPARED TRANSACTION OFFSET
//       84  4+B BODY                length-prefixed
//   88+B    1+T TOPIC               length-prefixed, T <= 127
//  89+B+T   2+P PROPERTIES          length-prefixed, P <= 32767, "k\1v\2k\1v"
//
// The one departure from RocketMQ: RocketMQ's field at offset 8 is the CRC32 of
// the body only, so a torn or flipped header, topic or properties (the queue
// offset, the tags, ...) would be served as if valid. Here the field holds the
// CRC32 (zlib's polynomial; see crc32.h) of the whole record except the field
// itself, so any torn or corrupt byte is detected. The bytes are fed in the
// order [84, end) then [0, 8) then [12, 84): the part after the fixed header
// (the bulk of the record) is known before the commit log takes its lock, and
// only the header, whose offsets and timestamp are assigned under the lock, is
// CRC'd inside it. Message.body_crc, where a reader needs it, is BodyCrc(body).
//
// Blank marker: when a record (plus the 8 bytes a marker needs) does not fit in
// the rest of a file, the writer puts TOTALSIZE = the bytes left in the file
// and MAGICCODE = 0xCBD43194 there, and the record goes to the next file. So a
// file always ends with a marker, and a reader that meets one moves on to the
// next file.
#ifndef MQ_COMMON_FORMAT_RECORD_FORMAT_H_
#define MQ_COMMON_FORMAT_RECORD_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/format/message_id.h"
#include "common/format/properties.h"
#include "common/units.h"

namespace mq::format {

inline constexpr uint32_t kMessageMagicCode = 0xDAA320A7;
inline constexpr uint32_t kBlankMagicCode = 0xCBD43194;

// Bytes of a record besides its body, topic and properties.
inline constexpr int32_t kRecordFixedBytes = 91;
// A blank marker: TOTALSIZE + MAGICCODE.
inline constexpr int32_t kBlankMarkerMinBytes = 8;
// The default largest message body (and sum of a batch's bodies), RocketMQ's
// maxMessageSize: the producer's, broker's and store's limits start here.
inline constexpr int64_t kDefaultMaxMessageBodyBytes = 4_MiB;
// Largest topic name (the record's 1-byte length).
inline constexpr size_t kMaxTopicBytes = 127;

// Offsets of the fields a reader may want without decoding the record.
inline constexpr int kTotalSizeOffset = 0;
inline constexpr int kMagicCodeOffset = 4;
inline constexpr int kRecordCrcOffset = 8;
inline constexpr int kQueueOffsetOffset = 20;
inline constexpr int kPhysicalOffsetOffset = 28;
inline constexpr int kStoreTimestampOffset = 56;
inline constexpr int kReconsumeTimesOffset = 72;
inline constexpr int kBodyLengthOffset = 84;

// SYSFLAG bits (RocketMQ's MessageSysFlag). The body is zlib-compressed (the
// client uncompresses it).
inline constexpr int32_t kSysFlagCompressed = 0x1;
// The bits an append may carry today: any other (transactions, multi-tag,
// IPv6 hosts) is refused rather than stored as something no consumer reads.
inline constexpr int32_t kSysFlagsAccepted = kSysFlagCompressed;
// The transaction type, which the store acts on (for records written by a
// version that accepted it): PREPARED and ROLLBACK records take no queue
// offset.
inline constexpr int32_t kSysFlagTransactionTypeMask = 0x3 << 2;
inline constexpr int32_t kSysFlagTransactionNotType = 0;
inline constexpr int32_t kSysFlagTransactionPreparedType = 0x1 << 2;
inline constexpr int32_t kSysFlagTransactionCommitType = 0x2 << 2;
inline constexpr int32_t kSysFlagTransactionRollbackType = 0x3 << 2;

// The fields of a record. The string_views are not owned: for encoding they
// point at the caller's data, for decoding into the decoded bytes.
struct MessageRecord {
  int32_t queue_id = 0;
  int32_t flag = 0;
  int64_t queue_offset = 0;
  int64_t physical_offset = 0;
  int32_t sys_flag = 0;
  int64_t born_timestamp_ms = 0;
  HostAddress born_host;
  int64_t store_timestamp_ms = 0;
  HostAddress store_host;
  int32_t reconsume_times = 0;
  int64_t prepared_transaction_offset = 0;
  absl::string_view body;
  absl::string_view topic;
  // Encoded, "k\1v\2k\1v" (see EncodeProperties).
  absl::string_view properties;
};

// Size of the record holding these fields.
inline int64_t RecordSize(const MessageRecord& record) {
  return kRecordFixedBytes +
         static_cast<int64_t>(record.body.size() + record.topic.size() + record.properties.size());
}

// INVALID_ARGUMENT naming the rule when the record cannot be encoded: body
// empty or over `max_body_bytes`, topic empty or over 127 bytes, properties
// over 32767 bytes.
absl::Status ValidateRecordLimits(const MessageRecord& record,
                                  int64_t max_body_bytes = kDefaultMaxMessageBodyBytes);

// The CRC state after the bytes [84, end) of the record, which do not depend
// on the fields assigned at append time. Feed it to EncodeRecord.
uint32_t RecordTailCrc(const MessageRecord& record);

// Writes the record into `dest` (RecordSize(record) bytes, which the caller
// guarantees), CRC included. `tail_crc` must be RecordTailCrc(record). The
// record must pass ValidateRecordLimits.
void EncodeRecord(const MessageRecord& record, uint32_t tail_crc, char* dest);
inline void EncodeRecord(const MessageRecord& record, char* dest) {
  EncodeRecord(record, RecordTailCrc(record), dest);
}

// Writes a blank marker filling `bytes` (>= kBlankMarkerMinBytes) at `dest`;
// only its first 8 bytes are written.
void EncodeBlankMarker(int32_t bytes, char* dest);

enum class RecordKind {
  // A valid record; `message` holds its fields.
  kMessage,
  // A blank marker: the rest of the file is unused; go on with the next file.
  kBlank,
  // Torn, corrupt or absent (zeros): nothing valid starts here.
  kCorrupt,
};

struct DecodedRecord {
  RecordKind kind = RecordKind::kCorrupt;
  // Bytes the record or marker occupies (0 when corrupt).
  int32_t size = 0;
  // Valid when kind == kMessage; views into the decoded bytes.
  MessageRecord message;
  // BodyCrc(message.body), when decoded with check_crc (0 otherwise).
  uint32_t body_crc = 0;
  // Why the record is corrupt (a static string); nullptr otherwise.
  const char* error = nullptr;
};

// Decodes the record at the start of `data`, which must run from the record
// to the end of the written bytes of its file (a blank marker is valid only
// if it reaches exactly the end of `data`). With `check_crc` the record CRC
// is verified; without it only the lengths and magic are (cheaper, for
// records this process wrote itself).
DecodedRecord DecodeRecord(absl::string_view data, bool check_crc);

// The fixed fields a reader that passes records on (a POP) needs, read
// without decoding the record.
struct RecordHeader {
  int32_t size = 0;
  int64_t queue_offset = 0;
  int64_t physical_offset = 0;
  int32_t reconsume_times = 0;
};

// The header of the message record at the start of `data` (records back to
// back): DATA_LOSS unless a message record's magic and a total size within
// `data` are there. Neither the CRC nor the variable fields are checked (the
// reader that decodes the record does that).
absl::StatusOr<RecordHeader> ReadRecordHeader(absl::string_view data);

// crc32 of a body, as RocketMQ's BODYCRC.
uint32_t BodyCrc(absl::string_view body);

}  // namespace mq::format

#endif  // MQ_COMMON_FORMAT_RECORD_FORMAT_H_
