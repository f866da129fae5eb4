#include "services/store/message_format.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/validation.h"
#include "services/store/crc32.h"

namespace mq::store {
namespace {

void Put16(char* p, uint16_t v) {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, sizeof(v));
}
void Put32(char* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, sizeof(v));
}
void Put64(char* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof(v));
}
uint16_t Get16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap16(v);
}
uint32_t Get32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap32(v);
}
uint64_t Get64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap64(v);
}

void PutHost(char* p, const HostAddress& host) {
  Put32(p, host.ip);
  Put32(p + 4, static_cast<uint32_t>(host.port));
}
HostAddress GetHost(const char* p) {
  return HostAddress{Get32(p), static_cast<int32_t>(Get32(p + 4))};
}

// Field offsets not exported by the header.
constexpr int kQueueIdOffset = 12;
constexpr int kFlagOffset = 16;
constexpr int kSysFlagOffset = 36;
constexpr int kBornTimestampOffset = 40;
constexpr int kBornHostOffset = 48;
constexpr int kStoreHostOffset = 64;
constexpr int kReconsumeTimesOffset = 72;
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

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<HostAddress> ParseHostAddress(absl::string_view host_port) {
  size_t colon = host_port.rfind(':');
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("bad host address \"", host_port, "\": want a.b.c.d:port (IPv4)"));
  };
  if (colon == absl::string_view::npos) return bad();
  int32_t port = 0;
  if (!absl::SimpleAtoi(host_port.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return bad();
  }
  std::vector<absl::string_view> parts = absl::StrSplit(host_port.substr(0, colon), '.');
  if (parts.size() != 4) return bad();
  uint32_t ip = 0;
  for (absl::string_view part : parts) {
    uint32_t octet = 0;
    if (part.empty() || part.size() > 3 || !absl::SimpleAtoi(part, &octet) || octet > 255) {
      return bad();
    }
    ip = (ip << 8) | octet;
  }
  return HostAddress{ip, port};
}

std::string HostAddressToString(const HostAddress& host) {
  // StrCat, not StrFormat: this runs for every message a consumer reads.
  return absl::StrCat(host.ip >> 24, ".", (host.ip >> 16) & 0xFF, ".", (host.ip >> 8) & 0xFF, ".",
                      host.ip & 0xFF, ":", host.port);
}

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
  if (record.properties.size() > kMaxPropertiesBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoded properties of ", record.properties.size(),
                     " bytes are over the limit of ", kMaxPropertiesBytes, " bytes"));
  }
  return absl::OkStatus();
}

uint32_t RecordTailCrc(const MessageRecord& record) {
  char length[4];
  uint32_t crc = 0;
  Put32(length, static_cast<uint32_t>(record.body.size()));
  crc = Crc32(crc, length, 4);
  crc = Crc32(crc, record.body.data(), record.body.size());
  length[0] = static_cast<char>(record.topic.size());
  crc = Crc32(crc, length, 1);
  crc = Crc32(crc, record.topic.data(), record.topic.size());
  Put16(length, static_cast<uint16_t>(record.properties.size()));
  crc = Crc32(crc, length, 2);
  return Crc32(crc, record.properties.data(), record.properties.size());
}

