// The README's first steps, as a new user runs them: the standalone server
// started as tools/run.sh starts it (tools/small_store.flags), the quickstart,
// mqbench's producer and then its consumer, and mqadmin's consumerProgress.
// Each step must print what the README shows, and a first run must stay small
// on disk.
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

namespace mq::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Bytes of disk the files under `dir` take (allocated blocks, as du counts).
int64_t DiskBytes(const std::string& dir) {
  int64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st;
    if (entry.is_regular_file() && ::stat(entry.path().c_str(), &st) == 0) {
      bytes += static_cast<int64_t>(st.st_blocks) * 512;
    }
  }
  return bytes;
}

ToolResult RunBinary(const std::string& binary, const std::vector<std::string>& args) {
  absl::StatusOr<ToolResult> result = RunTool(RunfilePath(binary), args, absl::Seconds(60));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : ToolResult();
}

class FirstRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = MakeTempDir("first-run");
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start("standalone", RunfilePath("services/standalone/standalone"),
                             {absl::StrCat("--flagfile=", RunfilePath("tools/small_store.flags")),
                              absl::StrCat("--data_dir=", data_dir_), "--port=0",
                              "--listen_address=127.0.0.1", "--shutdown_grace=1s"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      EXPECT_TRUE(server_->Stop().ok());
    }
  }

  std::string data_dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(FirstRunTest, QuickstartPrintsTheReadmesTwoLinesAndTheStoreStaysSmall) {
  ToolResult quickstart =
      RunBinary("examples/cpp/quickstart", {absl::StrCat("--namesrv=", server_->address())});
  EXPECT_EQ(quickstart.exit_code, 0) << quickstart.err;
  std::vector<std::string> lines = absl::StrSplit(quickstart.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << quickstart.out;
  EXPECT_THAT(lines[0], StartsWith("sent "));
  EXPECT_THAT(lines[0], HasSubstr("at offset 0 (SEND_OK)"));
  EXPECT_THAT(lines[1], StartsWith("received "));
  EXPECT_THAT(lines[1], HasSubstr(": Hello, mq!"));
  // The client logs only what needs action: nothing on a clean run.
  EXPECT_EQ(quickstart.err, "");

  // RocketMQ's defaults would take about 2.5 GB here.
  const int64_t bytes = DiskBytes(data_dir_);
  EXPECT_LT(bytes, int64_t{200} << 20) << bytes << " bytes in " << data_dir_;
}

TEST_F(FirstRunTest, BenchConsumerReadsWhatTheBenchProducerSentAndShowsInProgress) {
  const std::string namesrv = absl::StrCat("--namesrv=", server_->address());
  ToolResult produced = RunBinary("tools/mqbench/mqbench",
                                  {"--mode=producer", namesrv, "--topic=Bench", "--threads=4",
                                   "--messages=500", "--duration=30s", "--report_interval=10s"});
  EXPECT_EQ(produced.exit_code, 0) << produced.err;
  EXPECT_THAT(produced.out, HasSubstr("[Complete] Send Total: 500 | Failed: 0"));

  // The README's consumer command.
  ToolResult consumed = RunBinary("tools/mqbench/mqbench",
                                  {"--mode=consumer", namesrv, "--topic=Bench", "--from_first",
                                   "--messages=500", "--duration=30s", "--report_interval=10s"});
  EXPECT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_THAT(consumed.out, ContainsRegex("\\[Complete\\] Consume Total: 5[0-9][0-9] "));

  ToolResult progress =
      RunBinary("tools/mqadmin/mqadmin",
                {"consumerProgress", "-n", server_->address(), "-g", "benchmark_consumer"});
  EXPECT_EQ(progress.exit_code, 0) << progress.err;
  EXPECT_THAT(progress.out, HasSubstr("Bench"));
  EXPECT_THAT(progress.out, HasSubstr("Diff Total: 0"));

  ToolResult groups =
      RunBinary("tools/mqadmin/mqadmin", {"consumerProgress", "-n", server_->address()});
  EXPECT_EQ(groups.exit_code, 0) << groups.err;
  // The group's topics: its retry topic (its consumers subscribe to it) and Bench.
  EXPECT_THAT(groups.out,
              ContainsRegex("benchmark_consumer +0 +0 +%RETRY%benchmark_consumer,Bench"));
}

}  // namespace
}  // namespace mq::testing
