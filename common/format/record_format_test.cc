#include "common/format/record_format.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace mq::format {
namespace {

MessageRecord SampleRecord(absl::string_view body, absl::string_view properties) {
  MessageRecord r;
  r.queue_id = 3;
  r.flag = -7;
  r.queue_offset = 123456789012345;
  r.physical_offset = 1LL << 40;
  r.sys_flag = 0x4;
  r.born_timestamp_ms = 1700000000123;
  r.born_host = HostAddress{0x0A000001, 51234};
  r.store_timestamp_ms = 1700000000456;
  r.store_host = HostAddress{0x7F000001, 10911};
  r.reconsume_times = 2;
  r.prepared_transaction_offset = 99;
  r.body = body;
  r.topic = "TopicTest";
  r.properties = properties;
  return r;
}

std::string Encode(const MessageRecord& r) {
  std::string buffer(RecordSize(r), '\0');
  EncodeRecord(r, buffer.data());
  return buffer;
}

TEST(RecordFormatTest, RoundTrip) {
  std::string properties = "TAGS\x01TagA\x02KEYS\x01k1 k2";
  MessageRecord in = SampleRecord("hello body", properties);
  std::string bytes = Encode(in);
  ASSERT_EQ(static_cast<int64_t>(bytes.size()), kRecordFixedBytes + 10 + 9 + properties.size());

  DecodedRecord out = DecodeRecord(bytes, /*check_crc=*/true);
  ASSERT_EQ(out.kind, RecordKind::kMessage) << out.error;
  EXPECT_EQ(out.size, static_cast<int32_t>(bytes.size()));
  const MessageRecord& m = out.message;
  EXPECT_EQ(m.queue_id, 3);
  EXPECT_EQ(m.flag, -7);
  EXPECT_EQ(m.queue_offset, 123456789012345);
  EXPECT_EQ(m.physical_offset, 1LL << 40);
  EXPECT_EQ(m.sys_flag, 4);
  EXPECT_EQ(m.born_timestamp_ms, 1700000000123);
  EXPECT_EQ(m.born_host, (HostAddress{0x0A000001, 51234}));
  EXPECT_EQ(m.store_timestamp_ms, 1700000000456);
  EXPECT_EQ(m.store_host, (HostAddress{0x7F000001, 10911}));
  EXPECT_EQ(m.reconsume_times, 2);
  EXPECT_EQ(m.prepared_transaction_offset, 99);
  EXPECT_EQ(m.body, "hello body");
  EXPECT_EQ(m.topic, "TopicTest");
  EXPECT_EQ(m.properties, properties);
}

TEST(RecordFormatTest, HeaderReadsTheFixedFieldsOfRecordsBackToBack) {
  std::string first = Encode(SampleRecord("one", ""));
  MessageRecord second_record = SampleRecord("second body", "TAGS\x01T");
  second_record.queue_offset = 7;
  second_record.physical_offset = 4096;
  second_record.reconsume_times = 5;
  std::string second = Encode(second_record);
  std::string both = first + second;

  absl::StatusOr<RecordHeader> header = ReadRecordHeader(both);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->size, static_cast<int32_t>(first.size()));
  EXPECT_EQ(header->queue_offset, 123456789012345);
  EXPECT_EQ(header->physical_offset, 1LL << 40);
  EXPECT_EQ(header->reconsume_times, 2);
  header = ReadRecordHeader(absl::string_view(both).substr(first.size()));
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->size, static_cast<int32_t>(second.size()));
  EXPECT_EQ(header->queue_offset, 7);
  EXPECT_EQ(header->physical_offset, 4096);
  EXPECT_EQ(header->reconsume_times, 5);
}

TEST(RecordFormatTest, HeaderRefusesWhatIsNotAWholeMessageRecord) {
  std::string bytes = Encode(SampleRecord("body", ""));
  // Cut short, in the fixed part and after it.
  EXPECT_TRUE(absl::IsDataLoss(ReadRecordHeader(bytes.substr(0, 50)).status()));
  EXPECT_TRUE(absl::IsDataLoss(ReadRecordHeader(bytes.substr(0, bytes.size() - 1)).status()));
  // A blank marker, zeros, a flipped magic code.
  std::string blank(64, '\0');
  EncodeBlankMarker(64, blank.data());
  EXPECT_TRUE(absl::IsDataLoss(ReadRecordHeader(blank).status()));
  EXPECT_TRUE(absl::IsDataLoss(ReadRecordHeader(std::string(200, '\0')).status()));
  bytes[kMagicCodeOffset] ^= 1;
  EXPECT_TRUE(absl::IsDataLoss(ReadRecordHeader(bytes).status()));
}