void EncodeRecord(const MessageRecord& record, uint32_t tail_crc, char* dest) {
  const int64_t size = RecordSize(record);
  Put32(dest + kTotalSizeOffset, static_cast<uint32_t>(size));
  Put32(dest + kMagicCodeOffset, kMessageMagicCode);
  Put32(dest + kQueueIdOffset, static_cast<uint32_t>(record.queue_id));
  Put32(dest + kFlagOffset, static_cast<uint32_t>(record.flag));
  Put64(dest + kQueueOffsetOffset, static_cast<uint64_t>(record.queue_offset));
  Put64(dest + kPhysicalOffsetOffset, static_cast<uint64_t>(record.physical_offset));
  Put32(dest + kSysFlagOffset, static_cast<uint32_t>(record.sys_flag));
  Put64(dest + kBornTimestampOffset, static_cast<uint64_t>(record.born_timestamp_ms));
  PutHost(dest + kBornHostOffset, record.born_host);
  Put64(dest + kStoreTimestampOffset, static_cast<uint64_t>(record.store_timestamp_ms));
  PutHost(dest + kStoreHostOffset, record.store_host);
  Put32(dest + kReconsumeTimesOffset, static_cast<uint32_t>(record.reconsume_times));
  Put64(dest + kPreparedTransactionOffsetOffset,
        static_cast<uint64_t>(record.prepared_transaction_offset));
  char* p = dest + kBodyLengthOffset;
  Put32(p, static_cast<uint32_t>(record.body.size()));
  p += 4;
  std::memcpy(p, record.body.data(), record.body.size());
  p += record.body.size();
  *p++ = static_cast<char>(record.topic.size());
  std::memcpy(p, record.topic.data(), record.topic.size());
  p += record.topic.size();
  Put16(p, static_cast<uint16_t>(record.properties.size()));
  p += 2;
  std::memcpy(p, record.properties.data(), record.properties.size());
  Put32(dest + kRecordCrcOffset, FinishCrc(tail_crc, dest));
}

void EncodeBlankMarker(int32_t bytes, char* dest) {
  Put32(dest + kTotalSizeOffset, static_cast<uint32_t>(bytes));
  Put32(dest + kMagicCodeOffset, kBlankMagicCode);
}

DecodedRecord DecodeRecord(absl::string_view data, bool check_crc) {
  if (data.size() < static_cast<size_t>(kBlankMarkerMinBytes)) {
    return Corrupt("fewer than 8 bytes left");
  }
  const char* p = data.data();
  const uint32_t total_size = Get32(p + kTotalSizeOffset);
  const uint32_t magic = Get32(p + kMagicCodeOffset);
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
  const uint32_t body_size = Get32(p + kBodyLengthOffset);
  if (body_size > total_size - kRecordFixedBytes) return Corrupt("body length out of range");
  const char* topic_length = p + kBodyLengthOffset + 4 + body_size;
  const uint32_t topic_size = static_cast<unsigned char>(*topic_length);
  const char* properties_length = topic_length + 1 + topic_size;
  if (body_size + topic_size > total_size - kRecordFixedBytes) {
    return Corrupt("topic length out of range");
  }
  const uint32_t properties_size = Get16(properties_length);
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
    if (FinishCrc(crc, p) != Get32(p + kRecordCrcOffset)) return Corrupt("record CRC mismatch");
  }
  result.kind = RecordKind::kMessage;
  result.size = static_cast<int32_t>(total_size);
  MessageRecord& m = result.message;
  m.queue_id = static_cast<int32_t>(Get32(p + kQueueIdOffset));
  m.flag = static_cast<int32_t>(Get32(p + kFlagOffset));
  m.queue_offset = static_cast<int64_t>(Get64(p + kQueueOffsetOffset));
  m.physical_offset = static_cast<int64_t>(Get64(p + kPhysicalOffsetOffset));
  m.sys_flag = static_cast<int32_t>(Get32(p + kSysFlagOffset));
  m.born_timestamp_ms = static_cast<int64_t>(Get64(p + kBornTimestampOffset));
  m.born_host = GetHost(p + kBornHostOffset);
  m.store_timestamp_ms = static_cast<int64_t>(Get64(p + kStoreTimestampOffset));
  m.store_host = GetHost(p + kStoreHostOffset);
  m.reconsume_times = static_cast<int32_t>(Get32(p + kReconsumeTimesOffset));
  m.prepared_transaction_offset = static_cast<int64_t>(Get64(p + kPreparedTransactionOffsetOffset));
  m.body = absl::string_view(p + kBodyLengthOffset + 4, body_size);
  m.topic = absl::string_view(topic_length + 1, topic_size);
  m.properties = absl::string_view(properties_length + 2, properties_size);
  return result;
}

uint32_t BodyCrc(absl::string_view body) { return Crc32(0, body.data(), body.size()); }

