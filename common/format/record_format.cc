#include "common/format/record_format.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/format/big_endian.h"
#include "common/format/crc32.h"

namespace mq::format {
namespace {

void PutHost(char* p, const HostAddress& host) {
  StoreBigEndian32(p, host.ip);
  StoreBigEndian32(p + 4, static_cast<uint32_t>(host.port));
}
HostAddress GetHost(const char* p) {
  return HostAddress{LoadBigEndian32(p), static_cast<int32_t>(LoadBigEndian32(p + 4))};
}

// Field offsets not exported by the header.
constexpr int kQueueIdOffset = 12;
constexpr int kFlagOffset = 16;
constexpr int kSysFlagOffset = 36;
constexpr int kBornTimestampOffset = 40;
constexpr int kBornHostOffset = 48;
constexpr int kStoreHostOffset = 64;
constexpr int kPreparedTransactionOffsetOffset = 76;

uint32_t FinishCrc(uint32_t tail_crc, const char* record) {
  uint32_t crc = Crc32(tail_crc, record, kRecordCrcOffset);
  return Crc32(crc, record + kRecordCrcOffset + 4, kBodyLengthOffset - kRecordCrcOffset - 4);
}

DecodedRecord Corrupt(const char* why) {
  DecodedRecord result;
  result.error = why;
  return result;
}

}  // namespace

absl::Status ValidateRecordLimits(const MessageRecord& record, int64_t max_body_bytes) {
  if (record.body.empty()) return absl::InvalidArgumentError("message body is empty");
  if (static_cast<int64_t>(record.body.size()) > max_body_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("message body of ", record.body.size(),
                                                   " bytes is over the limit of ", max_body_bytes,
                                                   " bytes"));
  }
  if (record.topic.empty()) return absl::InvalidArgumentError("topic is empty");
  if (record.topic.size() > kMaxTopicBytes) {
    return absl::InvalidArgumentError(absl::StrCat("topic of ", record.topic.size(),
                                                   " bytes is over the limit of ", kMaxTopicBytes,
                                                   " bytes"));
  }
  if (static_cast<int64_t>(record.properties.size()) > kMaxPropertiesBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoded properties of ", record.properties.size(),
                     " bytes are over the limit of ", kMaxPropertiesBytes, " bytes"));
  }
  return absl::OkStatus();
}

uint32_t RecordTailCrc(const MessageRecord& record) {
  char length[4];
  uint32_t crc = 0;
  StoreBigEndian32(length, static_cast<uint32_t>(record.body.size()));
  crc = Crc32(crc, length, 4);
  crc = Crc32(crc, record.body.data(), record.body.size());
  length[0] = static_cast<char>(record.topic.size());
  crc = Crc32(crc, length, 1);
  crc = Crc32(crc, record.topic.data(), record.topic.size());
  StoreBigEndian16(length, static_cast<uint16_t>(record.properties.size()));
  crc = Crc32(crc, length, 2);
  return Crc32(crc, record.properties.data(), record.properties.size());
}

void EncodeRecord(const MessageRecord& record, uint32_t tail_crc, char* dest) {
  const int64_t size = RecordSize(record);
  StoreBigEndian32(dest + kTotalSizeOffset, static_cast<uint32_t>(size));
  StoreBigEndian32(dest + kMagicCodeOffset, kMessageMagicCode);
  StoreBigEndian32(dest + kQueueIdOffset, static_cast<uint32_t>(record.queue_id));
  StoreBigEndian32(dest + kFlagOffset, static_cast<uint32_t>(record.flag));
  StoreBigEndian64(dest + kQueueOffsetOffset, static_cast<uint64_t>(record.queue_offset));
  StoreBigEndian64(dest + kPhysicalOffsetOffset, static_cast<uint64_t>(record.physical_offset));
  StoreBigEndian32(dest + kSysFlagOffset, static_cast<uint32_t>(record.sys_flag));
  StoreBigEndian64(dest + kBornTimestampOffset, static_cast<uint64_t>(record.born_timestamp_ms));
  PutHost(dest + kBornHostOffset, record.born_host);
  StoreBigEndian64(dest + kStoreTimestampOffset, static_cast<uint64_t>(record.store_timestamp_ms));
  PutHost(dest + kStoreHostOffset, record.store_host);
  StoreBigEndian32(dest + kReconsumeTimesOffset, static_cast<uint32_t>(record.reconsume_times));
  StoreBigEndian64(dest + kPreparedTransactionOffsetOffset,
                   static_cast<uint64_t>(record.prepared_transaction_offset));
  char* p = dest + kBodyLengthOffset;
  StoreBigEndian32(p, static_cast<uint32_t>(record.body.size()));
  p += 4;
  std::memcpy(p, record.body.data(), record.body.size());
  p += record.body.size();
  *p++ = static_cast<char>(record.topic.size());
  std::memcpy(p, record.topic.data(), record.topic.size());
  p += record.topic.size();
  StoreBigEndian16(p, static_cast<uint16_t>(record.properties.size()));
  p += 2;
  std::memcpy(p, record.properties.data(), record.properties.size());
  StoreBigEndian32(dest + kRecordCrcOffset, FinishCrc(tail_crc, dest));
}

void EncodeBlankMarker(int32_t bytes, char* dest) {
  StoreBigEndian32(dest + kTotalSizeOffset, static_cast<uint32_t>(bytes));
  StoreBigEndian32(dest + kMagicCodeOffset, kBlankMagicCode);
}

