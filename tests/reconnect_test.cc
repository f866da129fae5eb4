// A broker whose store was killed and restarted sends again within about a
// second of the store listening, however long the outage: every internal
// channel reconnects with a bounded backoff (common/grpc_options). With
// gRPC's defaults (1 s growing 1.6x to 120 s) the first send after a 12 s
// outage came 2.5-5 s after the store was back.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "proto/broker.grpc.pb.h"
#include "tests/client_test_util.h"
#include "tests/support/cluster_processes.h"
#include "tests/support/server_process.h"

namespace mq::testing {
namespace {

constexpr int64_t kFileSize = 1 << 20;

absl::Status SendOne(broker::v1::Broker::Stub& broker, const std::string& topic) {
  broker::v1::SendMessageRequest request;
  request.set_producer_group("reconnect");
  request.set_queue_id(0);
  request.mutable_message()->set_topic(topic);
  request.mutable_message()->set_body("ping");
  broker::v1::SendMessageResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return FromGrpcStatus(broker.SendMessage(&context, request, &response), context);
}

TEST(ReconnectTest, ABrokerSendsAgainWithinASecondOfItsStoreComingBack) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> namesrv = StartNamesrv();
  ASSERT_TRUE(namesrv.ok()) << namesrv.status();
  const std::string data_dir = MakeTempDir("reconnect-store");
  absl::StatusOr<std::unique_ptr<ServerProcess>> store =
      StartStore("store", data_dir, kFileSize, {});
  ASSERT_TRUE(store.ok()) << store.status();
  const int store_port = (*store)->port();
  absl::StatusOr<std::unique_ptr<ServerProcess>> broker =
      StartBroker("broker", (*store)->address(), (*namesrv)->address(), {});
  ASSERT_TRUE(broker.ok()) << broker.status();
  ASSERT_TRUE(CreateTopic((*broker)->address(), "Reconnect", 1).ok());
  std::unique_ptr<broker::v1::Broker::Stub> stub =
      broker::v1::Broker::NewStub(CreateChannel((*broker)->address()));
  ASSERT_TRUE(SendOne(*stub, "Reconnect").ok());

  (*store)->Kill();
  // A long outage, during which the broker keeps trying (and sends fail):
  // long enough that gRPC's default backoff would have grown past 4 s.
  const absl::Time outage_end = absl::Now() + absl::Seconds(12);
  int failed_during_outage = 0;
  while (absl::Now() < outage_end) {
    failed_during_outage += SendOne(*stub, "Reconnect").ok() ? 0 : 1;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_GT(failed_during_outage, 0);

  store = StartStore("store", data_dir, kFileSize, {absl::StrCat("--port=", store_port)});
  ASSERT_TRUE(store.ok()) << store.status();
  const absl::Time listening = absl::Now();
  absl::Status sent = SendOne(*stub, "Reconnect");
  while (!sent.ok() && absl::Now() - listening < absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(20));
    sent = SendOne(*stub, "Reconnect");
  }
  const absl::Duration resumed = absl::Now() - listening;
  ASSERT_TRUE(sent.ok()) << sent;
  std::cerr << "first send " << resumed << " after the store listened again\n";
  // Backoff at most 800 ms (+20 % jitter), and a send's own round trip.
  EXPECT_LT(resumed, absl::Milliseconds(1500));

  EXPECT_TRUE((*broker)->Stop().ok());
  EXPECT_TRUE((*store)->Stop().ok());
  EXPECT_TRUE((*namesrv)->Stop().ok());
}

}  // namespace
}  // namespace mq::testing
