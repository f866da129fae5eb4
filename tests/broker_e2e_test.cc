// The broker over gRPC, as any client in any language sees it, in both
// deployments: the standalone server (one process) and the split services
// (namesrv, store and broker processes). Sends, pulls, long polling, offsets
// across a broker restart, auto-creation, permissions and bad input.
#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "proto/broker.grpc.pb.h"
#include "proto/namesrv.grpc.pb.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

namespace mq {
namespace {

using ::testing::HasSubstr;
namespace bv1 = broker::v1;
namespace nv1 = namesrv::v1;

constexpr char kBrokerName[] = "broker-a";
constexpr int64_t kMaxMessageSize = 256 * 1024;

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(10)) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  return context;
}

enum class Deployment { kStandalone, kSplit };

std::string DeploymentName(const ::testing::TestParamInfo<Deployment>& info) {
  return info.param == Deployment::kStandalone ? "Standalone" : "Split";
}

// The processes of one deployment and stubs to reach them.
class Cluster {
 public:
  Cluster(Deployment deployment, std::vector<std::string> broker_flags)
      : deployment_(deployment), broker_flags_(std::move(broker_flags)) {}

  ~Cluster() {
    ResetStubs();
    for (auto* process : {&broker_, &store_, &namesrv_}) {
      if (*process != nullptr) EXPECT_TRUE((*process)->Stop().ok());
    }
  }

  void Start() {
    if (deployment_ == Deployment::kStandalone) {
      std::vector<std::string> args = {"--port=0",
                                       "--listen_address=127.0.0.1",
                                       absl::StrCat("--data_dir=", data_dir_),
                                       absl::StrCat("--broker_name=", kBrokerName),
                                       absl::StrCat("--max_message_size=", kMaxMessageSize),
                                       "--commit_log_file_size=16777216",
                                       "--shutdown_grace=1s"};
      args.insert(args.end(), broker_flags_.begin(), broker_flags_.end());
      broker_ = StartProcess("standalone", "services/standalone/standalone", args);
      namesrv_address_ = broker_->address();
    } else {
      namesrv_ = StartProcess("namesrv", "services/namesrv/namesrv",
                              {"--port=0", "--listen_address=127.0.0.1"});
      namesrv_address_ = namesrv_->address();
      store_ = StartProcess(
          "store", "services/store/store",
          {"--port=0", "--listen_address=127.0.0.1", absl::StrCat("--data_dir=", data_dir_),
           absl::StrCat("--max_message_size=", kMaxMessageSize), "--commit_log_file_size=16777216",
           "--shutdown_grace=1s"});
      StartBroker();
    }
    Connect();
  }

  // Split: restarts only the broker process; standalone: the whole server.
  void RestartBroker() {
    ResetStubs();
    ASSERT_TRUE(broker_->Stop().ok());
    broker_.reset();
    if (deployment_ == Deployment::kStandalone) {
      Start();
      return;
    }
    StartBroker();
    Connect();
  }

  bv1::Broker::Stub* broker() { return broker_stub_.get(); }
  nv1::NameServer::Stub* namesrv() { return namesrv_stub_.get(); }

 private:
  std::unique_ptr<testing::ServerProcess> StartProcess(const std::string& name,
                                                       const std::string& binary,
                                                       const std::vector<std::string>& args) {
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> process =
        testing::ServerProcess::Start(name, testing::RunfilePath(binary), args);
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }

  void StartBroker() {
    std::vector<std::string> args = {"--port=0",
                                     "--listen_address=127.0.0.1",
                                     absl::StrCat("--broker_name=", kBrokerName),
                                     absl::StrCat("--namesrv_addr=", namesrv_address_),
                                     absl::StrCat("--store_address=", store_->address()),
                                     absl::StrCat("--max_message_size=", kMaxMessageSize)};
    args.insert(args.end(), broker_flags_.begin(), broker_flags_.end());
    broker_ = StartProcess("broker", "services/broker/broker", args);
  }

  void Connect() {
    ASSERT_NE(broker_, nullptr);
    broker_stub_ = bv1::Broker::NewStub(CreateChannel(broker_->address()));
    namesrv_stub_ = nv1::NameServer::NewStub(CreateChannel(namesrv_address_));
  }

  void ResetStubs() {
    broker_stub_.reset();
    namesrv_stub_.reset();
  }

