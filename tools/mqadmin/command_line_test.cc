#include "tools/mqadmin/command_line.h"

#include "gtest/gtest.h"

namespace mq {
namespace tools {
namespace {

const std::vector<OptionSpec> kSpecs = {
    {'n', "namesrvAddr", "ADDR", "name server", false},
    {'t', "topic", "TOPIC", "topic name", true},
    {'r', "readQueueNums", "NUM", "read queues", false},
    {'o', "order", "", "ordered topic", false},
};

TEST(CommandLineTest, ShortLongAndAttachedForms) {
  absl::StatusOr<ParsedOptions> parsed =
      ParseOptions(kSpecs, {"-n", "127.0.0.1:9876", "--topic=T", "-r8", "-o", "extra"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Get("namesrvAddr"), "127.0.0.1:9876");
  EXPECT_EQ(parsed->Get("topic"), "T");
  EXPECT_EQ(*parsed->GetInt("readQueueNums", 4), 8);
  EXPECT_EQ(parsed->Get("order"), "true");
  EXPECT_EQ(parsed->positional(), std::vector<std::string>{"extra"});
  EXPECT_FALSE(parsed->help());

  parsed = ParseOptions(kSpecs, {"--topic", "U"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Get("topic"), "U");
  EXPECT_FALSE(parsed->Has("order"));
  EXPECT_EQ(parsed->Get("namesrvAddr", "fallback"), "fallback");
  EXPECT_EQ(*parsed->GetInt("readQueueNums", 4), 4);
}

TEST(CommandLineTest, Errors) {
  EXPECT_EQ(ParseOptions(kSpecs, {"-x", "1", "-t", "T"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status missing = ParseOptions(kSpecs, {"-n", "a:1"}).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("-t (--topic)"), absl::string_view::npos);
  EXPECT_FALSE(ParseOptions(kSpecs, {"-t"}).ok());
  EXPECT_FALSE(ParseOptions(kSpecs, {"-t", "T", "--order=yes"}).ok());
  absl::StatusOr<ParsedOptions> bad_int = ParseOptions(kSpecs, {"-t", "T", "-r", "x"});
  ASSERT_TRUE(bad_int.ok());
  EXPECT_FALSE(bad_int->GetInt("readQueueNums", 1).ok());
}

TEST(CommandLineTest, HelpSkipsRequiredChecks) {
  absl::StatusOr<ParsedOptions> parsed = ParseOptions(kSpecs, {"--help"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help());
  const std::string usage = Usage("mqadmin", "updateTopic", "Creates a topic.", kSpecs);
  EXPECT_NE(usage.find("usage: mqadmin updateTopic [-n ADDR] -t TOPIC [-r NUM] [-o]"),
            std::string::npos)
      << usage;
  EXPECT_NE(usage.find("--readQueueNums NUM"), std::string::npos);
  EXPECT_NE(usage.find("(required)"), std::string::npos);
}

}  // namespace
}  // namespace tools
}  // namespace mq
