// What a user sees when starting a server: --help lists the program's own
// flags, and a port already in use is a clear error and a non-zero exit
// (gRPC's default port sharing would otherwise let two servers split the
// clients between them without a word).
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/broker.grpc.pb.h"
#include "proto/namesrv.grpc.pb.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

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

TEST(ServerStartupTest, TheProxyRefusesAnOutOfRangeRouteCacheTtl) {
  for (const char* ttl : {"-1s", "61s"}) {
    SCOPED_TRACE(ttl);
    Outcome outcome = RunToExit(
        "services/proxy/proxy",
        {"--port=0", "--namesrv_addr=127.0.0.1:9876", absl::StrCat("--v5_route_cache_ttl=", ttl)});
    EXPECT_EQ(outcome.exit_code, 2);
    EXPECT_THAT(outcome.output, HasSubstr("is out of range (0 .. 1m)"));
    EXPECT_THAT(outcome.output, HasSubstr("--v5_route_cache_ttl="));
    EXPECT_THAT(outcome.output, Not(HasSubstr("listening on")));
  }
}

TEST(ServerStartupTest, BrokersRefuseAnOutOfRangePopCheckpointInterval) {
  for (const char* interval : {"0s", "25h"}) {
    SCOPED_TRACE(interval);
    Outcome outcome = RunToExit("services/standalone/standalone",
                                {"--port=0", absl::StrCat("--data_dir=", MakeTempDir("checkpoint")),
                                 absl::StrCat("--pop_checkpoint_interval=", interval)});
    EXPECT_EQ(outcome.exit_code, 2);
    EXPECT_THAT(outcome.output, HasSubstr("--pop_checkpoint_interval="));
    EXPECT_THAT(outcome.output, HasSubstr("must be 1s..24h"));
    EXPECT_THAT(outcome.output, Not(HasSubstr("listening on")));
  }
}

// A unary call with raw request bytes; its status with the response code.
absl::Status RawCall(const std::string& address, const std::string& method,
                     const std::string& bytes) {
  grpc::GenericStub stub(CreateChannel(address));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return FromGrpcStatus(status, context);
}

// A request that cannot be parsed: garbage, and a valid request cut short.
std::vector<std::string> MalformedRequests() {
  broker::v1::SendMessageRequest valid;
  valid.set_producer_group("g");
  valid.mutable_message()->set_topic("T");
  valid.mutable_message()->set_body(std::string(100, 'b'));
  const std::string bytes = valid.SerializeAsString();
  return {std::string("\xff\xff\xff\xff\xff", 5), bytes.substr(0, bytes.size() - 10)};
}

void ExpectClearAnswersToMalformedAndUnknownCalls(const std::string& address,
                                                  const std::vector<std::string>& methods,
                                                  const std::vector<std::string>& unknown_methods,
                                                  const std::string& served) {
  for (const std::string& method : methods) {
    for (const std::string& bytes : MalformedRequests()) {
      SCOPED_TRACE(method);
      absl::Status status = RawCall(address, method, bytes);
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
      EXPECT_TRUE(GetResponseCode(status).has_value()) << status;
      // gRPC's health service says "could not parse request" itself.
      if (!absl::StartsWith(method, "/grpc.")) {
        EXPECT_THAT(std::string(status.message()), HasSubstr("request could not be parsed"));
      }
    }
  }
  for (const std::string& method : unknown_methods) {
    SCOPED_TRACE(method);
    absl::Status status = RawCall(address, method, "");
    EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("this port serves " + served));
    EXPECT_EQ(GetResponseCode(status), common::v1::REQUEST_CODE_NOT_SUPPORTED) << status;
  }
}

