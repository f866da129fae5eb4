// The README's C++ example, run against a real standalone server.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

namespace mq {
namespace {

TEST(QuickstartTest, SendsAndReceivesThroughTheStandaloneServer) {
  absl::StatusOr<std::unique_ptr<testing::ServerProcess>> server = testing::ServerProcess::Start(
      "standalone", testing::RunfilePath("services/standalone/standalone"),
      {"--port=0", "--listen_address=127.0.0.1",
       absl::StrCat("--data_dir=", testing::MakeTempDir("quickstart")),
       "--commit_log_file_size=16777216", "--shutdown_grace=1s"});
  ASSERT_TRUE(server.ok()) << server.status();
  std::string command = absl::StrCat(testing::RunfilePath("examples/cpp/quickstart"),
                                     " --namesrv=", (*server)->address());
  int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << command;
  EXPECT_TRUE((*server)->Stop().ok());
}

}  // namespace
}  // namespace mq