  const Deployment deployment_;
  const std::vector<std::string> broker_flags_;
  const std::string data_dir_ = testing::MakeTempDir("broker-e2e");
  std::unique_ptr<testing::ServerProcess> namesrv_;
  std::unique_ptr<testing::ServerProcess> store_;
  std::unique_ptr<testing::ServerProcess> broker_;
  std::string namesrv_address_;
  std::unique_ptr<bv1::Broker::Stub> broker_stub_;
  std::unique_ptr<nv1::NameServer::Stub> namesrv_stub_;
};

common::v1::Message MakeMessage(const std::string& topic, const std::string& body,
                                const std::string& tag = "TagA") {
  common::v1::Message message;
  message.set_topic(topic);
  message.set_body(body);
  (*message.mutable_properties())["TAGS"] = tag;
  return message;
}

class BrokerE2eTest : public ::testing::TestWithParam<Deployment> {
 protected:
  void StartCluster(std::vector<std::string> broker_flags = {}) {
    cluster_ = std::make_unique<Cluster>(GetParam(), std::move(broker_flags));
    cluster_->Start();
  }

  absl::StatusOr<bv1::SendMessageResponse> Send(const common::v1::Message& message,
                                                int32_t queue_id = -1, int32_t sys_flag = 0) {
    bv1::SendMessageRequest request;
    request.set_sys_flag(sys_flag);
    request.set_producer_group("e2e-producer");
    *request.mutable_message() = message;
    request.set_queue_id(queue_id);
    request.set_default_topic("TBW102");
    request.set_default_topic_queue_nums(4);
    request.set_broker_name(kBrokerName);
    bv1::SendMessageResponse response;
    auto context = Context();
    absl::Status status = FromGrpcStatus(
        cluster_->broker()->SendMessage(context.get(), request, &response), *context);
    if (!status.ok()) return status;
    return response;
  }

  absl::StatusOr<bv1::PullMessageResponse> Pull(const std::string& topic, int32_t queue_id,
                                                int64_t offset, bool suspend = false,
                                                const std::string& subscription = "*") {
    bv1::PullMessageRequest request;
    request.set_consumer_group("e2e-consumer");
    request.set_topic(topic);
    request.set_queue_id(queue_id);
    request.set_queue_offset(offset);
    request.set_max_msg_nums(32);
    request.set_commit_offset(-1);
    request.set_suspend(suspend);
    request.set_suspend_timeout_ms(10000);
    request.set_subscription(subscription);
    bv1::PullMessageResponse response;
    auto context = Context(absl::Seconds(20));
    absl::Status status = FromGrpcStatus(
        cluster_->broker()->PullMessage(context.get(), request, &response), *context);
    if (!status.ok()) return status;
    return response;
  }

  absl::Status CreateTopic(const std::string& topic, int queues, uint32_t perm) {
    bv1::CreateOrUpdateTopicRequest request;
    common::v1::TopicConfig* config = request.mutable_config();
    config->set_topic_name(topic);
    config->set_read_queue_nums(queues);
    config->set_write_queue_nums(queues);
    config->set_perm(perm);
    bv1::CreateOrUpdateTopicResponse response;
    auto context = Context();
    return FromGrpcStatus(
        cluster_->broker()->CreateOrUpdateTopic(context.get(), request, &response), *context);
  }

