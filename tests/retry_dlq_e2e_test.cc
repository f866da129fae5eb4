// Consumer retry and dead-letter queues against real processes, in both
// deployments (the standalone server; a name server, store and broker): a
// push consumer whose listener fails sees the message again with a growing
// reconsume count until it lands in %DLQ%<group>, mqadmin lists and resends
// it; a consumer killed with SIGKILL in the middle of its retries loses
// nothing; subscription-group admin through mqadmin and bad requests through
// a gRPC stub.
#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "mq/producer.h"
#include "mq/pull_consumer.h"
#include "mq/push_consumer.h"
#include "proto/broker.grpc.pb.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

enum class Deployment { kStandalone, kSplit };

constexpr int64_t kCommitLogFileSize = 16 * 1024 * 1024;

// One delivery a listener saw.
struct Delivery {
  std::string msg_id;
  int reconsume_times;
  std::string topic;
  absl::Time at;
};

// A listener recording deliveries and failing while `fail` is set; thread-safe.
class Recorder {
 public:
  MessageListener Listener() {
    return [this](const std::vector<MessageExt>& messages) {
      absl::MutexLock lock(&mu_);
      for (const MessageExt& m : messages) {
        deliveries_.push_back({m.msg_id, m.reconsume_times, m.message.topic(), absl::Now()});
      }
      return fail_ ? ConsumeStatus::kReconsumeLater : ConsumeStatus::kConsumeSuccess;
    };
  }
  void set_fail(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_ = fail;
  }
  std::vector<Delivery> Of(const std::string& msg_id) const {
    absl::MutexLock lock(&mu_);
    std::vector<Delivery> of;
    for (const Delivery& d : deliveries_) {
      if (d.msg_id == msg_id) of.push_back(d);
    }
    return of;
  }

 private:
  mutable absl::Mutex mu_;
  bool fail_ ABSL_GUARDED_BY(mu_) = true;
  std::vector<Delivery> deliveries_ ABSL_GUARDED_BY(mu_);
};

class RetryDlqTest : public ::testing::TestWithParam<Deployment> {
 protected:
  void SetUp() override {
    const std::string dir = testing::MakeTempDir("retry_dlq");
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started;
    if (GetParam() == Deployment::kStandalone) {
      started = testing::StartStandalone(dir, StoreFlags());
      ASSERT_TRUE(started.ok()) << started.status();
      broker_ = *std::move(started);
      namesrv_address_ = broker_->address();
    } else {
      started = testing::StartNamesrv();
      ASSERT_TRUE(started.ok()) << started.status();
      namesrv_ = *std::move(started);
      namesrv_address_ = namesrv_->address();
      started = testing::StartStore("store", dir, kCommitLogFileSize, StoreFlags());
      ASSERT_TRUE(started.ok()) << started.status();
      store_ = *std::move(started);
      started = testing::StartBroker("broker", store_->address(), namesrv_address_, {});
      ASSERT_TRUE(started.ok()) << started.status();
      broker_ = *std::move(started);
    }
    stub_ = broker::v1::Broker::NewStub(CreateChannel(broker_->address()));
  }

  void TearDown() override {
    for (std::unique_ptr<testing::ServerProcess>* process : {&broker_, &store_, &namesrv_}) {
      if (*process != nullptr) {
        EXPECT_TRUE((*process)->Stop().ok());
      }
    }
  }

  // A short delay table of three levels (the store's): the first retry waits
  // for level 3 (2 s); the second asks for level 4, which the broker caps at
  // the store's last level, 3, read from the store at start (a level the
  // store lacks would be refused, and the message would never reach the DLQ).
  static std::vector<std::string> StoreFlags() {
    return {"--message_delay_level=500ms 1s 2s"};
  }

  void CreateTopic(const std::string& topic) {
    ASSERT_TRUE(testing::CreateTopic(broker_->address(), topic, 1).ok());
    ASSERT_TRUE(testing::WaitForRoute(namesrv_address_, topic, 1).ok());
  }

  ClientOptions Client(const std::string& instance) const {
    ClientOptions client;
    client.name_server_addresses = {namesrv_address_};
    client.instance_name = instance;
    client.client_ip = "127.0.0.1";
    return client;
  }

  PushConsumerOptions PushOptions(const std::string& instance) const {
    PushConsumerOptions options;
    options.client = Client(instance);
    options.rebalance_interval = absl::Milliseconds(300);
    options.persist_consumer_offset_interval = absl::Milliseconds(300);
    options.reconsume_delay = absl::Milliseconds(500);
    return options;
  }

