// Starts the real namesrv binary and drives it over gRPC: registration, routes,
// expiry of a silent broker, bad input, reflection and health.
#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/grpc_options.h"
#include "common/status.h"
#include "proto/namesrv.grpc.pb.h"
#include "testing/reflection_client.h"
#include "testing/server_process.h"

namespace mq {
namespace {

using ::testing::Contains;
using ::testing::UnorderedElementsAre;

namespace nv1 = namesrv::v1;

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return context;
}

nv1::RegisterBrokerRequest Registration(const std::string& name, const std::string& addr,
                                        const std::string& topic) {
  nv1::RegisterBrokerRequest request;
  request.set_cluster_name("DefaultCluster");
  request.set_broker_name(name);
  request.set_broker_id(0);
  request.set_broker_addr(addr);
  request.mutable_data_version()->set_counter(1);
  common::v1::TopicConfig* config = request.add_topic_configs();
  config->set_topic_name(topic);
  config->set_read_queue_nums(4);
  config->set_write_queue_nums(4);
  config->set_perm(6);
  return request;
}

class NamesrvProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> process = testing::ServerProcess::Start(
        "namesrv", testing::RunfilePath("services/namesrv/namesrv"),
        {"--port=0", "--listen_address=127.0.0.1", "--broker_expiry=2s", "--scan_interval=100ms"});
    ASSERT_TRUE(process.ok()) << process.status();
    namesrv_ = *std::move(process);
    channel_ = CreateChannel(namesrv_->address());
    stub_ = nv1::NameServer::NewStub(channel_);
  }

  void TearDown() override {
    // Close the client's connection first: a server drains open connections
    // before it exits.
    stub_.reset();
    channel_.reset();
    if (namesrv_ != nullptr) EXPECT_TRUE(namesrv_->Stop().ok());
  }

  absl::Status Register(const nv1::RegisterBrokerRequest& request) {
    nv1::RegisterBrokerResponse response;
    auto context = Context();
    return FromGrpcStatus(stub_->RegisterBroker(context.get(), request, &response), *context);
  }

  absl::StatusOr<common::v1::TopicRouteData> Route(const std::string& topic) {
    nv1::GetRouteInfoByTopicRequest request;
    request.set_topic(topic);
    nv1::GetRouteInfoByTopicResponse response;
    auto context = Context();
    absl::Status status =
        FromGrpcStatus(stub_->GetRouteInfoByTopic(context.get(), request, &response), *context);
    if (!status.ok()) return status;
    return response.route();
  }

  std::unique_ptr<testing::ServerProcess> namesrv_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<nv1::NameServer::Stub> stub_;
};

TEST_F(NamesrvProcessTest, RegistersRoutesAndExpiresSilentBroker) {
  ASSERT_TRUE(Register(Registration("broker-a", "127.0.0.1:30911", "orders")).ok());
  ASSERT_TRUE(Register(Registration("broker-b", "127.0.0.1:31911", "orders")).ok());

  absl::StatusOr<common::v1::TopicRouteData> route = Route("orders");
  ASSERT_TRUE(route.ok()) << route.status();
  ASSERT_EQ(route->queue_datas_size(), 2);
  EXPECT_EQ(route->queue_datas(0).broker_name(), "broker-a");
  EXPECT_EQ(route->queue_datas(1).broker_name(), "broker-b");
  EXPECT_EQ(route->broker_datas(1).broker_addrs().at(0), "127.0.0.1:31911");

  // broker-b keeps registering; broker-a goes silent and must expire (2 s).
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool expired = false;
  while (absl::Now() < deadline) {
    ASSERT_TRUE(Register(Registration("broker-b", "127.0.0.1:31911", "orders")).ok());
    route = Route("orders");
    ASSERT_TRUE(route.ok()) << route.status();
    if (route->queue_datas_size() == 1) {
      expired = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(expired) << "broker-a was not dropped within 20 s";
  EXPECT_EQ(route->queue_datas(0).broker_name(), "broker-b");

  nv1::GetClusterInfoResponse info;
  auto context = Context();
  ASSERT_TRUE(stub_->GetClusterInfo(context.get(), nv1::GetClusterInfoRequest(), &info).ok());
  EXPECT_EQ(info.broker_addr_table().count("broker-a"), 0u);
  EXPECT_EQ(info.broker_addr_table().count("broker-b"), 1u);
}

TEST_F(NamesrvProcessTest, UnknownTopicIsNotFoundWithTopicNotExistCode) {
  absl::StatusOr<common::v1::TopicRouteData> route = Route("missing");
  EXPECT_EQ(route.status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(GetResponseCode(route.status()).has_value());
  EXPECT_EQ(*GetResponseCode(route.status()), common::v1::TOPIC_NOT_EXIST);
}

TEST_F(NamesrvProcessTest, BadRegistrationIsInvalidArgumentAndChangesNothing) {
  nv1::RegisterBrokerRequest bad = Registration("broker-a", "127.0.0.1:30911", "orders");
  bad.mutable_topic_configs(0)->set_write_queue_nums(0);
  absl::Status status = Register(bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("write queue nums"));
  EXPECT_EQ(Route("orders").status().code(), absl::StatusCode::kNotFound);

  nv1::GetAllTopicsResponse topics;
  auto context = Context();
  ASSERT_TRUE(stub_->GetAllTopics(context.get(), nv1::GetAllTopicsRequest(), &topics).ok());
  EXPECT_EQ(topics.topics_size(), 0);
}

TEST_F(NamesrvProcessTest, DeleteTopicRemovesRoute) {
  ASSERT_TRUE(Register(Registration("broker-a", "127.0.0.1:30911", "orders")).ok());
  nv1::DeleteTopicRequest request;
  request.set_topic("orders");
  nv1::DeleteTopicResponse response;
  auto context = Context();
  ASSERT_TRUE(stub_->DeleteTopic(context.get(), request, &response).ok());
  EXPECT_EQ(Route("orders").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NamesrvProcessTest, ReflectionListsAndDescribesServices) {
  absl::StatusOr<std::vector<std::string>> services = testing::ListServices(channel_);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, Contains("mq.namesrv.v1.NameServer"));
  EXPECT_THAT(*services, Contains("grpc.health.v1.Health"));

  for (const std::string& symbol : {"mq.namesrv.v1.NameServer", "grpc.health.v1.Health"}) {
    absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> files =
        testing::FileContainingSymbol(channel_, symbol);
    ASSERT_TRUE(files.ok()) << symbol << ": " << files.status();
    ASSERT_FALSE(files->empty());
    EXPECT_GT(files->front().service_size(), 0) << symbol;
  }
}

}  // namespace
}  // namespace mq
