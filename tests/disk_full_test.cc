// A standalone server whose data directory is a 96 MiB tmpfs, filled to the
// last byte: every refused send is UNAVAILABLE with SERVICE_NOT_AVAILABLE (as
// the README documents; clients retry those on another broker), the condition
// is logged when it starts, not once per send, and what was acknowledged
// before stays readable. The test mounts the tmpfs itself (root); where it
// cannot, it says so and counts as skipped.
#include <grpcpp/grpcpp.h>
#include <sys/mount.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "proto/broker.grpc.pb.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

namespace mq::testing {
namespace {

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_point_ = MakeTempDir("tmpfs");
    if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=96m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): "
                   << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Kill();
    if (mounted_) ::umount2(mount_point_.c_str(), MNT_DETACH);
  }

  std::string mount_point_;
  bool mounted_ = false;
  std::unique_ptr<ServerProcess> server_;
};

absl::Status Send(broker::v1::Broker::Stub& broker, int i) {
  broker::v1::SendMessageRequest request;
  request.set_producer_group("fill");
  request.set_queue_id(i % 4);
  request.set_default_topic("TBW102");
  request.set_default_topic_queue_nums(4);
  request.mutable_message()->set_topic("Fill");
  request.mutable_message()->set_body(absl::StrCat(i, ":", std::string(60000, 'f')));
  broker::v1::SendMessageResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return FromGrpcStatus(broker.SendMessage(&context, request, &response), context);
}

TEST_F(DiskFullTest, AFullDiskRefusesSendsAsUnavailableAndLogsTheConditionOnce) {
  const std::string log_file = MakeTempDir("disk-full-log") + "/stderr";
  // The server's stderr (glog) goes to a file the test reads.
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(
      "standalone", "/bin/sh",
      {"-c", absl::StrCat("exec ", RunfilePath("services/standalone/standalone"),
                          " --port=0 --listen_address=127.0.0.1 --data_dir=", mount_point_,
                          "/store --commit_log_file_size=16777216 --max_message_size=65536",
                          " --consume_queue_units_per_file=20000 --index_slot_count=20000",
                          " --index_max_entries=80000 --shutdown_grace=1s 2>", log_file)});
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  std::unique_ptr<broker::v1::Broker::Stub> broker =
      broker::v1::Broker::NewStub(CreateChannel(server_->address()));

  int acked = 0, refused = 0;
  for (int i = 0; i < 3000 && refused < 300; ++i) {
    absl::Status status = Send(*broker, i);
    if (status.ok()) {
      ++acked;
      continue;
    }
    ++refused;
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_EQ(GetResponseCode(status), common::v1::SERVICE_NOT_AVAILABLE) << status;
  }
  ASSERT_GT(acked, 100) << "the disk filled before the test could send";
  ASSERT_EQ(refused, 300) << "the disk never filled";

  // What was acknowledged is still served.
  broker::v1::PullMessageRequest pull;
  pull.set_consumer_group("reader");
  pull.set_topic("Fill");
  pull.set_queue_id(0);
  pull.set_queue_offset(0);
  pull.set_max_msg_nums(4);
  pull.set_commit_offset(-1);
  pull.set_subscription("*");
  broker::v1::PullMessageResponse pulled;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ASSERT_TRUE(broker->PullMessage(&context, pull, &pulled).ok());
  EXPECT_EQ(pulled.status(), broker::v1::FOUND);
  EXPECT_GT(pulled.messages_size(), 0);

  // With the last bytes taken too, a metadata write (a new topic) is refused
  // the same way.
  {
    std::ofstream filler(mount_point_ + "/filler", std::ios::binary);
    const std::string chunk(1 << 16, 'f');
    for (int i = 0; i < 2000 && filler.write(chunk.data(), chunk.size()); ++i) {
    }
  }
  broker::v1::CreateOrUpdateTopicRequest create;
  create.mutable_config()->set_topic_name("NewTopic");
  create.mutable_config()->set_read_queue_nums(4);
  create.mutable_config()->set_write_queue_nums(4);
  create.mutable_config()->set_perm(6);
  broker::v1::CreateOrUpdateTopicResponse created;
  grpc::ClientContext create_context;
  create_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  absl::Status create_status = FromGrpcStatus(
      broker->CreateOrUpdateTopic(&create_context, create, &created), create_context);
  EXPECT_EQ(create_status.code(), absl::StatusCode::kUnavailable) << create_status;
  EXPECT_EQ(GetResponseCode(create_status), common::v1::SERVICE_NOT_AVAILABLE) << create_status;

  // 300 refused sends, a handful of lines about them.
  std::ifstream in(log_file);
  std::stringstream text;
  text << in.rdbuf();
  int error_lines = 0;
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    if (absl::StartsWith(line, "E") || absl::StartsWith(line, "W")) ++error_lines;
  }
  EXPECT_LE(error_lines, 10) << text.str().substr(0, 4000);
}

}  // namespace
}  // namespace mq::testing