  std::string Send(const std::string& topic, const std::string& body) {
    ProducerOptions options;
    options.client = Client("retry-producer");
    Producer producer("RetryProducer", options);
    EXPECT_TRUE(producer.Start().ok());
    absl::StatusOr<SendResult> sent = producer.Send(Message(topic, "TagA", body));
    producer.Shutdown();
    EXPECT_TRUE(sent.ok()) << sent.status();
    return sent.ok() ? sent->msg_id : "";
  }

  testing::ToolResult Mqadmin(std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"-n", namesrv_address_});
    absl::StatusOr<testing::ToolResult> result =
        testing::RunTool(testing::RunfilePath("tools/mqadmin/mqadmin"), args);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return testing::ToolResult();
    std::cerr << "$ mqadmin " << absl::StrJoin(args, " ") << "\n"
              << result->out << result->err << "(exit " << result->exit_code << ")\n";
    return *result;
  }

  std::string MqadminOk(std::vector<std::string> args) {
    testing::ToolResult result = Mqadmin(std::move(args));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out;
  }

  std::vector<std::string> TopicNames() {
    grpc::ClientContext context;
    broker::v1::GetAllTopicConfigsResponse response;
    EXPECT_TRUE(
        stub_->GetAllTopicConfigs(&context, broker::v1::GetAllTopicConfigsRequest(), &response)
            .ok());
    std::vector<std::string> names;
    for (const common::v1::TopicConfig& config : response.configs()) {
      names.push_back(config.topic_name());
    }
    return names;
  }

  std::string namesrv_address_;
  std::unique_ptr<testing::ServerProcess> namesrv_;
  std::unique_ptr<testing::ServerProcess> store_;
  std::unique_ptr<testing::ServerProcess> broker_;
  std::unique_ptr<broker::v1::Broker::Stub> stub_;
};

TEST_P(RetryDlqTest, FailedMessageIsRetriedThenDeadLetteredThenResent) {
  CreateTopic("RetryTopic");
  PushConsumerOptions options = PushOptions("retrying");
  options.max_reconsume_times = 2;
  PushConsumer consumer("RetryGroup", options);
  Recorder recorder;
  ASSERT_TRUE(consumer.RegisterMessageListener(recorder.Listener()).ok());
  ASSERT_TRUE(consumer.Subscribe("RetryTopic", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  // The group's retry topic was created by its first heartbeat.
  ASSERT_TRUE(testing::WaitForRoute(namesrv_address_, "%RETRY%RetryGroup", 1).ok());
  // Subscribed after start: the first message is stored after every queue of
  // the consumer is assigned, so consuming from the last offset gets it.
  ASSERT_TRUE(
      testing::WaitUntil([&] { return consumer.AssignedQueues().size() == 2; }, absl::Seconds(20)));

  const std::string id = Send("RetryTopic", "fails three times");
  // Failed twice, handed back twice: three deliveries, counting up, each with
  // the original topic.
  ASSERT_TRUE(testing::WaitUntil([&] { return recorder.Of(id).size() >= 3; }, absl::Seconds(60)));
  // The third failure sends it to the DLQ, which mqadmin lists.
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return Mqadmin({"queryDlqMsg", "-g", "RetryGroup"}).out.find(id) != std::string::npos;
      },
      absl::Seconds(30)));
  std::vector<Delivery> seen = recorder.Of(id);
  ASSERT_EQ(seen.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].reconsume_times, i);
    EXPECT_EQ(seen[i].topic, "RetryTopic");
  }
  // Each retry waited for its delay level (3 + reconsume times, at most the
  // store's last): at least the level's delay (counted from the send-back,
  // after the delivery), and not much more.
  const absl::Duration first_gap = seen[1].at - seen[0].at;
  const absl::Duration second_gap = seen[2].at - seen[1].at;
  std::cerr << "retry gaps: " << first_gap << " (level 3, 2 s), " << second_gap
            << " (level 4 capped at 3, 2 s)\n";
  EXPECT_GE(first_gap, absl::Seconds(2)) << first_gap;
  EXPECT_LT(first_gap, absl::Seconds(2) + absl::Seconds(5)) << first_gap;
  EXPECT_GE(second_gap, absl::Seconds(2)) << second_gap;
  EXPECT_LT(second_gap, absl::Seconds(2) + absl::Seconds(5)) << second_gap;
  std::string dlq = MqadminOk({"queryDlqMsg", "-g", "RetryGroup"});
  EXPECT_THAT(dlq, ::testing::ContainsRegex("Reconsume Times: +3\n"));
  EXPECT_THAT(dlq, HasSubstr("RETRY_TOPIC=RetryTopic"));
  EXPECT_THAT(dlq, HasSubstr("Dead letters: 1"));

  // Consumers cannot pull the DLQ.
  {
    PullConsumerOptions pull_options;
    pull_options.client = Client("dlq-reader");
    PullConsumer reader("RetryGroup", pull_options);
    ASSERT_TRUE(reader.Start().ok());
    absl::StatusOr<PullResult> refused =
        reader.Pull(MessageQueue{"%DLQ%RetryGroup", "broker-a", 0}, "*", 0, 32);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
    reader.Shutdown();
  }

  // Resent to its topic, with the count reset: the group consumes it again.
  recorder.set_fail(false);
  EXPECT_THAT(MqadminOk({"resendDlqMsg", "-g", "RetryGroup", "-i", id}),
              HasSubstr(absl::StrCat("resent ", id, " to RetryTopic")));
  ASSERT_TRUE(testing::WaitUntil([&] { return recorder.Of(id).size() >= 4; }, absl::Seconds(30)));
  seen = recorder.Of(id);
  EXPECT_EQ(seen[3].reconsume_times, 0);
  EXPECT_EQ(seen[3].topic, "RetryTopic");
  consumer.Shutdown();

  testing::ToolResult unknown = Mqadmin({"resendDlqMsg", "-g", "RetryGroup", "-i", "NOPE"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));
}

