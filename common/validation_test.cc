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
}

}  // namespace
}  // namespace mq
