// Life cycle of mq::Producer: states, duplicate groups, shared instances.
#include "mq/producer.h"

#include <atomic>

#include "gtest/gtest.h"
#include "testing/producer_fixture.h"
#include "testing/scoped_env.h"
#include "testing/wait.h"

namespace mq::client_internal {
namespace {

using ::mq::testing::FakeBroker;
using ::mq::testing::FakeReply;
using ::mq::testing::MakeRoute;
using ::mq::testing::ProducerFixture;
using ::mq::testing::ScopedEnv;
using ::mq::testing::WaitUntil;

using ProducerLifecycleTest = ProducerFixture;

TEST_F(ProducerLifecycleTest, StartAndShutdownStates) {
  Producer producer("G", Options());
  EXPECT_EQ(producer.state(), ServiceState::kCreateJust);
  EXPECT_TRUE(producer.client_id().empty());
  ASSERT_TRUE(producer.Start().ok());
  EXPECT_EQ(producer.state(), ServiceState::kRunning);
  EXPECT_EQ(producer.client_id(), "127.0.0.1@StartAndShutdownStates");
  producer.Shutdown();
  EXPECT_EQ(producer.state(), ServiceState::kShutdownAlready);
  // Idempotent.
  producer.Shutdown();
  EXPECT_EQ(producer.state(), ServiceState::kShutdownAlready);
}

// As RocketMQ: the producer fetches the default topic's route at start and the
// first heartbeat follows 1 s later (not one heartbeat interval, 30 s), so the
// brokers know a new producer before it has sent anything.
TEST_F(ProducerLifecycleTest, BrokersHearOfANewProducerWithinASecondOrSo) {
  namesrv_.SetRoute("TBW102", MakeRoute({{&broker_a_}}));
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  auto heard = [&] {
    for (const broker::v1::HeartbeatRequest& beat : broker_a_.Heartbeats()) {
      for (const auto& data : beat.producers()) {
        if (data.group_name() == "G") return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(WaitUntil(heard, absl::Seconds(3)));
  EXPECT_EQ(broker_a_.SendCalls(), 0);
}

TEST_F(ProducerLifecycleTest, StartingTwiceIsAnError) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  absl::Status again = producer.Start();
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("RUNNING"), absl::string_view::npos);
  producer.Shutdown();
  EXPECT_EQ(producer.Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ProducerLifecycleTest, SecondProducerWithTheSameGroupIsRefused) {
  Producer first("G", Options());
  Producer second("G", Options());
  ASSERT_TRUE(first.Start().ok());
  absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("producer group G"), absl::string_view::npos);
  // As in RocketMQ, the refused producer may start once the group is free.
  EXPECT_EQ(second.state(), ServiceState::kCreateJust);
  first.Shutdown();
  EXPECT_TRUE(second.Start().ok());
}

TEST_F(ProducerLifecycleTest, SameGroupInAnotherInstanceIsFine) {
  ProducerOptions other = Options();
  other.client.instance_name += "-other";
  Producer first("G", Options());
  Producer second("G", other);
  ASSERT_TRUE(first.Start().ok());
  EXPECT_TRUE(second.Start().ok());
  EXPECT_NE(first.client_id(), second.client_id());
}

TEST_F(ProducerLifecycleTest, BadOptionsFailTheStart) {
  Producer reserved("DEFAULT_PRODUCER", Options());
  EXPECT_EQ(reserved.Start().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reserved.state(), ServiceState::kStartFailed);

  Producer bad_group("bad group!", Options());
  EXPECT_EQ(bad_group.Start().code(), absl::StatusCode::kInvalidArgument);

  // Without addresses the client falls back to NAMESRV_ADDR: unset here.
  ScopedEnv no_env("NAMESRV_ADDR");
  ProducerOptions no_namesrv = Options();
  no_namesrv.client.name_server_addresses.clear();
  Producer producer("G", no_namesrv);
  EXPECT_EQ(producer.Start().code(), absl::StatusCode::kInvalidArgument);

  ProducerOptions bad_queues = Options();
  bad_queues.default_topic_queue_nums = 0;
  Producer queues("G2", bad_queues);
  EXPECT_EQ(queues.Start().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ProducerLifecycleTest, SendingNeedsARunningProducer) {
  Producer producer("G", Options());
  EXPECT_EQ(producer.Send(Message("T", "x")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::Status async_status;
  producer.SendAsync(Message("T", "x"),
                     [&](absl::StatusOr<SendResult> r) { async_status = r.status(); });
  EXPECT_EQ(async_status.code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.Send(Message("T", "x")).ok());
  producer.Shutdown();
  EXPECT_EQ(producer.SendOneway(Message("T", "x")).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ProducerLifecycleTest, HooksMustBeAddedBeforeStart) {
  class NoopHook : public SendHook {
   public:
    void BeforeSend(const SendContext&) override {}
    void AfterSend(const SendContext&, const absl::StatusOr<SendResult>&) override {}
  };
  Producer producer("G", Options());
  EXPECT_TRUE(producer.AddSendHook(std::make_shared<NoopHook>()).ok());
  ASSERT_TRUE(producer.Start().ok());
  EXPECT_EQ(producer.AddSendHook(std::make_shared<NoopHook>()).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ProducerLifecycleTest, StartHeartbeatsAndShutdownUnregisters) {
  Producer first("G1", Options());
  ASSERT_TRUE(first.Start().ok());
  ASSERT_TRUE(first.FetchPublishQueues("T").ok());  // The instance now knows both brokers.
  Producer second("G2", Options());
  ASSERT_TRUE(second.Start().ok());
  // The start of the second producer heartbeats both groups to every master.
  for (FakeBroker* broker : {&broker_a_, &broker_b_}) {
    ASSERT_FALSE(broker->Heartbeats().empty());
    EXPECT_EQ(broker->Heartbeats().back().producers_size(), 2);
  }
  second.Shutdown();
  first.Shutdown();
  for (FakeBroker* broker : {&broker_a_, &broker_b_}) {
    ASSERT_EQ(broker->Unregisters().size(), 2u);
    EXPECT_EQ(broker->Unregisters()[0].producer_group(), "G2");
    EXPECT_EQ(broker->Unregisters()[1].producer_group(), "G1");
  }
}

TEST_F(ProducerLifecycleTest, ShutdownWaitsForInFlightAsyncSends) {
  broker_a_.SetDefaultSendReply(FakeReply::Hang());
  broker_b_.SetDefaultSendReply(FakeReply::Hang());
  ProducerOptions options = Options();
  options.send_timeout = absl::Milliseconds(300);
  options.max_attempt_timeout = absl::Milliseconds(100);
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  std::atomic<int> callbacks{0};
  for (int i = 0; i < 4; ++i) {
    producer.SendAsync(Message("T", "x"), [&](absl::StatusOr<SendResult> r) {
      EXPECT_FALSE(r.ok());
      ++callbacks;
    });
  }
  producer.Shutdown();
  EXPECT_EQ(callbacks.load(), 4);
}

}  // namespace
}  // namespace mq::client_internal