TEST_P(RetryDlqTest, ConsumerKilledDuringItsRetriesLosesNothing) {
  CreateTopic("KillTopic");
  absl::StatusOr<std::unique_ptr<testing::ServerProcess>> doomed = testing::ServerProcess::Spawn(
      "doomed-consumer", testing::RunfilePath("tests/retry_consumer"),
      {absl::StrCat("--namesrv_addr=", namesrv_address_), "--group=KillGroup", "--topic=KillTopic",
       "--instance_name=killed", "--fail", "--consume_time=200ms"});
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  ASSERT_TRUE((*doomed)->WaitForOutput("started", absl::Seconds(30)));
  ASSERT_TRUE(testing::WaitForRoute(namesrv_address_, "%RETRY%KillGroup", 1).ok());
  // Its queues assigned: it has committed where KillTopic starts for it.
  absl::SleepFor(absl::Seconds(1));

  const std::string id = Send("KillTopic", "survives a crash");
  // Failed once, and the retry copy is with it again: killed mid-retry.
  ASSERT_TRUE((*doomed)->WaitForOutput(absl::StrCat("consumed ", id, " 1"), absl::Seconds(60)));
  (*doomed)->Kill();

  // The same member restarted (same client id, so it owns the queues at
  // once) gets the message, from where the dead one left it.
  PushConsumer restarted("KillGroup", PushOptions("killed"));
  Recorder recorder;
  recorder.set_fail(false);
  ASSERT_TRUE(restarted.RegisterMessageListener(recorder.Listener()).ok());
  ASSERT_TRUE(restarted.Subscribe("KillTopic", "*").ok());
  ASSERT_TRUE(restarted.Start().ok());
  EXPECT_TRUE(testing::WaitUntil([&] { return !recorder.Of(id).empty(); }, absl::Seconds(60)));
  restarted.Shutdown();
  std::vector<Delivery> seen = recorder.Of(id);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0].topic, "KillTopic");
}

