// What a user sees when starting a server: --help lists the program's own
// flags, and a port already in use is a clear error and a non-zero exit
// (gRPC's default port sharing would otherwise let two servers split the
// clients between them without a word).
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/namesrv.grpc.pb.h"
#include "tests/client_test_util.h"
#include "tests/support/cluster_processes.h"
#include "tests/support/server_process.h"

namespace mq::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Binary {
  std::string name;
  std::string path;
  // A flag of the program's own that --help must list.
  std::string own_flag;
};

std::vector<Binary> Binaries() {
  return {{"namesrv", "services/namesrv/namesrv", "--broker_expiry"},
          {"store", "services/store/store", "--commit_log_file_size"},
          {"broker", "services/broker/broker", "--store_address"},
          {"standalone", "services/standalone/standalone", "--data_dir"}};
}

// Runs `binary` to its exit: its exit code and its stdout and stderr together.
struct Outcome {
  int exit_code = -1;
  std::string output;
};

Outcome RunToExit(const std::string& binary, const std::vector<std::string>& args) {
  Outcome outcome;
  absl::StatusOr<ToolResult> result = RunTool(RunfilePath(binary), args, absl::Seconds(60));
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return outcome;
  outcome.exit_code = result->exit_code;
  outcome.output = result->out + result->err;
  return outcome;
}

bool NameServerAnswers(const std::string& address) {
  std::unique_ptr<namesrv::v1::NameServer::Stub> stub =
      namesrv::v1::NameServer::NewStub(CreateChannel(address));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  namesrv::v1::GetClusterInfoRequest request;
  namesrv::v1::GetClusterInfoResponse response;
  return stub->GetClusterInfo(&context, request, &response).ok();
}

TEST(ServerStartupTest, HelpListsTheProgramsOwnFlags) {
  for (const Binary& binary : Binaries()) {
    SCOPED_TRACE(binary.name);
    Outcome outcome = RunToExit(binary.path, {"--help"});
    EXPECT_THAT(outcome.output, Not(HasSubstr("No flags matched")));
    EXPECT_THAT(outcome.output, HasSubstr(binary.own_flag));
    EXPECT_THAT(outcome.output, HasSubstr("--port"));
  }
}

TEST(ServerStartupTest, EveryServerRefusesAPortInUse) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> first = StartNamesrv();
  ASSERT_TRUE(first.ok()) << first.status();
  const int port = (*first)->port();
  // The broker connects to its store before it listens.
  absl::StatusOr<std::unique_ptr<ServerProcess>> store =
      StartStore("store", MakeTempDir("store"), 1 << 20, {});
  ASSERT_TRUE(store.ok()) << store.status();

  const std::vector<std::string> common = {absl::StrCat("--port=", port),
                                           "--listen_address=127.0.0.1"};
  const std::vector<std::string> small_store = {"--commit_log_file_size=1048576",
                                                "--max_message_size=65536"};
  const std::vector<std::pair<std::string, std::vector<std::string>>> extra = {
      {"namesrv", {}},
      {"store", {absl::StrCat("--data_dir=", MakeTempDir("second-store"))}},
      {"broker",
       {absl::StrCat("--store_address=", (*store)->address()),
        absl::StrCat("--namesrv_addr=", (*first)->address())}},
      {"standalone", {absl::StrCat("--data_dir=", MakeTempDir("standalone"))}}};
  for (const Binary& binary : Binaries()) {
    SCOPED_TRACE(binary.name);
    std::vector<std::string> args = common;
    for (const auto& [name, flags] : extra) {
      if (name == binary.name) args.insert(args.end(), flags.begin(), flags.end());
    }
    if (binary.name == "store" || binary.name == "standalone") {
      args.insert(args.end(), small_store.begin(), small_store.end());
    }
    Outcome outcome = RunToExit(binary.path, args);
    EXPECT_NE(outcome.exit_code, 0);
    EXPECT_THAT(outcome.output, HasSubstr(absl::StrCat("port ", port, " is already in use")));
    EXPECT_THAT(outcome.output, Not(HasSubstr("listening on")));
  }
  // The server that had the port keeps it.
  EXPECT_TRUE(NameServerAnswers((*first)->address()));
  EXPECT_TRUE((*store)->Stop().ok());
  EXPECT_TRUE((*first)->Stop().ok());
}

}  // namespace
}  // namespace mq::testing