TEST(ServerStartupTest, MalformedRequestsAndUnknownMethodsGetClearAnswers) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> standalone = StartStandalone(MakeTempDir("sa"));
  ASSERT_TRUE(standalone.ok()) << standalone.status();
  // One server with callback (broker, RocketMQ 5 front) and synchronous
  // (store, name server) services, and gRPC's own health service.
  ExpectClearAnswersToMalformedAndUnknownCalls(
      (*standalone)->address(),
      {"/mq.broker.v1.Broker/SendMessage", "/mq.broker.v1.Broker/PullMessage",
       "/mq.store.v1.Store/AppendBatch", "/mq.namesrv.v1.NameServer/GetRouteInfoByTopic",
       "/apache.rocketmq.v2.MessagingService/SendMessage", "/grpc.health.v1.Health/Check"},
      {"/mq.broker.v1.Broker/NoSuchMethod"},
      "mq.namesrv.v1.NameServer, mq.broker.v1.Broker, mq.store.v1.Store, mq.acl.v1.AclAdmin, "
      "apache.rocketmq.v2.MessagingService");
  // Still serving.
  EXPECT_TRUE(NameServerAnswers((*standalone)->address()));
  EXPECT_TRUE((*standalone)->Stop().ok());

  // A server of synchronous services only.
  absl::StatusOr<std::unique_ptr<ServerProcess>> store =
      StartStore("store", MakeTempDir("store"), 1 << 20, {});
  ASSERT_TRUE(store.ok()) << store.status();
  // The store does not speak RocketMQ 5: the refusal says which ports do.
  ExpectClearAnswersToMalformedAndUnknownCalls(
      (*store)->address(), {"/mq.store.v1.Store/GetStats"},
      {"/apache.rocketmq.v2.MessagingService/QueryRoute", "/mq.broker.v1.Broker/NoSuchMethod"},
      "mq.store.v1.Store");
  absl::Status v5 =
      RawCall((*store)->address(), "/apache.rocketmq.v2.MessagingService/QueryRoute", "");
  EXPECT_THAT(std::string(v5.message()), HasSubstr("served on the ports of the standalone server"));
  EXPECT_TRUE((*store)->Stop().ok());
}

// An open TCP connection to 127.0.0.1:`port`; -1 on failure. With `preface`,
// it also sends HTTP/2's client preface and an empty SETTINGS frame: an
// established gRPC connection with no call.
int IdleConnection(int port, bool preface) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  if (preface) {
    const std::string hello =
        std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string("\0\0\0\x04\0\0\0\0\0", 9);
    if (write(fd, hello.data(), hello.size()) != static_cast<ssize_t>(hello.size())) {
      close(fd);
      return -1;
    }
  }
  return fd;
}

// A server with nothing to do exits at once on SIGTERM, idle client
// connections or not (it waited out its 5 s grace for them).
TEST(ServerStartupTest, IdleConnectionsDoNotHoldUpAStop) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> namesrv = StartNamesrv();
  ASSERT_TRUE(namesrv.ok()) << namesrv.status();
  absl::StatusOr<std::unique_ptr<ServerProcess>> store =
      StartStore("store", MakeTempDir("store"), 1 << 20, {});
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::unique_ptr<ServerProcess>> broker =
      StartBroker("broker", (*store)->address(), (*namesrv)->address(), {});
  ASSERT_TRUE(broker.ok()) << broker.status();
  absl::StatusOr<std::unique_ptr<ServerProcess>> standalone = StartStandalone(MakeTempDir("sa"));
  ASSERT_TRUE(standalone.ok()) << standalone.status();
  for (ServerProcess* server : {broker->get(), standalone->get(), store->get(), namesrv->get()}) {
    std::vector<int> idle;
    for (bool preface : {false, true}) idle.push_back(IdleConnection(server->port(), preface));
    for (int fd : idle) ASSERT_GE(fd, 0);
    const absl::Time start = absl::Now();
    absl::Status stopped = server->Stop();
    const absl::Duration took = absl::Now() - start;
    EXPECT_TRUE(stopped.ok()) << stopped;
    EXPECT_LT(took, absl::Seconds(1)) << server->port();
    for (int fd : idle) close(fd);
  }
}

// A connection that starts the HTTP/2 preface and stops is closed, so half-open
// connections cannot pile up (gRPC's default waits 120 s).
TEST(ServerStartupTest, AConnectionThatNeverFinishesItsHandshakeIsClosed) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> namesrv = StartNamesrv();
  ASSERT_TRUE(namesrv.ok()) << namesrv.status();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>((*namesrv)->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const std::string half_preface = "PRI * HTTP/2.0\r\n";
  ASSERT_EQ(write(fd, half_preface.data(), half_preface.size()),
            static_cast<ssize_t>(half_preface.size()));
  const absl::Time start = absl::Now();
  bool closed = false;
  while (!closed && absl::Now() - start < absl::Seconds(30)) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 1000) <= 0) continue;
    char buffer[256];
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    closed = n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN);
  }
  const absl::Duration took = absl::Now() - start;
  close(fd);
  EXPECT_TRUE(closed);
  EXPECT_LT(took, kServerHandshakeTimeout + absl::Seconds(3)) << took;
  EXPECT_TRUE((*namesrv)->Stop().ok());
}

}  // namespace
}  // namespace mq::testing