TEST_P(RetryDlqTest, SubscriptionGroupAdminAndBadRequests) {
  CreateTopic("AdminTopic");
  const std::string broker = broker_->address();
  EXPECT_THAT(MqadminOk({"updateSubGroup", "-g", "AdminGroup", "-b", broker, "-q", "3", "-r", "2"}),
              HasSubstr("AdminGroup"));
  EXPECT_THAT(MqadminOk({"subGroupList"}),
              ::testing::ContainsRegex("AdminGroup +true +true +3 +2 +false"));

  // Consume disabled: the group's pulls are refused, with a clear error.
  const std::string id = Send("AdminTopic", "admin");
  PullConsumerOptions pull_options;
  pull_options.client = Client("admin-reader");
  PullConsumer reader("AdminGroup", pull_options);
  ASSERT_TRUE(reader.Start().ok());
  const MessageQueue queue{"AdminTopic", "broker-a", 0};
  MqadminOk({"updateSubGroup", "-g", "AdminGroup", "-b", broker, "-s", "false"});
  absl::StatusOr<PullResult> refused = reader.Pull(queue, "*", 0, 32);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("does not allow consume"));
  MqadminOk({"updateSubGroup", "-g", "AdminGroup", "-b", broker, "-s", "true"});
  absl::StatusOr<PullResult> pulled = reader.Pull(queue, "*", 0, 32);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  ASSERT_EQ(pulled->messages.size(), 1u);
  const MessageExt message = pulled->messages[0];
  reader.Shutdown();

  // A stub user hands the message back: a copy on the group's retry topic.
  broker::v1::ConsumerSendBackRequest back;
  back.set_consumer_group("AdminGroup");
  back.set_commit_log_offset(message.commit_log_offset);
  back.set_origin_message_id(id);
  back.set_origin_topic("AdminTopic");
  back.set_max_reconsume_times(-1);
  back.set_broker_name("broker-a");
  {
    grpc::ClientContext context;
    broker::v1::ConsumerSendBackResponse response;
    ASSERT_TRUE(stub_->ConsumerSendBack(&context, back, &response).ok());
    EXPECT_EQ(response.topic(), "%RETRY%AdminGroup");
    EXPECT_EQ(response.msg_id(), id);
  }

  // Bad requests: a clear error each, and nothing changes.
  const std::vector<std::string> topics_before = TopicNames();
  auto send_back_error = [&](broker::v1::ConsumerSendBackRequest request) {
    grpc::ClientContext context;
    broker::v1::ConsumerSendBackResponse response;
    return FromGrpcStatus(stub_->ConsumerSendBack(&context, request, &response), context);
  };
  broker::v1::ConsumerSendBackRequest bad = back;
  bad.set_consumer_group("NoSuchGroup");
  absl::Status status = send_back_error(bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_EQ(GetResponseCode(status), common::v1::SUBSCRIPTION_GROUP_NOT_EXIST);
  bad = back;
  bad.set_commit_log_offset(message.commit_log_offset + 100000000);
  EXPECT_EQ(send_back_error(bad).code(), absl::StatusCode::kNotFound);
  bad = back;
  bad.set_broker_name("broker-z");
  EXPECT_EQ(send_back_error(bad).code(), absl::StatusCode::kFailedPrecondition);
  bad = back;
  bad.set_origin_message_id("SOMEONE-ELSE");
  EXPECT_EQ(send_back_error(bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TopicNames(), topics_before);

  testing::ToolResult too_many =
      Mqadmin({"updateSubGroup", "-g", "AdminGroup", "-b", broker, "-r", "100"});
  EXPECT_EQ(too_many.exit_code, 1);
  EXPECT_THAT(too_many.err, HasSubstr("INVALID_ARGUMENT"));
  testing::ToolResult bad_name = Mqadmin({"updateSubGroup", "-g", "bad group!", "-b", broker});
  EXPECT_EQ(bad_name.exit_code, 1);
  EXPECT_THAT(MqadminOk({"subGroupList", "-b", broker}),
              ::testing::ContainsRegex("AdminGroup +true +true +3 +2 +false"));
  EXPECT_THAT(MqadminOk({"queryDlqMsg", "-g", "AdminGroup"}), HasSubstr("Dead letters: 0"));

  EXPECT_THAT(MqadminOk({"deleteSubGroup", "-g", "AdminGroup", "-b", broker}),
              HasSubstr("success"));
  EXPECT_THAT(MqadminOk({"subGroupList", "-b", broker}), Not(HasSubstr("AdminGroup")));
  testing::ToolResult again = Mqadmin({"deleteSubGroup", "-g", "AdminGroup", "-b", broker});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("NOT_FOUND"));
}

INSTANTIATE_TEST_SUITE_P(Deployments, RetryDlqTest,
                         ::testing::Values(Deployment::kStandalone, Deployment::kSplit),
                         [](const ::testing::TestParamInfo<Deployment>& info) {
                           return info.param == Deployment::kStandalone ? "Standalone" : "Split";
                         });

}  // namespace
}  // namespace mq