  absl::StatusOr<common::v1::TopicRouteData> Route(const std::string& topic) {
    nv1::GetRouteInfoByTopicRequest request;
    request.set_topic(topic);
    nv1::GetRouteInfoByTopicResponse response;
    auto context = Context();
    absl::Status status = FromGrpcStatus(
        cluster_->namesrv()->GetRouteInfoByTopic(context.get(), request, &response), *context);
    if (!status.ok()) return status;
    return response.route();
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_P(BrokerE2eTest, TenThousandMessagesComeBackInOrderPerQueue) {
  StartCluster();
  ASSERT_TRUE(CreateTopic("Orders", 4, 6).ok());
  constexpr int kMessages = 10000;
  std::vector<std::vector<std::string>> expected(4);
  std::vector<std::vector<std::string>> expected_ids(4);
  int sent = 0;
  // Single sends and batches of 50, spread over the four queues.
  while (sent < kMessages) {
    int32_t queue = sent % 4;
    if (sent % 200 < 100) {
      common::v1::Message message = MakeMessage("Orders", absl::StrCat("body-", sent));
      (*message.mutable_properties())["seq"] = std::to_string(sent);
      (*message.mutable_properties())["UNIQ_KEY"] = absl::StrCat("ID", sent);
      absl::StatusOr<bv1::SendMessageResponse> response = Send(message, queue);
      ASSERT_TRUE(response.ok()) << response.status();
      ASSERT_EQ(response->status(), bv1::SEND_OK);
      ASSERT_EQ(response->queue_id(), queue);
      ASSERT_EQ(response->queue_offset(), static_cast<int64_t>(expected[queue].size()));
      ASSERT_EQ(response->msg_id(), absl::StrCat("ID", sent));
      expected[queue].push_back(absl::StrCat("body-", sent));
      expected_ids[queue].push_back(absl::StrCat("ID", sent));
      ++sent;
      continue;
    }
    bv1::SendBatchRequest batch;
    batch.set_producer_group("e2e-producer");
    batch.set_topic("Orders");
    batch.set_queue_id(queue);
    batch.set_broker_name(kBrokerName);
    for (int i = 0; i < 50; ++i, ++sent) {
      common::v1::Message message = MakeMessage("Orders", absl::StrCat("body-", sent));
      (*message.mutable_properties())["seq"] = std::to_string(sent);
      (*message.mutable_properties())["UNIQ_KEY"] = absl::StrCat("ID", sent);
      *batch.add_messages() = message;
      expected[queue].push_back(absl::StrCat("body-", sent));
      expected_ids[queue].push_back(absl::StrCat("ID", sent));
    }
    bv1::SendBatchResponse response;
    auto context = Context();
    ASSERT_TRUE(cluster_->broker()->SendBatch(context.get(), batch, &response).ok());
    ASSERT_EQ(response.status(), bv1::SEND_OK);
    ASSERT_EQ(response.msg_ids_size(), 50);
    ASSERT_EQ(response.queue_offset(), static_cast<int64_t>(expected[queue].size()) - 50);
  }

  for (int32_t queue = 0; queue < 4; ++queue) {
    std::vector<common::v1::MessageExt> got;
    int64_t offset = 0;
    while (got.size() < expected[queue].size()) {
      // Long polls, as consumers pull: an acknowledged message is readable once
      // the store has dispatched it, in the background (within a millisecond).
      absl::StatusOr<bv1::PullMessageResponse> response =
          Pull("Orders", queue, offset, /*suspend=*/true);
      ASSERT_TRUE(response.ok()) << response.status();
      ASSERT_EQ(response->status(), bv1::FOUND) << "queue " << queue << " offset " << offset;
      for (const common::v1::MessageExt& m : response->messages()) got.push_back(m);
      offset = response->next_begin_offset();
    }
    ASSERT_EQ(got.size(), expected[queue].size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].body(), expected[queue][i]) << "queue " << queue << " #" << i;
      ASSERT_EQ(got[i].queue_offset(), static_cast<int64_t>(i));
      ASSERT_EQ(got[i].queue_id(), queue);
      ASSERT_EQ(got[i].msg_id(), expected_ids[queue][i]);
      ASSERT_EQ(got[i].properties().at("TAGS"), "TagA");
      ASSERT_EQ(got[i].properties().at("seq"), got[i].body().substr(5));
      ASSERT_EQ(got[i].offset_msg_id().size(), 32u);
    }
    absl::StatusOr<bv1::PullMessageResponse> at_end = Pull("Orders", queue, offset);
    ASSERT_TRUE(at_end.ok());
    EXPECT_EQ(at_end->status(), bv1::NO_NEW_MSG);
    EXPECT_EQ(at_end->max_offset(), static_cast<int64_t>(expected[queue].size()));
  }
}

TEST_P(BrokerE2eTest, LongPollWakesWithin100MsOfASend) {
  StartCluster();
  ASSERT_TRUE(CreateTopic("Waits", 1, 6).ok());
  int fast = 0;
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int64_t> answered_at_ns{0};
    absl::StatusOr<bv1::PullMessageResponse> pulled;
    absl::Notification started;
    std::thread puller([&] {
      started.Notify();
      pulled = Pull("Waits", 0, round, /*suspend=*/true);
      answered_at_ns = absl::GetCurrentTimeNanos();
    });
    started.WaitForNotification();
    // Give the pull time to reach the broker and park; the measure below is
    // from the send's acknowledgement, so this only has to be long enough.
    absl::SleepFor(absl::Milliseconds(300));
    ASSERT_EQ(answered_at_ns.load(), 0) << "the pull returned before anything was sent";
    absl::StatusOr<bv1::SendMessageResponse> sent = Send(MakeMessage("Waits", "wake up"), 0);
    int64_t sent_at_ns = absl::GetCurrentTimeNanos();
    ASSERT_TRUE(sent.ok()) << sent.status();
    puller.join();
    ASSERT_TRUE(pulled.ok()) << pulled.status();
    ASSERT_EQ(pulled->status(), bv1::FOUND);
    int64_t wake_ms = (answered_at_ns.load() - sent_at_ns) / 1000000;
    std::cerr << "long poll answered " << wake_ms << " ms after the send was acknowledged\n";
    if (wake_ms < 100) ++fast;
  }
  // A loaded 2-core CI machine may stall one round; the point is the norm.
  EXPECT_GE(fast, kRounds - 1);
}

