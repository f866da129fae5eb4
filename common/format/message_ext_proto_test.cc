#include "common/format/message_ext_proto.h"

#include <string>

#include "gtest/gtest.h"

namespace mq::format {
namespace {

TEST(MessageExtProtoTest, CarriesEveryField) {
  MessageRecord r;
  r.queue_id = 3;
  r.flag = 7;
  r.queue_offset = 42;
  r.physical_offset = 0x123456789A;
  r.sys_flag = 1;
  r.born_timestamp_ms = 1700000000000;
  r.born_host = HostAddress{0x0A000009, 5555};
  r.store_timestamp_ms = 1700000000123;
  r.store_host = HostAddress{0xC0A80114, 10911};
  r.reconsume_times = 2;
  r.body = "hello";
  r.topic = "Orders";
  r.properties = "TAGS\x01TagA\x02UNIQ_KEY\x01U1";
  std::string bytes(RecordSize(r), '\0');
  EncodeRecord(r, bytes.data());

  common::v1::MessageExt out;
  ASSERT_TRUE(ToMessageExtProto(DecodeRecord(bytes, /*check_crc=*/false), &out).ok());
  EXPECT_EQ(out.topic(), "Orders");
  EXPECT_EQ(out.flag(), 7);
  EXPECT_EQ(out.properties().at("TAGS"), "TagA");
  EXPECT_EQ(out.properties().at("UNIQ_KEY"), "U1");
  EXPECT_EQ(out.body(), "hello");
  EXPECT_EQ(out.queue_id(), 3);
  EXPECT_EQ(out.queue_offset(), 42);
  EXPECT_EQ(out.commit_log_offset(), 0x123456789A);
  EXPECT_EQ(out.store_size(), static_cast<int32_t>(bytes.size()));
  EXPECT_EQ(out.sys_flag(), 1);
  EXPECT_EQ(out.born_timestamp_ms(), 1700000000000);
  EXPECT_EQ(out.born_host(), "10.0.0.9:5555");
  EXPECT_EQ(out.store_timestamp_ms(), 1700000000123);
  EXPECT_EQ(out.store_host(), "192.168.1.20:10911");
  EXPECT_EQ(out.reconsume_times(), 2);
  EXPECT_EQ(out.body_crc(), BodyCrc("hello"));
  EXPECT_EQ(out.msg_id(), "U1");
  EXPECT_EQ(out.offset_msg_id(), "C0A8011400002A9F000000123456789A");
}

}  // namespace
}  // namespace mq::format
