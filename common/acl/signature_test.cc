#include "common/acl/signature.h"

#include <gtest/gtest.h>

namespace mq::acl {
namespace {

// RFC 4231 test case 2 and RFC 2202 test case 2.
TEST(SignatureTest, HmacKnownAnswers) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HmacSha1Hex("Jefe", "what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

TEST(SignatureTest, SignCallCoversMethodKeyTimeAndResources) {
  const Credentials alice{"alice", "alice-secret"};
  const absl::Time now = absl::FromUnixMillis(1700000000123);
  auto metadata =
      SignCall(alice, "/mq.broker.v1.Broker/SendMessage", {{Resource::Type::kTopic, "T"}}, now);
  ASSERT_EQ(metadata.size(), 2u);
  EXPECT_EQ(metadata[1].first, "x-mq-date-time");
  EXPECT_EQ(metadata[1].second, "1700000000123");
  const std::string expected = HmacSha256Hex(
      "alice-secret",
      "MQ-HMAC-SHA256\n/mq.broker.v1.Broker/SendMessage\nalice\n1700000000123\ntopic:T");
  EXPECT_EQ(metadata[0].second, "MQ-HMAC-SHA256 Credential=alice, Signature=" + expected);
  // Another topic, method or time: another signature.
  EXPECT_NE(
      SignCall(alice, "/mq.broker.v1.Broker/SendMessage", {{Resource::Type::kTopic, "U"}}, now)[0]
          .second,
      metadata[0].second);
  EXPECT_NE(
      SignCall(alice, "/mq.broker.v1.Broker/SendBatch", {{Resource::Type::kTopic, "T"}}, now)[0]
          .second,
      metadata[0].second);
}

TEST(SignatureTest, ParsesBothFormats) {
  auto ours = ParseAuthorization("MQ-HMAC-SHA256 Credential=alice, Signature=ABCDEF");
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_EQ(ours->scheme, ParsedAuthorization::Scheme::kV1);
  EXPECT_EQ(ours->access_key, "alice");
  EXPECT_EQ(ours->signature_hex, "ABCDEF");
  // Go's and C++'s credential suffixes: the access key is before the first '/'.
  for (const char* header :
       {"MQv2-HMAC-SHA1 Credential=alice, SignedHeaders=x-mq-date-time, Signature=0a1B",
        "MQv2-HMAC-SHA1 Credential=alice//Rocketmq, SignedHeaders=x-mq-date-time, Signature=0a1B",
        "MQv2-HMAC-SHA1 Credential=alice/cn-hangzhou/RocketMQ, SignedHeaders=x-mq-date-time, "
        "Signature=0a1B"}) {
    auto v5 = ParseAuthorization(header);
    ASSERT_TRUE(v5.ok()) << header;
    EXPECT_EQ(v5->scheme, ParsedAuthorization::Scheme::kV5);
    EXPECT_EQ(v5->access_key, "alice") << header;
    EXPECT_EQ(v5->signature_hex, "0a1B");
  }
  EXPECT_EQ(ParseAuthorization("Basic YWxpY2U6c2VjcmV0").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ParseAuthorization("MQ-HMAC-SHA256 Credential=alice").status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SignatureTest, HexComparisonIgnoresCase) {
  EXPECT_TRUE(HexEquals("0a1b", "0A1B"));
  EXPECT_TRUE(HexEquals("0a1b", "0a1b"));
  EXPECT_FALSE(HexEquals("0a1b", "0a1c"));
  EXPECT_FALSE(HexEquals("0a1b", "0a1"));
}

TEST(SignatureTest, ParsesTheDateTimeForms) {
  EXPECT_EQ(*ParseDateTime("1700000000123"), absl::FromUnixMillis(1700000000123));
  EXPECT_EQ(*ParseDateTime("20231114T221320Z"), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseDateTime("2023-11-14T22:13:20Z"), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseDateTime("2023-11-15T00:13:20.000+02:00"), absl::FromUnixSeconds(1700000000));
  EXPECT_FALSE(ParseDateTime("yesterday").ok());
}

}  // namespace
}  // namespace mq::acl