TEST(RecordFormatTest, LayoutMatchesRocketMq) {
  MessageRecord in = SampleRecord("B", "");
  std::string bytes = Encode(in);
  auto u8 = [&](int i) { return static_cast<unsigned char>(bytes[i]); };
  // TOTALSIZE and MAGICCODE, big-endian.
  EXPECT_EQ(u8(3), kRecordFixedBytes + 1 + 9);
  EXPECT_EQ(u8(4), 0xDA);
  EXPECT_EQ(u8(5), 0xA3);
  EXPECT_EQ(u8(6), 0x20);
  EXPECT_EQ(u8(7), 0xA7);
  // QUEUEID at 12, STOREHOST port at 68, body length at 84 and body at 88.
  EXPECT_EQ(u8(15), 3);
  EXPECT_EQ(u8(64), 0x7F);
  EXPECT_EQ((u8(70) << 8) | u8(71), 10911);
  EXPECT_EQ(u8(87), 1);
  EXPECT_EQ(bytes[88], 'B');
  EXPECT_EQ(u8(89), 9);
  EXPECT_EQ(bytes.substr(90, 9), "TopicTest");
  EXPECT_EQ(bytes.substr(99, 2), std::string(2, '\0'));
}

TEST(RecordFormatTest, EveryFlippedBitIsDetected) {
  std::string bytes = Encode(SampleRecord("payload", "TAGS\x01x"));
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string corrupt = bytes;
      corrupt[i] ^= static_cast<char>(1 << bit);
      DecodedRecord out = DecodeRecord(corrupt, /*check_crc=*/true);
      EXPECT_EQ(out.kind, RecordKind::kCorrupt) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(RecordFormatTest, CheckedDecodeGivesTheBodyCrc) {
  for (size_t size : {1u, 3u, 15u, 16u, 17u, 64u, 1000u, 1024u, 4099u}) {
    std::string body(size, '\0');
    for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>(i * 31 + size);
    std::string bytes = Encode(SampleRecord(body, "UNIQ_KEY\x01" + std::string(32, 'A')));
    DecodedRecord out = DecodeRecord(bytes, /*check_crc=*/true);
    ASSERT_EQ(out.kind, RecordKind::kMessage) << size << ": " << out.error;
    EXPECT_EQ(out.body_crc, BodyCrc(body)) << size;
  }
}

TEST(RecordFormatTest, EveryFlippedBitOfAKibibyteRecordIsDetected) {
  std::string body(1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  std::string bytes = Encode(SampleRecord(body, "TAGS\x01TagA"));
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string corrupt = bytes;
      corrupt[i] ^= static_cast<char>(1 << bit);
      ASSERT_EQ(DecodeRecord(corrupt, /*check_crc=*/true).kind, RecordKind::kCorrupt)
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST(RecordFormatTest, WithoutCrcCheckOnlyStructureIsVerified) {
  std::string bytes = Encode(SampleRecord("payload", ""));
  bytes[88] ^= 1;  // in the body
  EXPECT_EQ(DecodeRecord(bytes, /*check_crc=*/false).kind, RecordKind::kMessage);
  EXPECT_EQ(DecodeRecord(bytes, /*check_crc=*/true).kind, RecordKind::kCorrupt);
}

TEST(RecordFormatTest, TornRecordIsCorrupt) {
  std::string bytes = Encode(SampleRecord("0123456789", "TAGS\x01x"));
  for (size_t keep = 0; keep < bytes.size(); ++keep) {
    DecodedRecord out = DecodeRecord(absl::string_view(bytes.data(), keep), true);
    EXPECT_EQ(out.kind, RecordKind::kCorrupt) << keep;
    EXPECT_EQ(out.size, 0);
    EXPECT_NE(out.error, nullptr);
  }
  // The tail lost (zeros) while the header made it to disk.
  std::string torn = bytes;
  std::fill(torn.begin() + 90, torn.end(), '\0');
  EXPECT_EQ(DecodeRecord(torn, true).kind, RecordKind::kCorrupt);
}

TEST(RecordFormatTest, ZerosAreNotARecord) {
  std::string zeros(200, '\0');
  DecodedRecord out = DecodeRecord(zeros, true);
  EXPECT_EQ(out.kind, RecordKind::kCorrupt);
  EXPECT_STREQ(out.error, "no record (zeros)");
}

TEST(RecordFormatTest, LengthsMustAddUp) {
  std::string bytes = Encode(SampleRecord("abc", ""));
  std::string longer = bytes + "extra";
  longer[3] = static_cast<char>(bytes.size() + 5);
  EXPECT_EQ(DecodeRecord(longer, false).kind, RecordKind::kCorrupt);
}

TEST(RecordFormatTest, DecodesTheRecordAtTheStartOfLongerData) {
  std::string first = Encode(SampleRecord("first", ""));
  std::string data = first + Encode(SampleRecord("second", ""));
  DecodedRecord out = DecodeRecord(data, true);
  ASSERT_EQ(out.kind, RecordKind::kMessage);
  EXPECT_EQ(out.message.body, "first");
  out = DecodeRecord(absl::string_view(data).substr(out.size), true);
  ASSERT_EQ(out.kind, RecordKind::kMessage);
  EXPECT_EQ(out.message.body, "second");
}

TEST(RecordFormatTest, BlankMarker) {
  std::string tail(100, 'x');
  EncodeBlankMarker(100, tail.data());
  DecodedRecord out = DecodeRecord(tail, true);
  EXPECT_EQ(out.kind, RecordKind::kBlank);
  EXPECT_EQ(out.size, 100);
  // A marker must reach exactly the end of the file.
  EXPECT_EQ(DecodeRecord(tail.substr(0, 99), true).kind, RecordKind::kCorrupt);
  std::string minimal(8, '\0');
  EncodeBlankMarker(8, minimal.data());
  EXPECT_EQ(DecodeRecord(minimal, true).kind, RecordKind::kBlank);
  EXPECT_EQ(DecodeRecord(minimal.substr(0, 7), true).kind, RecordKind::kCorrupt);
}

TEST(RecordFormatTest, Limits) {
  std::string body(kDefaultMaxMessageBodyBytes, 'b');
  MessageRecord r = SampleRecord(body, "");
  EXPECT_TRUE(ValidateRecordLimits(r).ok());
  std::string too_big(kDefaultMaxMessageBodyBytes + 1, 'b');
  r.body = too_big;
  EXPECT_EQ(ValidateRecordLimits(r).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateRecordLimits(r, kDefaultMaxMessageBodyBytes + 1).ok());
  r.body = "";
  EXPECT_FALSE(ValidateRecordLimits(r).ok());
  r.body = "x";
  std::string topic(kMaxTopicBytes, 't');
  r.topic = topic;
  EXPECT_TRUE(ValidateRecordLimits(r).ok());
  std::string long_topic(kMaxTopicBytes + 1, 't');
  r.topic = long_topic;
  EXPECT_FALSE(ValidateRecordLimits(r).ok());
  r.topic = "";
  EXPECT_FALSE(ValidateRecordLimits(r).ok());
  r.topic = "t";
  std::string properties(kMaxPropertiesBytes, 'p');
  r.properties = properties;
  EXPECT_TRUE(ValidateRecordLimits(r).ok());
  std::string long_properties(kMaxPropertiesBytes + 1, 'p');
  r.properties = long_properties;
  absl::Status status = ValidateRecordLimits(r);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("properties"), std::string::npos) << status;
}

TEST(RecordFormatTest, MaximalRecordRoundTrips) {
  std::string body(kDefaultMaxMessageBodyBytes, 'b');
  std::string topic(kMaxTopicBytes, 't');
  std::string properties(kMaxPropertiesBytes, 'p');
  MessageRecord r = SampleRecord(body, properties);
  r.topic = topic;
  DecodedRecord out = DecodeRecord(Encode(r), true);
  ASSERT_EQ(out.kind, RecordKind::kMessage) << out.error;
  EXPECT_EQ(out.message.topic.size(), kMaxTopicBytes);
  EXPECT_EQ(out.message.properties.size(), static_cast<size_t>(kMaxPropertiesBytes));
}

TEST(BodyCrcTest, IsZlibCrc32) { EXPECT_EQ(BodyCrc("123456789"), 0xCBF43926u); }

}  // namespace
}  // namespace mq::format
