#include "common/format/stored_message.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mq::format {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

std::string Encode(absl::string_view body, absl::string_view properties) {
  MessageRecord r;
  r.queue_id = 3;
  r.queue_offset = 42;
  r.physical_offset = 0x123456789A;
  r.store_host = HostAddress{0xC0A80114, 10911};
  r.body = body;
  r.topic = "TopicTest";
  r.properties = properties;
  std::string bytes(RecordSize(r), '\0');
  EncodeRecord(r, bytes.data());
  return bytes;
}

TEST(StoredMessageTest, DerivesIdsPropertiesAndBodyCrc) {
  const std::string bytes = Encode("hello", "TAGS\x01TagA\x02UNIQ_KEY\x01U1");
  for (bool check_crc : {true, false}) {
    DecodedRecord decoded = DecodeRecord(bytes, check_crc);
    ASSERT_EQ(decoded.kind, RecordKind::kMessage);
    absl::StatusOr<StoredMessage> message = DecodeStoredMessage(decoded);
    ASSERT_TRUE(message.ok()) << message.status();
    EXPECT_EQ(message->record.topic, "TopicTest");
    EXPECT_EQ(message->record.body, "hello");
    EXPECT_EQ(message->store_size, static_cast<int32_t>(bytes.size()));
    EXPECT_EQ(message->body_crc, BodyCrc("hello"));
    EXPECT_THAT(message->properties, ElementsAre(Pair("TAGS", "TagA"), Pair("UNIQ_KEY", "U1")));
    EXPECT_EQ(message->msg_id, "U1");
    EXPECT_EQ(message->offset_msg_id, "C0A8011400002A9F000000123456789A");
  }
}

TEST(StoredMessageTest, WithoutUniqueKeyTheMessageIdIsEmpty) {
  const std::string bytes = Encode("b", "");
  absl::StatusOr<StoredMessage> message = DecodeStoredMessage(DecodeRecord(bytes, true));
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_TRUE(message->properties.empty());
  EXPECT_EQ(message->msg_id, "");
}

TEST(StoredMessageTest, MalformedPropertiesAreDataLoss) {
  const std::string bytes = Encode("b", "novalue");
  absl::StatusOr<StoredMessage> message = DecodeStoredMessage(DecodeRecord(bytes, true));
  EXPECT_EQ(message.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace mq::format
