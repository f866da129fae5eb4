#include "services/store/message_format.h"

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mq::store {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

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

TEST(MessageFormatTest, RoundTrip) {
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

TEST(MessageFormatTest, LayoutMatchesRocketMq) {
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

TEST(MessageFormatTest, EveryFlippedBitIsDetected) {
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

TEST(MessageFormatTest, CheckedDecodeGivesTheBodyCrc) {
  for (size_t size : {1u, 3u, 15u, 16u, 17u, 64u, 1000u, 1024u, 4099u}) {
    std::string body(size, '\0');
    for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>(i * 31 + size);
    std::string bytes = Encode(SampleRecord(body, "UNIQ_KEY\x01" + std::string(32, 'A')));
    DecodedRecord out = DecodeRecord(bytes, /*check_crc=*/true);
    ASSERT_EQ(out.kind, RecordKind::kMessage) << size << ": " << out.error;
    EXPECT_EQ(out.body_crc, BodyCrc(body)) << size;
  }
}

TEST(MessageFormatTest, EveryFlippedBitOfAKibibyteRecordIsDetected) {
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

TEST(MessageFormatTest, WithoutCrcCheckOnlyStructureIsVerified) {
  std::string bytes = Encode(SampleRecord("payload", ""));
  bytes[88] ^= 1;  // in the body
  EXPECT_EQ(DecodeRecord(bytes, /*check_crc=*/false).kind, RecordKind::kMessage);
  EXPECT_EQ(DecodeRecord(bytes, /*check_crc=*/true).kind, RecordKind::kCorrupt);
}

TEST(MessageFormatTest, TornRecordIsCorrupt) {
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

TEST(MessageFormatTest, ZerosAreNotARecord) {
  std::string zeros(200, '\0');
  DecodedRecord out = DecodeRecord(zeros, true);
  EXPECT_EQ(out.kind, RecordKind::kCorrupt);
  EXPECT_STREQ(out.error, "no record (zeros)");
}

TEST(MessageFormatTest, LengthsMustAddUp) {
  std::string bytes = Encode(SampleRecord("abc", ""));
  std::string longer = bytes + "extra";
  longer[3] = static_cast<char>(bytes.size() + 5);
  EXPECT_EQ(DecodeRecord(longer, false).kind, RecordKind::kCorrupt);
}

TEST(MessageFormatTest, DecodesTheRecordAtTheStartOfLongerData) {
  std::string first = Encode(SampleRecord("first", ""));
  std::string data = first + Encode(SampleRecord("second", ""));
  DecodedRecord out = DecodeRecord(data, true);
  ASSERT_EQ(out.kind, RecordKind::kMessage);
  EXPECT_EQ(out.message.body, "first");
  out = DecodeRecord(absl::string_view(data).substr(out.size), true);
  ASSERT_EQ(out.kind, RecordKind::kMessage);
  EXPECT_EQ(out.message.body, "second");
}

TEST(MessageFormatTest, BlankMarker) {
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

TEST(MessageFormatTest, Limits) {
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

TEST(MessageFormatTest, MaximalRecordRoundTrips) {
  std::string body(kDefaultMaxMessageBodyBytes, 'b');
  std::string topic(kMaxTopicBytes, 't');
  std::string properties(kMaxPropertiesBytes, 'p');
  MessageRecord r = SampleRecord(body, properties);
  r.topic = topic;
  DecodedRecord out = DecodeRecord(Encode(r), true);
  ASSERT_EQ(out.kind, RecordKind::kMessage) << out.error;
  EXPECT_EQ(out.message.topic.size(), kMaxTopicBytes);
  EXPECT_EQ(out.message.properties.size(), kMaxPropertiesBytes);
}

TEST(PropertiesTest, EncodeDecode) {
  std::map<std::string, std::string> in = {{"KEYS", "a b"}, {"TAGS", "TagA"}, {"EMPTY", ""}};
  absl::StatusOr<std::string> encoded = EncodeProperties(in);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(*encoded, std::string("EMPTY\x01\x02KEYS\x01"
                                  "a b\x02TAGS\x01TagA"));
  auto pairs = DecodeProperties(*encoded);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  EXPECT_THAT(*pairs, ElementsAre(Pair("EMPTY", ""), Pair("KEYS", "a b"), Pair("TAGS", "TagA")));
  EXPECT_EQ(FindProperty(*encoded, "TAGS"), "TagA");
  EXPECT_EQ(FindProperty(*encoded, "KEYS"), "a b");
  EXPECT_EQ(FindProperty(*encoded, "EMPTY"), "");
  EXPECT_EQ(FindProperty(*encoded, "TAG"), absl::nullopt);
  EXPECT_EQ(FindProperty(*encoded, "MISSING"), absl::nullopt);
  EXPECT_EQ(FindProperty("", "TAGS"), absl::nullopt);
}

TEST(PropertiesTest, AcceptsRocketMqTrailingSeparator) {
  auto pairs = DecodeProperties(
      "A\x01"
      "1\x02"
      "B\x01"
      "2\x02");
  ASSERT_TRUE(pairs.ok());
  EXPECT_THAT(*pairs, ElementsAre(Pair("A", "1"), Pair("B", "2")));
  EXPECT_EQ(FindProperty("A\x01"
                         "1\x02"
                         "B\x01"
                         "2\x02",
                         "B"),
            "2");
}

TEST(PropertiesTest, RejectsSeparatorsInNamesAndValues) {
  std::vector<std::pair<std::string, std::string>> bad_value = {{"K",
                                                                 "a\x01"
                                                                 "b"}};
  EXPECT_FALSE(EncodeProperties(bad_value).ok());
  std::vector<std::pair<std::string, std::string>> bad_key = {{"K\x02", "v"}};
  EXPECT_FALSE(EncodeProperties(bad_key).ok());
  std::vector<std::pair<std::string, std::string>> empty_key = {{"", "v"}};
  EXPECT_FALSE(EncodeProperties(empty_key).ok());
  EXPECT_FALSE(DecodeProperties("novalue").ok());
}

TEST(TagsHashCodeTest, MatchesJavaStringHashCode) {
  EXPECT_EQ(TagsHashCode(""), 0);
  EXPECT_EQ(TagsHashCode("TagA"), 2598919);
  EXPECT_EQ(TagsHashCode("Hello World"), -862545276);
  EXPECT_EQ(TagsHashCode("\xC3\xA9"), 233);              // é
  EXPECT_EQ(TagsHashCode("\xF0\x9F\x98\x80"), 1772899);  // U+1F600, a surrogate pair
  EXPECT_EQ(TagsHashCode("\xE4\xB8\xAD\xE6\x96\x87\xE6\xA0\x87\xE7\xAD\xBE"), 622041809);
  EXPECT_EQ(TagsHashCode("\xFF"), 0xFFFD);
}

TEST(HostAddressTest, ParseAndFormat) {
  auto host = ParseHostAddress("192.168.1.20:10911");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(host->ip, 0xC0A80114u);
  EXPECT_EQ(host->port, 10911);
  EXPECT_EQ(HostAddressToString(*host), "192.168.1.20:10911");
  EXPECT_FALSE(ParseHostAddress("192.168.1:1").ok());
  EXPECT_FALSE(ParseHostAddress("192.168.1.256:1").ok());
  EXPECT_FALSE(ParseHostAddress("192.168.1.2").ok());
  EXPECT_FALSE(ParseHostAddress("[::1]:10911").ok());
  EXPECT_FALSE(ParseHostAddress("1.2.3.4:70000").ok());
}

TEST(OffsetMessageIdTest, RoundTrip) {
  HostAddress host{0xC0A80114, 10911};
  std::string id = MakeOffsetMessageId(host, 0x123456789A);
  EXPECT_EQ(id, "C0A8011400002A9F000000123456789A");
  auto parsed = ParseOffsetMessageId(id);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->store_host, host);
  EXPECT_EQ(parsed->physical_offset, 0x123456789A);
  auto lower = ParseOffsetMessageId("c0a8011400002a9f000000123456789a");
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(lower->physical_offset, 0x123456789A);
  EXPECT_FALSE(ParseOffsetMessageId("C0A80114").ok());
  EXPECT_FALSE(ParseOffsetMessageId("G0A8011400002A9F000000123456789A").ok());
}

TEST(OffsetMessageIdTest, IsZeroPaddedUpperCaseHexOfHostPortAndOffset) {
  for (const auto& [ip, port, offset] : {std::tuple<uint32_t, int32_t, int64_t>{0, 0, 0},
                                         {0xFFFFFFFF, 65535, INT64_MAX},
                                         {0x7F000001, 10911, 1},
                                         {0x0A000001, 8080, int64_t{1} << 40}}) {
    HostAddress host{ip, port};
    EXPECT_EQ(MakeOffsetMessageId(host, offset),
              absl::StrFormat("%08X%08X%016X", ip, static_cast<uint32_t>(port),
                              static_cast<uint64_t>(offset)));
  }
  EXPECT_EQ(HostAddressToString(HostAddress{0xFFFFFFFF, 65535}), "255.255.255.255:65535");
  EXPECT_EQ(HostAddressToString(HostAddress{0, 0}), "0.0.0.0:0");
}

TEST(BodyCrcTest, IsZlibCrc32) { EXPECT_EQ(BodyCrc("123456789"), 0xCBF43926u); }

}  // namespace
}  // namespace mq::store