TEST_P(BrokerE2eTest, ConsumerOffsetsSurviveABrokerRestart) {
  StartCluster({"--flush_consumer_offset_interval=1s"});
  ASSERT_TRUE(CreateTopic("Progress", 2, 6).ok());
  bv1::UpdateConsumerOffsetRequest update;
  update.set_consumer_group("g1");
  update.set_topic("Progress");
  update.set_queue_id(1);
  update.set_offset(42);
  bv1::UpdateConsumerOffsetResponse updated;
  auto context = Context();
  ASSERT_TRUE(cluster_->broker()->UpdateConsumerOffset(context.get(), update, &updated).ok());

  cluster_->RestartBroker();
  bv1::QueryConsumerOffsetRequest query;
  query.set_consumer_group("g1");
  query.set_topic("Progress");
  query.set_queue_id(1);
  bv1::QueryConsumerOffsetResponse offset;
  context = Context();
  grpc::Status status = cluster_->broker()->QueryConsumerOffset(context.get(), query, &offset);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(offset.offset(), 42);

  query.set_queue_id(0);
  context = Context();
  EXPECT_EQ(cluster_->broker()->QueryConsumerOffset(context.get(), query, &offset).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// A send without UNIQ_KEY is answered with its offset message id as msg_id;
// QueryMessageById must find the message by that id.
TEST_P(BrokerE2eTest, TheIdOfASendWithoutAUniqueKeyFindsTheMessage) {
  StartCluster();
  ASSERT_TRUE(CreateTopic("NoKey", 2, 6).ok());
  absl::StatusOr<bv1::SendMessageResponse> sent = Send(MakeMessage("NoKey", "keyless"), 1);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->msg_id(), sent->offset_msg_id());
  bv1::QueryMessageByIdRequest query;
  query.set_topic("NoKey");
  query.set_msg_id(sent->msg_id());
  bv1::QueryMessageResponse found;
  auto context = Context();
  absl::Status status =
      FromGrpcStatus(cluster_->broker()->QueryMessageById(context.get(), query, &found), *context);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(found.messages_size(), 1);
  EXPECT_EQ(found.messages(0).body(), "keyless");
}

TEST_P(BrokerE2eTest, AutoCreatedTopicIsRegisteredAtOnce) {
  StartCluster();
  absl::StatusOr<bv1::SendMessageResponse> sent = Send(MakeMessage("Fresh", "first"));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->status(), bv1::SEND_OK);
  // Registered with the name server right away, not at the next 30 s period.
  absl::StatusOr<common::v1::TopicRouteData> route;
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  do {
    route = Route("Fresh");
  } while (!route.ok() && absl::Now() < deadline);
  ASSERT_TRUE(route.ok()) << route.status();
  ASSERT_EQ(route->queue_datas_size(), 1);
  // min(client's default 4, TBW102's 8)
  EXPECT_EQ(route->queue_datas(0).write_queue_nums(), 4);
  EXPECT_EQ(route->queue_datas(0).perm(), 6u);
}

