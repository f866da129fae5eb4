#include "common/rpc.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "proto/namesrv.grpc.pb.h"

namespace mq {
namespace {

using namesrv::v1::GetRouteInfoByTopicRequest;
using namesrv::v1::GetRouteInfoByTopicResponse;
using namesrv::v1::NameServer;

// Answers topic "ok" with its name as the route's order config, "missing" with
// NOT_FOUND and TOPIC_NOT_EXIST, and "slow" after 2 s.
class RouteService : public NameServer::Service {
 public:
  grpc::Status GetRouteInfoByTopic(grpc::ServerContext* context,
                                   const GetRouteInfoByTopicRequest* request,
                                   GetRouteInfoByTopicResponse* response) override {
    if (request->topic() == "missing") {
      return ToGrpcStatus(
          WithResponseCode(absl::NotFoundError("no route"), common::v1::TOPIC_NOT_EXIST), context);
    }
    if (request->topic() == "slow") absl::SleepFor(absl::Seconds(2));
    response->mutable_route()->set_order_topic_conf(request->topic());
    return grpc::Status::OK;
  }
};

class RpcTest : public testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = absl::StrCat("127.0.0.1:", port);
    stub_ = NameServer::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  void TearDown() override { server_->Shutdown(); }

  static GetRouteInfoByTopicRequest Request(const std::string& topic) {
    GetRouteInfoByTopicRequest request;
    request.set_topic(topic);
    return request;
  }

  RouteService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::unique_ptr<NameServer::Stub> stub_;
};

TEST_F(RpcTest, CallUnaryReturnsTheResponse) {
  absl::StatusOr<GetRouteInfoByTopicResponse> response = CallUnary(
      *stub_, &NameServer::Stub::GetRouteInfoByTopic, Request("ok"), absl::Seconds(10), "ns: ");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->route().order_topic_conf(), "ok");
}

TEST_F(RpcTest, CallUnaryLabelsTheErrorAndKeepsTheResponseCode) {
  absl::StatusOr<GetRouteInfoByTopicResponse> response =
      CallUnary(*stub_, &NameServer::Stub::GetRouteInfoByTopic, Request("missing"),
                absl::Seconds(10), "ns: ");
  EXPECT_EQ(response.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(response.status().message(), "ns: no route");
  EXPECT_EQ(GetResponseCode(response.status()), common::v1::TOPIC_NOT_EXIST);
}

TEST_F(RpcTest, CallUnaryEndsAtTheDeadline) {
  const absl::Time start = absl::Now();
  absl::StatusOr<GetRouteInfoByTopicResponse> response = CallUnary(
      *stub_, &NameServer::Stub::GetRouteInfoByTopic, Request("slow"), absl::Milliseconds(200));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(BrokerLabelTest, NamesTheBroker) {
  EXPECT_EQ(BrokerLabel("10.0.0.1:10911"), "broker 10.0.0.1:10911: ");
  EXPECT_EQ(BrokerLabel("b1", "10.0.0.1:10911"), "broker b1 (10.0.0.1:10911): ");
}

TEST_F(RpcTest, CallEachAnswersEveryTargetInOrder) {
  const std::vector<std::string> topics = {"ok", "missing", "slow"};
  std::vector<absl::StatusOr<GetRouteInfoByTopicResponse>> results =
      CallEach<GetRouteInfoByTopicResponse>(
          topics, absl::Milliseconds(500),
          [this](const std::string& topic, grpc::ClientContext* context,
                 GetRouteInfoByTopicResponse* response, std::function<void(grpc::Status)> done) {
            auto request = std::make_shared<GetRouteInfoByTopicRequest>(Request(topic));
            stub_->async()->GetRouteInfoByTopic(
                context, request.get(), response,
                [request, done = std::move(done)](grpc::Status status) {
                  done(std::move(status));
                });
          });
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[0]->route().order_topic_conf(), "ok");
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetResponseCode(results[1].status()), common::v1::TOPIC_NOT_EXIST);
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(RpcTest, CallEachWithNoTargetsReturnsAtOnce) {
  std::vector<absl::StatusOr<GetRouteInfoByTopicResponse>> results =
      CallEach<GetRouteInfoByTopicResponse>(
          std::vector<std::string>(), absl::Seconds(1),
          [](const std::string&, grpc::ClientContext*, GetRouteInfoByTopicResponse*,
             std::function<void(grpc::Status)>) { ADD_FAILURE() << "no call expected"; });
  EXPECT_TRUE(results.empty());
}

}  // namespace
}  // namespace mq
