#include "common/validation.h"

#include <gtest/gtest.h>

#include <string>

namespace mq {
namespace {

TEST(ValidationTest, AcceptsRocketMqTopicCharacters) {
  EXPECT_TRUE(ValidateTopic("Topic_A-1%|x").ok());
  EXPECT_TRUE(ValidateTopic(std::string(127, 'a')).ok());
}

TEST(ValidationTest, RejectsBadTopics) {
  EXPECT_EQ(ValidateTopic("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopic(std::string(128, 'a')).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopic("a b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopic("a/b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ValidateTopic("a.b").message().find("[%|a-zA-Z0-9_-]"), absl::string_view::npos);
}

TEST(ValidationTest, GroupsMayBeLongerThanTopics) {
  EXPECT_TRUE(ValidateGroup(std::string(255, 'g')).ok());
  EXPECT_FALSE(ValidateGroup(std::string(256, 'g')).ok());
}

TEST(ValidationTest, NamesUseTheFieldInTheMessage) {
  absl::Status status = ValidateName("cluster name", "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("cluster name"), absl::string_view::npos);
}

TEST(ValidationTest, QueueNumsBounds) {
  EXPECT_FALSE(ValidateQueueNums("read queue nums", 0).ok());
  EXPECT_TRUE(ValidateQueueNums("read queue nums", 1).ok());
  EXPECT_TRUE(ValidateQueueNums("read queue nums", 1024).ok());
  EXPECT_FALSE(ValidateQueueNums("read queue nums", 1025).ok());
  EXPECT_FALSE(ValidateQueueNums("read queue nums", -3).ok());
}

TEST(ValidationTest, BrokerIdAndAddress) {
  EXPECT_TRUE(ValidateBrokerId(0).ok());
  EXPECT_FALSE(ValidateBrokerId(-1).ok());
  EXPECT_TRUE(ValidateAddress("broker address", "127.0.0.1:10911").ok());
  EXPECT_FALSE(ValidateAddress("broker address", "127.0.0.1").ok());
  EXPECT_FALSE(ValidateAddress("broker address", ":10911").ok());
  EXPECT_FALSE(ValidateAddress("broker address", "h:0").ok());
  EXPECT_FALSE(ValidateAddress("broker address", "h:70000").ok());
  // Hosts: IPv4, DNS names (as Kubernetes advertises brokers), [IPv6].
  for (const char* good : {"10.0.0.1:1", "localhost:9876", "broker-a-0.broker-a.mq.svc:10911",
                           "[::1]:9876", "[fe80::1]:1"}) {
    EXPECT_TRUE(ValidateAddress("broker address", good).ok()) << good;
  }
  for (const std::string bad :
       {std::string("\0:1", 3), std::string("999.1.1.1:1"), std::string("127.0.0.1:1:2"),
        std::string("1.2.3:1"), std::string("-a:1"), std::string("a b:1"), std::string("h:+1"),
        std::string("[zz]:1"), std::string("::1:1"), std::string("h\n:1")}) {
    EXPECT_FALSE(ValidateAddress("broker address", bad).ok()) << QuoteInput(bad);
  }
}

TEST(ValidationTest, ErrorsQuoteInputBoundedAndEscaped) {
  EXPECT_EQ(QuoteInput("abc"), "\"abc\"");
  EXPECT_EQ(QuoteInput(std::string("a\nb\0\"", 5)), "\"a\\nb\\x00\\\"\"");
  std::string huge(100000, 't');
  huge[3] = '!';
  absl::Status status = ValidateTopic(huge);
  EXPECT_LT(status.message().size(), 200u) << status;
  const std::string quoted = QuoteInput(huge);
  EXPECT_EQ(quoted, "\"ttt!" + std::string(60, 't') + "\"... (100000 bytes)");
  EXPECT_LT(ValidateAddress("broker address", std::string(100000, 'a')).message().size(), 200u);
}

TEST(ValidationTest, TopicAttributes) {
  for (const char* good : {"NORMAL", "fifo", "Delay", "TRANSACTION", "MIXED"}) {
    EXPECT_TRUE(ValidateTopicAttribute("message.type", good).ok()) << good;
  }
  EXPECT_EQ(ValidateTopicAttribute("message.type", "LITE").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopicAttribute("message.type", "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTopicAttribute("queue.type", "NORMAL").code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mq
