// mq::PullConsumer against fake name server and brokers.
#include "mq/pull_consumer.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mq/producer.h"
#include "testing/producer_fixture.h"
#include "testing/wait.h"

namespace mq::client_internal {
namespace {

using ::mq::testing::FakeBroker;
using ::mq::testing::MakeRoute;
using ::mq::testing::ProducerFixture;
using ::mq::testing::WaitUntil;

class PullConsumerTest : public ProducerFixture {
 protected:
  PullConsumerOptions ConsumerOptions() const {
    PullConsumerOptions options;
    options.client = Options().client;
    return options;
  }

  // Sends `message` to queue 0 of broker-a.
  void SendToA0(Producer& producer, const Message& message) {
    absl::StatusOr<SendResult> result = producer.Send(message, queue_a0_);
    ASSERT_TRUE(result.ok()) << result.status();
  }

  const MessageQueue queue_a0_{"T", "broker-a", 0};
};

TEST_F(PullConsumerTest, StartShutdownAndDuplicateGroup) {
  PullConsumer consumer("CG", ConsumerOptions());
  EXPECT_EQ(consumer.state(), ServiceState::kCreateJust);
  ASSERT_TRUE(consumer.Start().ok());
  EXPECT_EQ(consumer.state(), ServiceState::kRunning);
  EXPECT_EQ(consumer.Start().code(), absl::StatusCode::kFailedPrecondition);
  PullConsumer twin("CG", ConsumerOptions());
  EXPECT_EQ(twin.Start().code(), absl::StatusCode::kFailedPrecondition);
  // Producer and consumer groups are separate name spaces.
  Producer producer("CG", Options());
  EXPECT_TRUE(producer.Start().ok());
  consumer.Shutdown();
  EXPECT_EQ(consumer.state(), ServiceState::kShutdownAlready);
  EXPECT_EQ(consumer.Pull(queue_a0_, "*", 0, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(PullConsumerTest, SubscribeQueuesIncludeGroupsServedBySlavesOnly) {
  FakeBroker slave_only("broker-c");
  common::v1::TopicRouteData route = MakeRoute({{&broker_a_, 2}, {&slave_only, 3}});
  auto* addrs = route.mutable_broker_datas(1)->mutable_broker_addrs();
  addrs->erase(0);
  (*addrs)[1] = slave_only.address();
  namesrv_.SetRoute("S", route);
  PullConsumer consumer("CG", ConsumerOptions());
  ASSERT_TRUE(consumer.Start().ok());
  absl::StatusOr<std::vector<MessageQueue>> queues = consumer.FetchSubscribeQueues("S");
  ASSERT_TRUE(queues.ok()) << queues.status();
  EXPECT_EQ(queues->size(), 5u);
  EXPECT_EQ(queues->back(), (MessageQueue{"S", "broker-c", 2}));
  // Pulls go to the slave when there is no master.
  absl::StatusOr<PullResult> result = consumer.Pull(MessageQueue{"S", "broker-c", 0}, "*", 0, 8);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(slave_only.PullCalls(), 1);
  EXPECT_EQ(consumer.FetchSubscribeQueues("Unknown").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PullConsumerTest, PullsWhatWasSentWithTagFilteringAndDecompression) {
  Producer producer("PG", Options());
  ASSERT_TRUE(producer.Start().ok());
  std::string big;
  while (big.size() < 16 * 1024) big += "compressible text ";
  SendToA0(producer, Message("T", "TagA", "a1"));
  SendToA0(producer, Message("T", "TagB", "b1"));
  SendToA0(producer, Message("T", "TagA", big));
  SendToA0(producer, Message("T", "", "untagged"));
  ASSERT_EQ(broker_a_.StoredSends()[2].sys_flag(), 1);

  PullConsumer consumer("CG", ConsumerOptions());
  ASSERT_TRUE(consumer.Start().ok());
  absl::StatusOr<PullResult> all = consumer.Pull(queue_a0_, "*", 0, 32);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->status, PullStatus::kFound);
  EXPECT_EQ(all->next_begin_offset, 4);
  EXPECT_EQ(all->max_offset, 4);
  ASSERT_EQ(all->messages.size(), 4u);
  EXPECT_EQ(all->messages[0].message.body(), "a1");
  EXPECT_EQ(all->messages[0].message.tags(), "TagA");
  EXPECT_EQ(all->messages[0].queue_offset, 0);
  EXPECT_EQ(all->messages[0].broker_name, "broker-a");
  EXPECT_EQ(all->messages[0].msg_id.size(), 32u);
  EXPECT_EQ(all->messages[2].message.body(), big);

  absl::StatusOr<PullResult> only_a = consumer.Pull(queue_a0_, "TagA || TagC", 0, 32);
  ASSERT_TRUE(only_a.ok());
  ASSERT_EQ(only_a->messages.size(), 2u);
  EXPECT_EQ(only_a->messages[0].message.body(), "a1");
  EXPECT_EQ(only_a->messages[1].queue_offset, 2);
  EXPECT_EQ(only_a->next_begin_offset, 4);

  absl::StatusOr<PullResult> partial = consumer.Pull(queue_a0_, "*", 1, 2);
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->messages.size(), 2u);
  EXPECT_EQ(partial->next_begin_offset, 3);

  absl::StatusOr<PullResult> at_end = consumer.Pull(queue_a0_, "*", 4, 32);
  ASSERT_TRUE(at_end.ok());
  EXPECT_EQ(at_end->status, PullStatus::kNoNewMsg);
  absl::StatusOr<PullResult> beyond = consumer.Pull(queue_a0_, "*", 99, 32);
  ASSERT_TRUE(beyond.ok());
  EXPECT_EQ(beyond->status, PullStatus::kOffsetIllegal);
  EXPECT_EQ(beyond->next_begin_offset, 4);

  EXPECT_EQ(consumer.Pull(queue_a0_, "*", -1, 32).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(consumer.Pull(queue_a0_, "*", 0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PullConsumerTest, LongPollingReturnsWhenAMessageArrives) {
  Producer producer("PG", Options());
  ASSERT_TRUE(producer.Start().ok());
  PullConsumer consumer("CG", ConsumerOptions());
  ASSERT_TRUE(consumer.Start().ok());
  absl::Notification pulled;
  absl::StatusOr<PullResult> result = absl::UnknownError("not yet");
  absl::Duration waited;
  std::thread poller([&] {
    const absl::Time start = absl::Now();
    result = consumer.PullBlockIfNotFound(queue_a0_, "*", 0, 32);
    waited = absl::Now() - start;
    pulled.Notify();
  });
  ASSERT_TRUE(WaitUntil([&] { return broker_a_.PullCalls() == 1; }));
  SendToA0(producer, Message("T", "wake up"));
  EXPECT_TRUE(pulled.WaitForNotificationWithTimeout(absl::Seconds(10)));
  poller.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, PullStatus::kFound);
  ASSERT_EQ(result->messages.size(), 1u);
  EXPECT_LT(waited, absl::Seconds(10));
}

TEST_F(PullConsumerTest, LongPollingGivesUpAfterTheSuspendTime) {
  PullConsumerOptions options = ConsumerOptions();
  options.broker_suspend_max = absl::Milliseconds(100);
  options.timeout_when_suspend = absl::Seconds(2);
  PullConsumer consumer("CG", options);
  ASSERT_TRUE(consumer.Start().ok());
  const absl::Time start = absl::Now();
  absl::StatusOr<PullResult> result = consumer.PullBlockIfNotFound(queue_a0_, "*", 0, 32);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, PullStatus::kNoNewMsg);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(PullConsumerTest, OffsetsLiveOnTheBroker) {
  Producer producer("PG", Options());
  ASSERT_TRUE(producer.Start().ok());
  const absl::Time before = absl::Now();
  for (int i = 0; i < 3; ++i) SendToA0(producer, Message("T", "x"));
  PullConsumer consumer("CG", ConsumerOptions());
  ASSERT_TRUE(consumer.Start().ok());
  EXPECT_EQ(consumer.QueryConsumerOffset(queue_a0_).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(consumer.UpdateConsumerOffset(queue_a0_, 2).ok());
  EXPECT_EQ(consumer.QueryConsumerOffset(queue_a0_).value_or(-1), 2);
  EXPECT_EQ(consumer.MinOffset(queue_a0_).value_or(-1), 0);
  EXPECT_EQ(consumer.MaxOffset(queue_a0_).value_or(-1), 3);
  EXPECT_EQ(consumer.SearchOffset(queue_a0_, before).value_or(-1), 0);
  EXPECT_EQ(consumer.SearchOffset(queue_a0_, absl::Now() + absl::Hours(1)).value_or(-1), 3);
  EXPECT_EQ(consumer.UpdateConsumerOffset(queue_a0_, -5).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PullConsumerTest, FollowsTheBrokersSuggestionToPullFromASlave) {
  FakeBroker slave("broker-a-slave");
  common::v1::TopicRouteData route = MakeRoute({{&broker_a_}});
  (*route.mutable_broker_datas(0)->mutable_broker_addrs())[1] = slave.address();
  namesrv_.SetRoute("T", route);
  broker_a_.SetSuggestedBrokerId(1);
  PullConsumer consumer("CG", ConsumerOptions());
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(consumer.Pull(queue_a0_, "*", 0, 1).ok());
  EXPECT_EQ(broker_a_.PullCalls(), 1);
  ASSERT_TRUE(consumer.Pull(queue_a0_, "*", 0, 1).ok());
  EXPECT_EQ(slave.PullCalls(), 1);
  // The slave suggests the master again (id 0).
  ASSERT_TRUE(consumer.Pull(queue_a0_, "*", 0, 1).ok());
  EXPECT_EQ(broker_a_.PullCalls(), 2);
}

TEST_F(PullConsumerTest, HeartbeatsCarryTheSubscriptionAndReachSlaves) {
  FakeBroker slave("broker-a-slave");
  common::v1::TopicRouteData route = MakeRoute({{&broker_a_}});
  (*route.mutable_broker_datas(0)->mutable_broker_addrs())[1] = slave.address();
  namesrv_.SetRoute("T", route);
  PullConsumerOptions options = ConsumerOptions();
  options.client.heartbeat_broker_interval = absl::Milliseconds(30);
  PullConsumer consumer("CG", options);
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(consumer.FetchSubscribeQueues("T").ok());
  for (FakeBroker* broker : {&broker_a_, &slave}) {
    ASSERT_TRUE(WaitUntil([&] { return !broker->Heartbeats().empty(); }));
    const broker::v1::HeartbeatRequest heartbeat = broker->Heartbeats().back();
    ASSERT_EQ(heartbeat.consumers_size(), 1);
    EXPECT_EQ(heartbeat.consumers(0).group_name(), "CG");
    EXPECT_EQ(heartbeat.consumers(0).consume_type(), broker::v1::CONSUME_ACTIVELY);
    ASSERT_EQ(heartbeat.consumers(0).subscriptions_size(), 1);
    EXPECT_EQ(heartbeat.consumers(0).subscriptions(0).topic(), "T");
    EXPECT_EQ(heartbeat.consumers(0).subscriptions(0).sub_string(), "*");
  }
  consumer.Shutdown();
  for (FakeBroker* broker : {&broker_a_, &slave}) {
    ASSERT_EQ(broker->Unregisters().size(), 1u);
    EXPECT_EQ(broker->Unregisters()[0].consumer_group(), "CG");
    EXPECT_TRUE(broker->Unregisters()[0].producer_group().empty());
  }
}

}  // namespace
}  // namespace mq::client_internal