TEST_P(BrokerE2eTest, WithoutAutoCreateAnUnknownTopicIsNotFound) {
  StartCluster({"--auto_create_topic_enable=false"});
  absl::StatusOr<bv1::SendMessageResponse> sent = Send(MakeMessage("Unknown", "x"));
  EXPECT_EQ(sent.status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(GetResponseCode(sent.status()).has_value());
  EXPECT_EQ(*GetResponseCode(sent.status()), common::v1::TOPIC_NOT_EXIST);
}

TEST_P(BrokerE2eTest, BadInputGetsTheDocumentedStatus) {
  StartCluster();
  ASSERT_TRUE(CreateTopic("ReadOnly", 2, 4).ok());
  ASSERT_TRUE(CreateTopic("Small", 2, 6).ok());
  auto expect = [](const absl::Status& status, absl::StatusCode code,
                   common::v1::ResponseCode response_code, const std::string& needle) {
    EXPECT_EQ(status.code(), code) << status;
    ASSERT_TRUE(GetResponseCode(status).has_value()) << status;
    EXPECT_EQ(*GetResponseCode(status), response_code) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(needle));
  };
  expect(Send(MakeMessage("ReadOnly", "x")).status(), absl::StatusCode::kPermissionDenied,
         common::v1::NO_PERMISSION, "ReadOnly");
  expect(Send(MakeMessage("Small", "")).status(), absl::StatusCode::kInvalidArgument,
         common::v1::MESSAGE_ILLEGAL, "empty");
  expect(Send(MakeMessage("Small", std::string(kMaxMessageSize + 1, 'b'))).status(),
         absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL, "limit");
  expect(Send(MakeMessage("bad topic", "x")).status(), absl::StatusCode::kInvalidArgument,
         common::v1::MESSAGE_ILLEGAL, "topic");
  expect(Send(MakeMessage(std::string(128, 't'), "x")).status(), absl::StatusCode::kInvalidArgument,
         common::v1::MESSAGE_ILLEGAL, "topic");
  expect(Send(MakeMessage("Small", "x"), 7).status(), absl::StatusCode::kInvalidArgument,
         common::v1::SYSTEM_ERROR, "queueId[7]");
  // Flags of features not implemented (transactions, ...) are refused, not
  // stored as a message no consumer would ever see.
  for (int32_t sys_flag : {4, 12, -1, std::numeric_limits<int32_t>::max()}) {
    SCOPED_TRACE(sys_flag);
    expect(Send(MakeMessage("Small", "x"), 0, sys_flag).status(),
           absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL, "sys_flag");
  }
  common::v1::Message fat = MakeMessage("Small", "x");
  (*fat.mutable_properties())["big"] = std::string(40000, 'p');
  expect(Send(fat).status(), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL,
         "properties");

  bv1::SendBatchRequest mixed;
  mixed.set_producer_group("e2e-producer");
  mixed.set_topic("Small");
  mixed.set_queue_id(0);
  *mixed.add_messages() = MakeMessage("Small", "a");
  *mixed.add_messages() = MakeMessage("Other", "b");
  bv1::SendBatchResponse batch_response;
  auto context = Context();
  grpc::Status batch_status = cluster_->broker()->SendBatch(context.get(), mixed, &batch_response);
  EXPECT_EQ(batch_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Offsets and queries of a topic the broker does not have are NOT_FOUND,
  // and a queue must be one of the topic's, as for pulls.
  auto call = [&](auto method, const auto& request, auto* response) {
    auto context = Context();
    absl::Status status =
        FromGrpcStatus(((*cluster_->broker()).*method)(context.get(), request, response), *context);
    // Every error carries a response code.
    EXPECT_TRUE(GetResponseCode(status).has_value()) << status;
    return status;
  };
  for (const auto& [topic, queue_id] : std::vector<std::pair<std::string, int32_t>>{
           {"NoSuchTopic", 0}, {"Small", 2}, {"Small", 8}}) {
    SCOPED_TRACE(topic + "/" + std::to_string(queue_id));
    const absl::StatusCode code =
        topic == "Small" ? absl::StatusCode::kInvalidArgument : absl::StatusCode::kNotFound;
    bv1::UpdateConsumerOffsetRequest update;
    update.set_consumer_group("g");
    update.set_topic(topic);
    update.set_queue_id(queue_id);
    bv1::UpdateConsumerOffsetResponse updated;
    EXPECT_EQ(call(&bv1::Broker::Stub::UpdateConsumerOffset, update, &updated).code(), code);
    bv1::QueryConsumerOffsetRequest query;
    query.set_consumer_group("g");
    query.set_topic(topic);
    query.set_queue_id(queue_id);
    bv1::QueryConsumerOffsetResponse queried;
    EXPECT_EQ(call(&bv1::Broker::Stub::QueryConsumerOffset, query, &queried).code(), code);
    bv1::GetQueueOffsetsRequest offsets;
    offsets.set_topic(topic);
    offsets.set_queue_id(queue_id);
    bv1::GetQueueOffsetsResponse offsets_response;
    EXPECT_EQ(call(&bv1::Broker::Stub::GetQueueOffsets, offsets, &offsets_response).code(), code);
    bv1::SearchOffsetRequest search;
    search.set_topic(topic);
    search.set_queue_id(queue_id);
    bv1::SearchOffsetResponse searched;
    EXPECT_EQ(call(&bv1::Broker::Stub::SearchOffset, search, &searched).code(), code);
  }

  // Nothing of the refused sends was stored.
  absl::StatusOr<bv1::PullMessageResponse> small = Pull("Small", 0, 0);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->messages_size(), 0);
}

INSTANTIATE_TEST_SUITE_P(Deployments, BrokerE2eTest,
                         ::testing::Values(Deployment::kStandalone, Deployment::kSplit),
                         DeploymentName);

}  // namespace
}  // namespace mq
