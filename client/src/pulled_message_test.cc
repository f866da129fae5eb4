#include "client/src/pulled_message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/src/compression.h"
#include "client/src/subscription.h"
#include "common/format/message_ext_proto.h"
#include "common/format/record_format.h"
#include "common/units.h"

namespace mq::client_internal {
namespace {

using ::testing::HasSubstr;

constexpr size_t kMaxBody = 4_MiB;

struct StoredMessage {
  std::string body;
  std::string tags;
  int32_t sys_flag = 0;
  int64_t queue_offset = 0;
  int32_t born_port = 5555;
};

format::MessageRecord Record(const StoredMessage& m, const std::string& properties) {
  format::MessageRecord record;
  record.queue_id = 3;
  record.flag = 7;
  record.queue_offset = m.queue_offset;
  record.physical_offset = 4096 + m.queue_offset * 1000;
  record.sys_flag = m.sys_flag;
  record.born_timestamp_ms = 1700000000000;
  record.born_host = {0x0A000009, m.born_port};
  record.store_timestamp_ms = 1700000000123;
  record.store_host = {0x7F000001, 10911};
  record.reconsume_times = 2;
  record.body = m.body;
  record.topic = "Orders";
  record.properties = properties;
  return record;
}

std::string PropertiesOf(const StoredMessage& m) {
  std::map<std::string, std::string> pairs = {{"UNIQ_KEY", "U" + std::to_string(m.queue_offset)},
                                              {"KEYS", "k"}};
  if (!m.tags.empty()) pairs["TAGS"] = m.tags;
  return *format::EncodeProperties(pairs);
}

// The answer a broker gives with stored records, and the same messages as
// message fields (converted as the store converts them, message_ext_proto.h).
struct Answers {
  broker::v1::PullMessageResponse records;
  broker::v1::PullMessageResponse fields;
};

Answers Answer(const std::vector<StoredMessage>& messages) {
  Answers answers;
  for (const StoredMessage& m : messages) {
    std::string properties = PropertiesOf(m);
    format::MessageRecord record = Record(m, properties);
    std::string bytes(format::RecordSize(record), '\0');
    format::EncodeRecord(record, bytes.data());
    answers.records.mutable_records()->append(bytes);
    EXPECT_TRUE(format::ToMessageExtProto(format::DecodeRecord(bytes, /*check_crc=*/false),
                                          answers.fields.add_messages())
                    .ok());
  }
  return answers;
}

void ExpectSame(const MessageExt& a, const MessageExt& b) {
  EXPECT_EQ(a.message.topic(), b.message.topic());
  EXPECT_EQ(a.message.flag(), b.message.flag());
  EXPECT_EQ(a.message.properties(), b.message.properties());
  EXPECT_EQ(a.message.body(), b.message.body());
  EXPECT_EQ(a.msg_id, b.msg_id);
  EXPECT_EQ(a.offset_msg_id, b.offset_msg_id);
  EXPECT_EQ(a.broker_name, b.broker_name);
  EXPECT_EQ(a.queue_id, b.queue_id);
  EXPECT_EQ(a.queue_offset, b.queue_offset);
  EXPECT_EQ(a.commit_log_offset, b.commit_log_offset);
  EXPECT_EQ(a.store_size, b.store_size);
  EXPECT_EQ(a.reconsume_times, b.reconsume_times);
  EXPECT_EQ(a.body_crc, b.body_crc);
  EXPECT_EQ(a.born_timestamp_ms, b.born_timestamp_ms);
  EXPECT_EQ(a.born_host, b.born_host);
  EXPECT_EQ(a.store_timestamp_ms, b.store_timestamp_ms);
  EXPECT_EQ(a.store_host, b.store_host);
}

// Converts both forms of `answers` (every tag), expects the same messages
// from each, and returns those converted from the records.
std::vector<MessageExt> SameBothWays(const Answers& answers) {
  broker::v1::SubscriptionData all = ParseSubscription("Orders", "*");
  absl::StatusOr<std::vector<MessageExt>> from_records =
      MatchingMessages(answers.records, all, "broker-a", kMaxBody);
  absl::StatusOr<std::vector<MessageExt>> from_fields =
      MatchingMessages(answers.fields, all, "broker-a", kMaxBody);
  EXPECT_TRUE(from_records.ok()) << from_records.status();
  EXPECT_TRUE(from_fields.ok()) << from_fields.status();
  if (!from_records.ok() || !from_fields.ok()) return {};
  EXPECT_EQ(from_records->size(), from_fields->size());
  for (size_t i = 0; i < std::min(from_records->size(), from_fields->size()); ++i) {
    ExpectSame((*from_records)[i], (*from_fields)[i]);
  }
  return *std::move(from_records);
}

TEST(PulledMessageTest, StoredRecordsGiveTheSameMessagesAsMessageFields) {
  std::vector<MessageExt> messages =
      SameBothWays(Answer({{"first", "A", 0, 10}, {"second", "", 0, 11}, {"third", "B", 0, 12}}));
  ASSERT_EQ(messages.size(), 3u);

  const MessageExt& first = messages[0];
  EXPECT_EQ(first.message.topic(), "Orders");
  EXPECT_EQ(first.message.body(), "first");
  EXPECT_EQ(first.message.tags(), "A");
  EXPECT_EQ(first.msg_id, "U10");
  EXPECT_EQ(first.offset_msg_id, format::MakeOffsetMessageId({0x7F000001, 10911}, 14096));
  EXPECT_EQ(first.queue_offset, 10);
  EXPECT_EQ(first.born_host, "10.0.0.9:5555");
  EXPECT_EQ(first.store_host, "127.0.0.1:10911");
  EXPECT_EQ(first.body_crc, format::BodyCrc("first"));
  EXPECT_EQ(first.broker_name, "broker-a");
}

// Host strings are formatted once per host and answer; with more producers
// than that remembers, each message still names its own.
TEST(PulledMessageTest, StoredRecordsFromManyProducersKeepTheirHosts) {
  std::vector<StoredMessage> stored;
  for (int i = 0; i < 40; ++i) {
    StoredMessage m{absl::StrCat("m", i), "A", 0, i};
    m.born_port = 6000 + (i * 7) % 13;
    stored.push_back(m);
  }
  std::vector<MessageExt> messages = SameBothWays(Answer(stored));
  ASSERT_EQ(messages.size(), stored.size());
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(messages[i].born_host, absl::StrCat("10.0.0.9:", stored[i].born_port));
    EXPECT_EQ(messages[i].store_host, "127.0.0.1:10911");
  }
}

TEST(PulledMessageTest, StoredRecordsAreFilteredByTheExactTag) {
  // The broker filters by tag hash; "Aa" and "BB" share Java's hash code.
  ASSERT_EQ(format::TagsHashCode("Aa"), format::TagsHashCode("BB"));
  Answers answers = Answer({{"1", "Aa", 0, 0}, {"2", "BB", 0, 1}, {"3", "Aa", 0, 2}});
  absl::StatusOr<std::vector<MessageExt>> messages =
      MatchingMessages(answers.records, ParseSubscription("Orders", "Aa"), "broker-a", kMaxBody);
  ASSERT_TRUE(messages.ok()) << messages.status();
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ((*messages)[0].message.body(), "1");
  EXPECT_EQ((*messages)[1].message.body(), "3");
}

TEST(PulledMessageTest, CompressedStoredBodiesAreUncompressed) {
  const std::string body(10000, 'z');
  absl::StatusOr<std::string> compressed = ZlibCompress(body, 5);
  ASSERT_TRUE(compressed.ok());
  Answers answers = Answer({{*compressed, "A", kCompressedFlag, 0}});
  absl::StatusOr<std::vector<MessageExt>> messages =
      MatchingMessages(answers.records, ParseSubscription("Orders", "*"), "broker-a", kMaxBody);
  ASSERT_TRUE(messages.ok()) << messages.status();
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ((*messages)[0].message.body(), body);
  // Over the consumer's limit: refused, not truncated.
  EXPECT_EQ(MatchingMessages(answers.records, ParseSubscription("Orders", "*"), "broker-a", 100)
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(PulledMessageTest, ACorruptOrTornRecordIsDataLoss) {
  Answers answers = Answer({{"first", "A", 0, 0}, {"second", "A", 0, 1}});
  const broker::v1::SubscriptionData all = ParseSubscription("Orders", "*");
  std::string& bytes = *answers.records.mutable_records();
  const size_t second_size = bytes.size() / 2 + 1;  // "second" is a byte longer than "first"

  broker::v1::PullMessageResponse flipped = answers.records;
  // A bit of the second body (bodies start 88 bytes into a record).
  (*flipped.mutable_records())[bytes.size() - second_size + 90] ^= 0x01;
  absl::StatusOr<std::vector<MessageExt>> result = MatchingMessages(flipped, all, "b", kMaxBody);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(result.status().message(), HasSubstr("record 1"));
  EXPECT_THAT(result.status().message(), HasSubstr("CRC"));

  broker::v1::PullMessageResponse torn = answers.records;
  torn.mutable_records()->resize(bytes.size() - 3);
  result = MatchingMessages(torn, all, "b", kMaxBody);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(result.status().message(), HasSubstr("record 1"));
}

// A pop answer with stored records gives what the broker's fields form gives:
// reconsume times from the delivery attempt, a message read from the
// group's %RETRY% topic under the topic it was sent to.
TEST(PulledMessageTest, PoppedRecordsGiveWhatTheFieldsFormGives) {
  broker::v1::PopMessageResponse records;
  broker::v1::PopMessageResponse fields;
  const std::vector<std::pair<std::string, int32_t>> stored = {{"Orders", 1}, {"%RETRY%G", 3}};
  for (size_t i = 0; i < stored.size(); ++i) {
    StoredMessage m{absl::StrCat("body", i), "A", 0, static_cast<int64_t>(20 + i)};
    std::map<std::string, std::string> pairs = {{"UNIQ_KEY", absl::StrCat("U", i)},
                                                {"TAGS", "A"}};
    if (stored[i].first != "Orders") pairs["RETRY_TOPIC"] = "Orders";
    const std::string properties = *format::EncodeProperties(pairs);
    format::MessageRecord record = Record(m, properties);
    record.topic = stored[i].first;
    std::string bytes(format::RecordSize(record), '\0');
    format::EncodeRecord(record, bytes.data());
    records.mutable_records()->append(bytes);
    for (broker::v1::PopMessageResponse* answer : {&records, &fields}) {
      broker::v1::PoppedMessage* popped = answer->add_messages();
      popped->set_receipt_handle(absl::StrCat("h", i));
      popped->set_delivery_attempt(stored[i].second);
    }
    // The fields form, as the broker builds it.
    common::v1::MessageExt* wire = fields.mutable_messages(i)->mutable_message();
    ASSERT_TRUE(
        format::ToMessageExtProto(format::DecodeRecord(bytes, /*check_crc=*/false), wire).ok());
    wire->set_reconsume_times(stored[i].second - 1);
    wire->set_topic("Orders");
  }
  absl::StatusOr<std::vector<MessageExt>> from_records =
      PoppedMessages(records, "broker-a", kMaxBody);
  absl::StatusOr<std::vector<MessageExt>> from_fields =
      PoppedMessages(fields, "broker-a", kMaxBody);
  ASSERT_TRUE(from_records.ok()) << from_records.status();
  ASSERT_TRUE(from_fields.ok()) << from_fields.status();
  ASSERT_EQ(from_records->size(), 2u);
  ASSERT_EQ(from_fields->size(), 2u);
  for (size_t i = 0; i < 2; ++i) ExpectSame((*from_records)[i], (*from_fields)[i]);
  EXPECT_EQ((*from_records)[0].reconsume_times, 0);
  EXPECT_EQ((*from_records)[1].reconsume_times, 2);
  EXPECT_EQ((*from_records)[1].message.topic(), "Orders");
  EXPECT_EQ((*from_records)[1].message.body(), "body1");
}

TEST(PulledMessageTest, APopAnswerWhoseRecordsDoNotMatchItsMessagesIsDataLoss) {
  Answers answers = Answer({{"first", "A", 0, 10}, {"second", "A", 0, 11}});
  broker::v1::PopMessageResponse popped;
  *popped.mutable_records() = answers.records.records();
  popped.add_messages()->set_delivery_attempt(1);
  absl::StatusOr<std::vector<MessageExt>> one_short = PoppedMessages(popped, "b", kMaxBody);
  EXPECT_TRUE(absl::IsDataLoss(one_short.status())) << one_short.status();
  popped.add_messages()->set_delivery_attempt(1);
  EXPECT_TRUE(PoppedMessages(popped, "b", kMaxBody).ok());
  // A flipped byte in the second record's body.
  (*popped.mutable_records())[popped.records().size() - 30] ^= 1;
  absl::StatusOr<std::vector<MessageExt>> corrupt = PoppedMessages(popped, "b", kMaxBody);
  EXPECT_TRUE(absl::IsDataLoss(corrupt.status())) << corrupt.status();
}

}  // namespace
}  // namespace mq::client_internal