absl::StatusOr<RecordHeader> ReadRecordHeader(absl::string_view data) {
  if (data.size() < static_cast<size_t>(kRecordFixedBytes)) {
    return absl::DataLossError(
        absl::StrCat("a message record needs ", kRecordFixedBytes, " bytes, ", data.size(), " left"));
  }
  const char* p = data.data();
  if (LoadBigEndian32(p + kMagicCodeOffset) != kMessageMagicCode) {
    return absl::DataLossError("not a message record (bad magic code)");
  }
  const uint32_t total_size = LoadBigEndian32(p + kTotalSizeOffset);
  if (total_size < static_cast<uint32_t>(kRecordFixedBytes) || total_size > data.size()) {
    return absl::DataLossError(absl::StrCat("record size ", total_size, " is out of range (",
                                            data.size(), " bytes left)"));
  }
  RecordHeader header;
  header.size = static_cast<int32_t>(total_size);
  header.queue_offset = static_cast<int64_t>(LoadBigEndian64(p + kQueueOffsetOffset));
  header.physical_offset = static_cast<int64_t>(LoadBigEndian64(p + kPhysicalOffsetOffset));
  header.reconsume_times = static_cast<int32_t>(LoadBigEndian32(p + kReconsumeTimesOffset));
  return header;
}

DecodedRecord DecodeRecord(absl::string_view data, bool check_crc) {
  if (data.size() < static_cast<size_t>(kBlankMarkerMinBytes)) {
    return Corrupt("fewer than 8 bytes left");
  }
  const char* p = data.data();
  const uint32_t total_size = LoadBigEndian32(p + kTotalSizeOffset);
  const uint32_t magic = LoadBigEndian32(p + kMagicCodeOffset);
  if (magic == kBlankMagicCode) {
    if (total_size != data.size()) return Corrupt("blank marker does not reach the end of file");
    DecodedRecord result;
    result.kind = RecordKind::kBlank;
    result.size = static_cast<int32_t>(total_size);
    return result;
  }
  if (magic != kMessageMagicCode) {
    return Corrupt(total_size == 0 && magic == 0 ? "no record (zeros)" : "bad magic code");
  }
  if (total_size < static_cast<uint32_t>(kRecordFixedBytes)) return Corrupt("total size too small");
  if (total_size > data.size()) return Corrupt("record runs past the written data");
  const uint32_t body_size = LoadBigEndian32(p + kBodyLengthOffset);
  if (body_size > total_size - kRecordFixedBytes) return Corrupt("body length out of range");
  const char* topic_length = p + kBodyLengthOffset + 4 + body_size;
  const uint32_t topic_size = static_cast<unsigned char>(*topic_length);
  const char* properties_length = topic_length + 1 + topic_size;
  if (body_size + topic_size > total_size - kRecordFixedBytes) {
    return Corrupt("topic length out of range");
  }
  const uint32_t properties_size = LoadBigEndian16(properties_length);
  if (kRecordFixedBytes + body_size + topic_size + properties_size != total_size) {
    return Corrupt("field lengths do not add up to the total size");
  }
  DecodedRecord result;
  if (check_crc) {
    // The body's own CRC is read once and moved into the record's.
    const char* body = p + kBodyLengthOffset + 4;
    result.body_crc = Crc32(0, body, body_size);
    uint32_t crc = Crc32Combine(Crc32(0, p + kBodyLengthOffset, 4), result.body_crc, body_size);
    crc = Crc32(crc, topic_length, total_size - kBodyLengthOffset - 4 - body_size);
    if (FinishCrc(crc, p) != LoadBigEndian32(p + kRecordCrcOffset))
      return Corrupt("record CRC mismatch");
  }
  result.kind = RecordKind::kMessage;
  result.size = static_cast<int32_t>(total_size);
  MessageRecord& m = result.message;
  m.queue_id = static_cast<int32_t>(LoadBigEndian32(p + kQueueIdOffset));
  m.flag = static_cast<int32_t>(LoadBigEndian32(p + kFlagOffset));
  m.queue_offset = static_cast<int64_t>(LoadBigEndian64(p + kQueueOffsetOffset));
  m.physical_offset = static_cast<int64_t>(LoadBigEndian64(p + kPhysicalOffsetOffset));
  m.sys_flag = static_cast<int32_t>(LoadBigEndian32(p + kSysFlagOffset));
  m.born_timestamp_ms = static_cast<int64_t>(LoadBigEndian64(p + kBornTimestampOffset));
  m.born_host = GetHost(p + kBornHostOffset);
  m.store_timestamp_ms = static_cast<int64_t>(LoadBigEndian64(p + kStoreTimestampOffset));
  m.store_host = GetHost(p + kStoreHostOffset);
  m.reconsume_times = static_cast<int32_t>(LoadBigEndian32(p + kReconsumeTimesOffset));
  m.prepared_transaction_offset =
      static_cast<int64_t>(LoadBigEndian64(p + kPreparedTransactionOffsetOffset));
  m.body = absl::string_view(p + kBodyLengthOffset + 4, body_size);
  m.topic = absl::string_view(topic_length + 1, topic_size);
  m.properties = absl::string_view(properties_length + 2, properties_size);
  return result;
}

uint32_t BodyCrc(absl::string_view body) { return Crc32(0, body.data(), body.size()); }

}  // namespace mq::format
