#include "common/format/message_id.h"

#include <string>
#include <tuple>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace mq::format {
namespace {

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

TEST(UniqueMessageIdTest, SplitsTheDocumentedLayout) {
  auto id = ParseUniqueMessageId("0A0001021234CAFEBABE0102030405A6");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ipv4, 0x0A000102u);
  EXPECT_EQ(id->pid, 0x1234);
  EXPECT_EQ(id->random, 0xCAFEBABEu);
  EXPECT_EQ(id->ms_of_month, 0x01020304u);
  EXPECT_EQ(id->counter, 0x05A6);
  auto lower = ParseUniqueMessageId("0a0001021234cafebabe0102030405a6");
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(lower->random, 0xCAFEBABEu);
}

TEST(UniqueMessageIdTest, RejectsMalformedIds) {
  EXPECT_FALSE(ParseUniqueMessageId("ABC").ok());
  EXPECT_FALSE(ParseUniqueMessageId(std::string(32, 'G')).ok());
}

}  // namespace
}  // namespace mq::format
