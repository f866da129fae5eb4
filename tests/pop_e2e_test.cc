// POP consumption against real processes, in both deployments (the standalone
// server; a name server, store and broker), through the C++ SimpleConsumer and
// a gRPC stub: receive and ack; redelivery with attempt 2 after the invisible
// time; the DLQ after the group's max attempts; FIFO order; two consumers of
// one group without double delivery; bad handles, unknown groups and invisible
// times out of range refused with nothing changed; and kill -9 of the broker
// (and its store) with messages in flight: after the restart every unacked
// message comes again, no acked one does, nothing is lost.
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "mq/error_code.h"
#include "mq/producer.h"
#include "mq/simple_consumer.h"
#include "proto/broker.grpc.pb.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq {
namespace {

enum class Deployment { kStandalone, kSplit };

constexpr int64_t kCommitLogFileSize = 16 * 1024 * 1024;

class PopTest : public ::testing::TestWithParam<Deployment> {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("pop");
    if (GetParam() == Deployment::kSplit) {
      absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started = testing::StartNamesrv();
      ASSERT_TRUE(started.ok()) << started.status();
      namesrv_ = *std::move(started);
      namesrv_address_ = namesrv_->address();
    }
    StartServers();
  }

  // The broker (and store) over dir_; the standalone's name server comes
  // with it.
  void StartServers() {
    // Checkpoints of the POP state every second, so a restart replays from
    // one.
    const std::vector<std::string> broker_flags = {"--auto_create_subscription_group=false",
                                                   "--pop_checkpoint_interval=1s"};
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> started;
    if (GetParam() == Deployment::kStandalone) {
      started = testing::StartStandalone(dir_, broker_flags);
      ASSERT_TRUE(started.ok()) << started.status();
      broker_ = *std::move(started);
      namesrv_address_ = broker_->address();
    } else {
      started = testing::StartStore("store", dir_, kCommitLogFileSize, {});
      ASSERT_TRUE(started.ok()) << started.status();
      store_ = *std::move(started);
      started = testing::StartBroker("broker", store_->address(), namesrv_address_, broker_flags);
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

  void CreateTopic(const std::string& topic, int queues) {
    ASSERT_TRUE(testing::CreateTopic(broker_->address(), topic, queues).ok());
    ASSERT_TRUE(testing::WaitForRoute(namesrv_address_, topic, 1).ok());
  }

  void CreateGroup(const std::string& group, int retry_max_times, bool orderly = false) {
    broker::v1::CreateOrUpdateSubscriptionGroupRequest request;
    broker::v1::SubscriptionGroupConfig& config = *request.mutable_config();
    config.set_group_name(group);
    config.set_consume_enable(true);
    config.set_retry_queue_nums(1);
    config.set_retry_max_times(retry_max_times);
    config.set_consume_message_orderly(orderly);
    grpc::ClientContext context;
    broker::v1::CreateOrUpdateSubscriptionGroupResponse response;
    grpc::Status status = stub_->CreateOrUpdateSubscriptionGroup(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  ClientOptions Client(const std::string& instance) const {
    ClientOptions client;
    client.name_server_addresses = {namesrv_address_};
    client.instance_name = instance;
    client.client_ip = "127.0.0.1";
    return client;
  }

  // Sends `count` messages; returns their msgIds in order.
  std::vector<std::string> Send(const std::string& topic, int count) {
    ProducerOptions options;
    options.client = Client(absl::StrCat("pop-producer-", ++instances_));
    Producer producer("PopProducer", options);
    EXPECT_TRUE(producer.Start().ok());
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<SendResult> sent =
          producer.Send(Message(topic, "TagA", absl::StrCat("body-", i)));
      EXPECT_TRUE(sent.ok()) << sent.status();
      if (sent.ok()) ids.push_back(sent->msg_id);
    }
    producer.Shutdown();
    return ids;
  }

  std::unique_ptr<SimpleConsumer> Consumer(const std::string& group, const std::string& topic) {
    SimpleConsumerOptions options;
    options.client = Client(absl::StrCat("pop-consumer-", ++instances_));
    auto consumer = std::make_unique<SimpleConsumer>(group, options);
    EXPECT_TRUE(consumer->Subscribe(topic).ok());
    EXPECT_TRUE(consumer->Start().ok());
    return consumer;
  }

  // Receives until `until` says stop or `timeout` passes; every message is
  // passed to `seen`.
  void ReceiveUntil(SimpleConsumer& consumer, absl::Duration invisible,
                    const std::function<void(ReceivedMessage&)>& seen,
                    const std::function<bool()>& until, absl::Duration timeout) {
    const absl::Time end = absl::Now() + timeout;
    while (!until() && absl::Now() < end) {
      absl::StatusOr<std::vector<ReceivedMessage>> got =
          consumer.Receive(16, invisible, absl::Seconds(2));
      ASSERT_TRUE(got.ok()) << got.status();
      for (ReceivedMessage& m : *got) seen(m);
    }
  }

  int64_t Lag(const std::string& group, const std::string& topic) {
    broker::v1::GetConsumeStatsRequest request;
    request.set_consumer_group(group);
    request.set_topic(topic);
    grpc::ClientContext context;
    broker::v1::GetConsumeStatsResponse response;
    EXPECT_TRUE(stub_->GetConsumeStats(&context, request, &response).ok());
    int64_t lag = 0;
    for (const broker::v1::QueueConsumeStats& q : response.queues()) {
      if (q.queue().topic() == topic) lag += q.broker_offset() - q.consumer_offset();
    }
    return lag;
  }

  std::vector<std::string> DeadLetters(const std::string& group) {
    broker::v1::ListDeadLettersRequest request;
    request.set_consumer_group(group);
    request.set_max_num(100);
    grpc::ClientContext context;
    broker::v1::ListDeadLettersResponse response;
    std::vector<std::string> ids;
    if (!stub_->ListDeadLetters(&context, request, &response).ok()) return ids;
    for (const common::v1::MessageExt& m : response.messages()) ids.push_back(m.msg_id());
    return ids;
  }

  std::string dir_;
  std::string namesrv_address_;
  int instances_ = 0;
  std::unique_ptr<testing::ServerProcess> namesrv_;
  std::unique_ptr<testing::ServerProcess> store_;
  std::unique_ptr<testing::ServerProcess> broker_;
  std::unique_ptr<broker::v1::Broker::Stub> stub_;
};

TEST_P(PopTest, ReceiveAckAndRedeliveryWithAttemptTwo) {
  CreateTopic("PopTopic", 2);
  CreateGroup("PopGroup", 16);
  std::vector<std::string> ids = Send("PopTopic", 6);
  ASSERT_EQ(ids.size(), 6u);
  std::unique_ptr<SimpleConsumer> consumer = Consumer("PopGroup", "PopTopic");
  std::map<std::string, std::vector<ReceivedMessage>> seen;
  ReceiveUntil(
      *consumer, absl::Seconds(2),
      [&](ReceivedMessage& m) {
        seen[m.message.msg_id].push_back(m);
        // The first message is left unacked once.
        if (m.message.msg_id == ids[0] && m.delivery_attempt == 1) return;
        EXPECT_TRUE(consumer->Ack(m).ok());
      },
      [&] { return seen.size() == 6 && seen[ids[0]].size() == 2; }, absl::Seconds(30));
  ASSERT_EQ(seen.size(), 6u);
  for (const std::string& id : ids) {
    const std::vector<ReceivedMessage>& of = seen[id];
    ASSERT_EQ(of.size(), id == ids[0] ? 2u : 1u) << id;
    EXPECT_EQ(of[0].delivery_attempt, 1);
    EXPECT_EQ(of[0].message.message.topic(), "PopTopic");
  }
  const ReceivedMessage& again = seen[ids[0]][1];
  EXPECT_EQ(again.delivery_attempt, 2);
  EXPECT_EQ(again.message.reconsume_times, 1);
  EXPECT_EQ(again.message.message.topic(), "PopTopic");
  EXPECT_EQ(again.message.message.body(), "body-0");
  // Not before its invisible time ended: the second delivery was at or after
  // the first's invisible_until, so its own ends 2 s or more later.
  EXPECT_GE(again.invisible_until, seen[ids[0]][0].invisible_until + absl::Seconds(2));
  // The first handle is spent.
  absl::Status stale = consumer->Ack(seen[ids[0]][0]);
  EXPECT_EQ(ResponseCodeOf(stale), ResponseCode::kInvalidReceiptHandle) << stale;
  // Nothing more, and the group's progress shows no lag.
  absl::StatusOr<std::vector<ReceivedMessage>> rest =
      consumer->Receive(16, absl::Seconds(2), absl::ZeroDuration());
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(rest->empty());
  EXPECT_TRUE(
      testing::WaitUntil([&] { return Lag("PopGroup", "PopTopic") == 0; }, absl::Seconds(10)));
}

TEST_P(PopTest, ChangeInvisibleDurationAndDeadLetterAfterMaxAttempts) {
  CreateTopic("DlqTopic", 1);
  CreateGroup("DlqGroup", 1);
  std::vector<std::string> ids = Send("DlqTopic", 1);
  std::unique_ptr<SimpleConsumer> consumer = Consumer("DlqGroup", "DlqTopic");
  std::vector<int> attempts;
  ReceiveUntil(
      *consumer, absl::Seconds(1),
      [&](ReceivedMessage& m) {
        attempts.push_back(m.delivery_attempt);
        if (attempts.size() == 1) {
          // Extended: not delivered again for 3 s; the old handle is spent.
          ReceivedMessage old = m;
          ASSERT_TRUE(consumer->ChangeInvisibleDuration(&m, absl::Seconds(3)).ok());
          EXPECT_NE(m.receipt_handle, old.receipt_handle);
          EXPECT_EQ(ResponseCodeOf(consumer->Ack(old)), ResponseCode::kInvalidReceiptHandle);
        }
      },
      [&] { return attempts.size() >= 2; }, absl::Seconds(30));
  ASSERT_EQ(attempts, (std::vector<int>{1, 2}));
  // retry_max_times 1: after the second attempt the message is dead-lettered.
  ASSERT_TRUE(
      testing::WaitUntil([&] { return DeadLetters("DlqGroup") == ids; }, absl::Seconds(20)));
  absl::StatusOr<std::vector<ReceivedMessage>> rest =
      consumer->Receive(16, absl::Seconds(1), absl::Seconds(2));
  ASSERT_TRUE(rest.ok());
  EXPECT_TRUE(rest->empty());
}

TEST_P(PopTest, FifoGroupGetsAQueuesMessagesInOrderOneAtATime) {
  CreateTopic("FifoTopic", 1);
  CreateGroup("FifoGroup", 16, /*orderly=*/true);
  std::vector<std::string> ids = Send("FifoTopic", 4);
  std::unique_ptr<SimpleConsumer> consumer = Consumer("FifoGroup", "FifoTopic");
  std::vector<std::string> order;
  bool left_one = false;
  ReceiveUntil(
      *consumer, absl::Seconds(1),
      [&](ReceivedMessage& m) {
        order.push_back(m.message.msg_id);
        // The second message fails once: it comes again before the third.
        if (m.message.msg_id == ids[1] && !left_one) {
          left_one = true;
          return;
        }
        EXPECT_TRUE(consumer->Ack(m).ok());
      },
      [&] { return order.size() >= 5; }, absl::Seconds(30));
  EXPECT_EQ(order, (std::vector<std::string>{ids[0], ids[1], ids[1], ids[2], ids[3]}));
}

TEST_P(PopTest, TwoConsumersOfAGroupShareWithoutDoubleDelivery) {
  CreateTopic("ShareTopic", 4);
  CreateGroup("ShareGroup", 16);
  std::vector<std::string> ids = Send("ShareTopic", 40);
  std::unique_ptr<SimpleConsumer> a = Consumer("ShareGroup", "ShareTopic");
  std::unique_ptr<SimpleConsumer> b = Consumer("ShareGroup", "ShareTopic");
  absl::Mutex mu;
  std::vector<std::string> received;
  auto run = [&](SimpleConsumer* consumer) {
    ReceiveUntil(
        *consumer, absl::Seconds(30),
        [&](ReceivedMessage& m) {
          absl::Status acked = consumer->Ack(m);
          EXPECT_TRUE(acked.ok()) << acked;
          absl::MutexLock lock(&mu);
          received.push_back(m.message.msg_id);
        },
        [&] {
          absl::MutexLock lock(&mu);
          return received.size() >= ids.size();
        },
        absl::Seconds(30));
  };
  std::thread first(run, a.get());
  std::thread second(run, b.get());
  first.join();
  second.join();
  std::multiset<std::string> got(received.begin(), received.end());
  EXPECT_EQ(got, std::multiset<std::string>(ids.begin(), ids.end()));
}

TEST_P(PopTest, BadRequestsAreRefusedClearlyAndChangeNothing) {
  CreateTopic("BadTopic", 1);
  CreateGroup("BadGroup", 16);
  Send("BadTopic", 1);
  broker::v1::PopMessageRequest pop;
  pop.set_consumer_group("BadGroup");
  pop.set_topic("BadTopic");
  pop.set_queue_id(-1);
  pop.set_invisible_time_ms(13 * 3600 * 1000);
  {
    grpc::ClientContext context;
    broker::v1::PopMessageResponse response;
    grpc::Status status = stub_->PopMessage(&context, pop, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("invisible_time_ms"), std::string::npos)
        << status.error_message();
  }
  pop.set_consumer_group("NoSuchGroup");
  pop.set_invisible_time_ms(10000);
  {
    grpc::ClientContext context;
    broker::v1::PopMessageResponse response;
    grpc::Status status = stub_->PopMessage(&context, pop, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(GetResponseCode(FromGrpcStatus(status, context)),
              common::v1::SUBSCRIPTION_GROUP_NOT_EXIST);
  }
  // The refused pops handed nothing out: the message is there for the group
  // (long polling: it may still be on its way to the queue).
  pop.set_consumer_group("BadGroup");
  pop.set_poll_timeout_ms(10000);
  broker::v1::PopMessageResponse popped;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    ASSERT_TRUE(stub_->PopMessage(&context, pop, &popped).ok());
  }
  ASSERT_EQ(popped.messages_size(), 1);
  const std::string handle = popped.messages(0).receipt_handle();
  broker::v1::AckMessageRequest ack;
  ack.set_consumer_group("BadGroup");
  ack.set_topic("BadTopic");
  ack.add_receipt_handles("not-a-handle");
  ack.add_receipt_handles(handle + "9");
  {
    grpc::ClientContext context;
    broker::v1::AckMessageResponse response;
    ASSERT_TRUE(stub_->AckMessage(&context, ack, &response).ok());
    ASSERT_EQ(response.results_size(), 2);
    for (const broker::v1::AckResult& result : response.results()) {
      EXPECT_EQ(result.code(), common::v1::INVALID_RECEIPT_HANDLE);
      EXPECT_FALSE(result.error_message().empty());
    }
  }
  broker::v1::ChangeInvisibleTimeRequest change;
  change.set_consumer_group("BadGroup");
  change.set_topic("BadTopic");
  change.set_receipt_handle(handle);
  change.set_invisible_time_ms(-5);
  {
    grpc::ClientContext context;
    broker::v1::ChangeInvisibleTimeResponse response;
    EXPECT_EQ(stub_->ChangeInvisibleTime(&context, change, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Another group's ack of the handle is refused.
  ack.set_consumer_group("OtherGroup");
  ack.clear_receipt_handles();
  ack.add_receipt_handles(handle);
  {
    grpc::ClientContext context;
    broker::v1::AckMessageResponse response;
    ASSERT_TRUE(stub_->AckMessage(&context, ack, &response).ok());
    EXPECT_EQ(response.results(0).code(), common::v1::INVALID_RECEIPT_HANDLE);
  }
  // After all that, the handle still acks.
  ack.set_consumer_group("BadGroup");
  {
    grpc::ClientContext context;
    broker::v1::AckMessageResponse response;
    ASSERT_TRUE(stub_->AckMessage(&context, ack, &response).ok());
    EXPECT_EQ(response.results(0).code(), common::v1::SUCCESS);
  }
}

TEST_P(PopTest, KillNineWithMessagesInFlightLosesNothingAndRedeliversNoAckedMessage) {
  CreateTopic("CrashTopic", 2);
  CreateGroup("CrashGroup", 16);
  std::vector<std::string> ids = Send("CrashTopic", 10);
  ASSERT_EQ(ids.size(), 10u);
  std::set<std::string> acked;
  std::set<std::string> unacked;
  {
    std::unique_ptr<SimpleConsumer> consumer = Consumer("CrashGroup", "CrashTopic");
    ReceiveUntil(
        *consumer, absl::Seconds(4),
        [&](ReceivedMessage& m) {
          // Every other message is acked; the rest stay in flight.
          if ((acked.size() + unacked.size()) % 2 == 0) {
            ASSERT_TRUE(consumer->Ack(m).ok());
            acked.insert(m.message.msg_id);
          } else {
            unacked.insert(m.message.msg_id);
          }
        },
        [&] { return acked.size() + unacked.size() >= ids.size(); }, absl::Seconds(20));
    consumer->Shutdown();
  }
  ASSERT_EQ(acked.size(), 5u);
  ASSERT_EQ(unacked.size(), 5u);

  // A clean restart first: the broker writes a checkpoint of the POP state as
  // it stops, and each start after it replays the log from there.
  ASSERT_TRUE(broker_->Stop().ok());
  if (store_ != nullptr) ASSERT_TRUE(store_->Stop().ok());
  broker_.reset();
  store_.reset();
  StartServers();
  ASSERT_TRUE(testing::WaitForRoute(namesrv_address_, "CrashTopic", 1).ok());

  broker_->Kill();
  if (store_ != nullptr) store_->Kill();
  broker_.reset();
  store_.reset();
  StartServers();
  ASSERT_TRUE(testing::WaitForRoute(namesrv_address_, "CrashTopic", 1).ok());

  std::unique_ptr<SimpleConsumer> consumer = Consumer("CrashGroup", "CrashTopic");
  std::multiset<std::string> again;
  ReceiveUntil(
      *consumer, absl::Seconds(30),
      [&](ReceivedMessage& m) {
        again.insert(m.message.msg_id);
        EXPECT_GE(m.delivery_attempt, 2) << m.message.msg_id;
        EXPECT_TRUE(consumer->Ack(m).ok());
      },
      [&] { return again.size() >= unacked.size(); }, absl::Seconds(30));
  // A little longer: no acked message follows.
  absl::StatusOr<std::vector<ReceivedMessage>> more =
      consumer->Receive(16, absl::Seconds(30), absl::Seconds(2));
  ASSERT_TRUE(more.ok());
  for (const ReceivedMessage& m : *more) again.insert(m.message.msg_id);
  EXPECT_EQ(again, std::multiset<std::string>(unacked.begin(), unacked.end()));
}

INSTANTIATE_TEST_SUITE_P(Deployments, PopTest,
                         ::testing::Values(Deployment::kStandalone, Deployment::kSplit),
                         [](const ::testing::TestParamInfo<Deployment>& info) {
                           return info.param == Deployment::kStandalone ? "Standalone" : "Split";
                         });

}  // namespace
}  // namespace mq
