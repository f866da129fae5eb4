// The mqadmin binary against a real standalone server: every command runs,
// exits 0 and prints what it should; failures exit non-zero with one line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "mq/pull_consumer.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

namespace mq {
namespace {

using ::testing::HasSubstr;

class MqadminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> server =
        testing::StartStandalone(testing::MakeTempDir("mqadmin"));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      EXPECT_TRUE(server_->Stop().ok());
    }
  }

  // Runs mqadmin with `args` (and -n for the server when `with_namesrv`).
  testing::ToolResult Run(std::vector<std::string> args, bool with_namesrv = true) {
    if (with_namesrv && args.size() > 0) {
      args.insert(args.begin() + 1, {"-n", server_->address()});
    }
    absl::StatusOr<testing::ToolResult> result =
        testing::RunTool(testing::RunfilePath("tools/mqadmin/mqadmin"), args);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return testing::ToolResult();
    std::cerr << "$ mqadmin " << absl::StrJoin(args, " ") << "\n"
              << result->out << result->err << "(exit " << result->exit_code << ")\n";
    return *result;
  }

  // Expects success and returns stdout.
  std::string Ok(std::vector<std::string> args) {
    testing::ToolResult result = Run(std::move(args));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out;
  }

  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(MqadminTest, CommandsAgainstAStandaloneServer) {
  EXPECT_THAT(Ok({"clusterList"}), HasSubstr("DefaultCluster"));
  EXPECT_THAT(Ok({"clusterList"}), HasSubstr(server_->address()));

  std::string out =
      Ok({"updateTopic", "-t", "AdminTopic", "-c", "DefaultCluster", "-r", "4", "-w", "4"});
  EXPECT_THAT(out, HasSubstr(absl::StrCat("create topic to ", server_->address(), " success.")));
  EXPECT_THAT(out, HasSubstr("readQueueNums=4, writeQueueNums=4, perm=6"));
  ASSERT_TRUE(testing::WaitForRoute(server_->address(), "AdminTopic", 1).ok());
  EXPECT_THAT(Ok({"topicList"}), HasSubstr("AdminTopic\n"));
  out = Ok({"topicRoute", "-t", "AdminTopic"});
  EXPECT_THAT(out, HasSubstr("\"brokerName\": \"broker-a\""));
  EXPECT_THAT(out, HasSubstr("\"readQueueNums\": 4"));

  out = Ok({"sendMessage", "-t", "AdminTopic", "-p", "hello admin", "-k", "order-42", "-c", "TagA",
            "-b", "broker-a", "-i", "2"});
  EXPECT_THAT(out, HasSubstr("SEND_OK"));
  // The last word of the result row is the message id.
  std::vector<std::string> words =
      absl::StrSplit(absl::StripAsciiWhitespace(out), ' ', absl::SkipEmpty());
  const std::string msg_id = words.back();
  ASSERT_EQ(msg_id.size(), 32u) << out;

  out = Ok({"topicStatus", "-t", "AdminTopic"});
  EXPECT_THAT(out, HasSubstr("#Max Offset"));
  EXPECT_THAT(out, ::testing::ContainsRegex("broker-a +2 +0 +1 "));

  out = Ok({"queryMsgById", "-t", "AdminTopic", "-i", msg_id});
  EXPECT_THAT(out, HasSubstr("hello admin"));
  EXPECT_THAT(out, HasSubstr("order-42"));
  // The offset id printed there finds the same message without the topic.
  const size_t at = out.find("Offset Message ID:");
  ASSERT_NE(at, std::string::npos);
  std::vector<std::string> line =
      absl::StrSplit(out.substr(at, out.find('\n', at) - at), ' ', absl::SkipEmpty());
  EXPECT_THAT(Ok({"queryMsgById", "-i", line.back()}), HasSubstr("hello admin"));

  EXPECT_THAT(Ok({"queryMsgByKey", "-t", "AdminTopic", "-k", "order-42"}), HasSubstr(msg_id));
  out = Ok({"consumeMessage", "-t", "AdminTopic", "-g", "admin_reader"});
  EXPECT_THAT(out, HasSubstr("hello admin"));
  EXPECT_THAT(out, HasSubstr("Consumed 1 message(s)."));

  out = Ok({"brokerStatus", "-b", server_->address()});
  EXPECT_THAT(out, HasSubstr("brokerName"));
  EXPECT_THAT(out, HasSubstr("totalPutMessages"));

  // A group with a committed offset shows its lag.
  {
    PullConsumerOptions options;
    options.client.name_server_addresses = {server_->address()};
    options.client.instance_name = "admin-test";
    PullConsumer consumer("admin_group", options);
    ASSERT_TRUE(consumer.Start().ok());
    ASSERT_TRUE(consumer.UpdateConsumerOffset(MessageQueue{"AdminTopic", "broker-a", 2}, 0).ok());
    consumer.Shutdown();
  }
  out = Ok({"consumerProgress", "-g", "admin_group"});
  EXPECT_THAT(out, HasSubstr("AdminTopic"));
  EXPECT_THAT(out, HasSubstr("Diff Total: 1"));
  // Without -g: the groups, with their lag.
  out = Ok({"consumerProgress"});
  EXPECT_THAT(out, ::testing::ContainsRegex("admin_group +0 +1 +AdminTopic"));
  EXPECT_THAT(out, HasSubstr("consumer group(s)."));

  EXPECT_THAT(Ok({"deleteTopic", "-t", "AdminTopic", "-c", "DefaultCluster"}),
              HasSubstr("delete topic [AdminTopic] from cluster [DefaultCluster] success."));
  testing::ToolResult gone = Run({"topicRoute", "-t", "AdminTopic"});
  EXPECT_EQ(gone.exit_code, 1);
}

TEST_F(MqadminTest, ErrorsExitNonZeroWithOneLine) {
  testing::ToolResult missing = Run({"topicRoute", "-t", "NoSuchTopic"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("mqadmin: topicRoute: NOT_FOUND: No topic route info"));
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;

  testing::ToolResult no_group = Run({"consumerProgress", "-g", "nobody"});
  EXPECT_EQ(no_group.exit_code, 1);
  EXPECT_THAT(no_group.err, HasSubstr("mqadmin: consumerProgress: NOT_FOUND"));

  testing::ToolResult usage = Run({"updateTopic", "-c", "DefaultCluster"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_THAT(usage.err, HasSubstr("missing required option -t (--topic)"));

  testing::ToolResult unknown = Run({"frobnicate"}, /*with_namesrv=*/false);
  EXPECT_EQ(unknown.exit_code, 2);

  testing::ToolResult help = Run({"queryMsgByKey", "--help"}, /*with_namesrv=*/false);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: mqadmin queryMsgByKey"));
  EXPECT_THAT(help.out, HasSubstr("--msgKey KEY"));

  testing::ToolResult list = Run({"help"}, /*with_namesrv=*/false);
  EXPECT_EQ(list.exit_code, 0);
  for (const char* command :
       {"clusterList", "topicList", "topicRoute", "updateTopic", "deleteTopic", "topicStatus",
        "sendMessage", "consumeMessage", "queryMsgById", "queryMsgByKey", "brokerStatus",
        "consumerProgress"}) {
    EXPECT_THAT(list.out, HasSubstr(command));
  }

  testing::ToolResult down = Run({"topicList", "-n", "127.0.0.1:1"}, /*with_namesrv=*/false);
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_THAT(down.err, HasSubstr("mqadmin: topicList: UNAVAILABLE"));
}

}  // namespace
}  // namespace mq