absl::Status AppendProperty(absl::string_view key, absl::string_view value, std::string* encoded) {
  constexpr absl::string_view kSeparators("\x01\x02", 2);
  if (key.empty()) return absl::InvalidArgumentError("property with an empty name");
  if (key.find_first_of(kSeparators) != absl::string_view::npos ||
      value.find_first_of(kSeparators) != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("property \"", absl::CHexEscape(key),
                     "\" contains a reserved separator character (\\x01 or \\x02)"));
  }
  if (!encoded->empty()) encoded->push_back(kPropertySeparator);
  absl::StrAppend(encoded, key, absl::string_view(&kNameValueSeparator, 1), value);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<absl::string_view, absl::string_view>>> DecodeProperties(
    absl::string_view encoded) {
  std::vector<std::pair<absl::string_view, absl::string_view>> pairs;
  for (absl::string_view pair : absl::StrSplit(encoded, kPropertySeparator, absl::SkipEmpty())) {
    size_t separator = pair.find(kNameValueSeparator);
    if (separator == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("property without a value separator: \"", absl::CHexEscape(pair), "\""));
    }
    pairs.emplace_back(pair.substr(0, separator), pair.substr(separator + 1));
  }
  return pairs;
}

absl::optional<absl::string_view> FindProperty(absl::string_view encoded, absl::string_view key) {
  while (!encoded.empty()) {
    size_t end = encoded.find(kPropertySeparator);
    absl::string_view pair = encoded.substr(0, end);
    if (pair.size() > key.size() && pair[key.size()] == kNameValueSeparator &&
        pair.substr(0, key.size()) == key) {
      return pair.substr(key.size() + 1);
    }
    if (end == absl::string_view::npos) break;
    encoded.remove_prefix(end + 1);
  }
  return absl::nullopt;
}

int64_t TagsHashCode(absl::string_view tags) {
  // Java hashes UTF-16 code units, so decode UTF-8 first.
  int32_t hash = 0;
  auto add = [&hash](uint32_t unit) {
    hash = static_cast<int32_t>(static_cast<uint32_t>(hash) * 31u + unit);
  };
  const auto* s = reinterpret_cast<const unsigned char*>(tags.data());
  const size_t n = tags.size();
  size_t i = 0;
  while (i < n) {
    uint32_t c = s[i];
    int extra = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      add(c);
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, c &= 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, c &= 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, c &= 0x07, min = 0x10000;
    } else {
      add(0xFFFD);
      ++i;
      continue;
    }
    bool valid = i + extra < n;
    for (int k = 1; valid && k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80)
        valid = false;
      else
        c = (c << 6) | (s[i + k] & 0x3F);
    }
    if (!valid || c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      add(0xFFFD);
      ++i;
      continue;
    }
    if (c >= 0x10000) {
      c -= 0x10000;
      add(0xD800 + (c >> 10));
      add(0xDC00 + (c & 0x3FF));
    } else {
      add(c);
    }
    i += extra + 1;
  }
  return hash;
}

std::string MakeOffsetMessageId(const HostAddress& store_host, int64_t physical_offset) {
  // "%08X%08X%016X" by hand: this runs for every message a consumer reads.
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string id(32, '0');
  auto put = [&](uint64_t value, int end, int digits) {
    for (int i = 0; i < digits; ++i, value >>= 4) id[end - 1 - i] = kDigits[value & 0xF];
  };
  put(store_host.ip, 8, 8);
  put(static_cast<uint32_t>(store_host.port), 16, 8);
  put(static_cast<uint64_t>(physical_offset), 32, 16);
  return id;
}

absl::StatusOr<OffsetMessageId> ParseOffsetMessageId(absl::string_view id) {
  if (id.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset message id ", QuoteInput(id), " is not 32 hex digits"));
  }
  uint64_t words[2] = {0, 0};
  for (size_t i = 0; i < id.size(); ++i) {
    int v = HexValue(id[i]);
    if (v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("offset message id ", QuoteInput(id), " has a non-hex character"));
    }
    words[i / 16] = (words[i / 16] << 4) | static_cast<uint64_t>(v);
  }
  OffsetMessageId result;
  result.store_host.ip = static_cast<uint32_t>(words[0] >> 32);
  result.store_host.port = static_cast<int32_t>(words[0] & 0xFFFFFFFF);
  result.physical_offset = static_cast<int64_t>(words[1]);
  return result;
}

}  // namespace mq::store
