// mq::PushConsumer against fake name server and brokers.
#include "mq/push_consumer.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "testing/producer_fixture.h"
#include "testing/wait.h"

namespace mq::client_internal {
namespace {

using ::mq::testing::FakeBroker;
using ::mq::testing::FakeReply;
using ::mq::testing::MakeRoute;
using ::mq::testing::ProducerFixture;
using ::mq::testing::WaitUntil;

constexpr int kQueuesPerBroker = 4;

// Records what a listener saw; thread-safe.
class Received {
 public:
  // A listener recording every message and answering `status`.
  MessageListener Listener(ConsumeStatus status = ConsumeStatus::kConsumeSuccess) {
    return [this, status](const std::vector<MessageExt>& messages) {
      absl::MutexLock lock(&mu_);
      for (const MessageExt& m : messages) {
        ids_.push_back(m.msg_id);
        by_queue_[{m.broker_name, m.queue_id}].push_back(m.queue_offset);
      }
      return status;
    };
  }

  size_t count() const {
    absl::MutexLock lock(&mu_);
    return ids_.size();
  }
  std::vector<std::string> ids() const {
    absl::MutexLock lock(&mu_);
    return ids_;
  }
  std::map<std::pair<std::string, int32_t>, std::vector<int64_t>> by_queue() const {
    absl::MutexLock lock(&mu_);
    return by_queue_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> ids_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, int32_t>, std::vector<int64_t>> by_queue_ ABSL_GUARDED_BY(mu_);
};

class PushConsumerTest : public ProducerFixture {
 protected:
  PushConsumerOptions ConsumerOptions(const std::string& instance) const {
    PushConsumerOptions options;
    options.client = Options().client;
    options.client.instance_name = absl::StrCat(options.client.instance_name, "-", instance);
    options.consume_from_where = ConsumeFromWhere::kFirstOffset;
    options.rebalance_interval = absl::Milliseconds(100);
    options.persist_consumer_offset_interval = absl::Milliseconds(100);
    options.pull_delay_on_error = absl::Milliseconds(100);
    options.consume_message_batch_max_size = 4;
    return options;
  }

  // `per_queue` messages in every queue of both brokers; ids "<broker>-<queue>-<n>".
  void Fill(int per_queue, const std::string& tag = "TagA", int first = 0) {
    for (FakeBroker* broker : {&broker_a_, &broker_b_}) {
      for (int q = 0; q < kQueuesPerBroker; ++q) {
        for (int n = first; n < first + per_queue; ++n) AddMessage(*broker, q, n, tag);
      }
    }
  }

  static void AddMessage(FakeBroker& broker, int queue_id, int n, const std::string& tag) {
    common::v1::Message message;
    message.set_topic("T");
    message.set_body(absl::StrCat("body ", n));
    (*message.mutable_properties())["TAGS"] = tag;
    (*message.mutable_properties())["UNIQ_KEY"] =
        absl::StrCat(broker.broker_name(), "-", queue_id, "-", n);
    broker.AddMessage(message, queue_id);
  }

  bool AllCommitted(const std::string& group, int64_t offset) const {
    for (const FakeBroker* broker : {&broker_a_, &broker_b_}) {
      for (int q = 0; q < kQueuesPerBroker; ++q) {
        if (broker->CommittedOffset(group, "T", q) != offset) return false;
      }
    }
    return true;
  }
};

TEST_F(PushConsumerTest, StateMachine) {
  PushConsumer consumer("CG", ConsumerOptions("c"));
  EXPECT_EQ(consumer.state(), ServiceState::kCreateJust);
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  EXPECT_EQ(consumer.Subscribe("bad topic!", "*").code(), absl::StatusCode::kInvalidArgument);
  // No listener.
  EXPECT_EQ(consumer.Start().code(), absl::StatusCode::kInvalidArgument);

  PushConsumer ready("CG", ConsumerOptions("c"));
  Received received;
  ASSERT_TRUE(ready.RegisterMessageListener(received.Listener()).ok());
  ASSERT_TRUE(ready.Subscribe("T", "*").ok());
  ASSERT_TRUE(ready.Start().ok());
  EXPECT_EQ(ready.state(), ServiceState::kRunning);
  EXPECT_FALSE(ready.client_id().empty());
  EXPECT_EQ(ready.Start().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ready.RegisterMessageListener(received.Listener()).code(),
            absl::StatusCode::kFailedPrecondition);
  ready.Shutdown();
  EXPECT_EQ(ready.state(), ServiceState::kShutdownAlready);
  EXPECT_TRUE(ready.AssignedQueues().empty());
  ready.Shutdown();
}

TEST_F(PushConsumerTest, ConsumesEverythingFromSeveralQueuesInOrderAndCommits) {
  Fill(10);
  PushConsumer consumer("CG", ConsumerOptions("c"));
  Received received;
  ASSERT_TRUE(consumer.RegisterMessageListener(received.Listener()).ok());
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  EXPECT_TRUE(WaitUntil([&] { return received.count() >= 80; }));
  EXPECT_EQ(consumer.AssignedQueues().size(), 8u);
  // Messages arriving later reach the held (long-polling) pulls.
  Fill(5, "TagA", 10);
  EXPECT_TRUE(WaitUntil([&] { return received.count() >= 120; }));
  // Committed while running, by the periodic persist or by pulls.
  EXPECT_TRUE(WaitUntil([&] { return AllCommitted("CG", 15); }));
  consumer.Shutdown();

  std::vector<std::string> ids = received.ids();
  EXPECT_EQ(ids.size(), 120u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 120u);
  for (const auto& [queue, offsets] : received.by_queue()) {
    ASSERT_EQ(offsets.size(), 15u) << queue.first << " " << queue.second;
    for (size_t i = 0; i < offsets.size(); ++i) EXPECT_EQ(offsets[i], static_cast<int64_t>(i));
  }
  // The heartbeat announced the group and its subscriptions: the topic and
  // the group's retry topic (sorted).
  bool announced = false;
  for (const broker::v1::HeartbeatRequest& hb : broker_a_.Heartbeats()) {
    for (const broker::v1::ConsumerData& data : hb.consumers()) {
      if (data.group_name() == "CG" && data.consume_type() == broker::v1::CONSUME_PASSIVELY &&
          data.subscriptions_size() == 2 && data.subscriptions(0).topic() == "%RETRY%CG" &&
          data.subscriptions(1).topic() == "T") {
        announced = true;
      }
    }
  }
  EXPECT_TRUE(announced);
  // Shutdown left the group.
  bool unregistered = false;
  for (const auto& request : broker_a_.Unregisters()) {
    if (request.consumer_group() == "CG") unregistered = true;
  }
  EXPECT_TRUE(unregistered);
}

TEST_F(PushConsumerTest, ResumesFromTheCommittedOffset) {
  Fill(3);
  {
    PushConsumer consumer("CG", ConsumerOptions("c"));
    Received received;
    ASSERT_TRUE(consumer.RegisterMessageListener(received.Listener()).ok());
    ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
    ASSERT_TRUE(consumer.Start().ok());
    ASSERT_TRUE(WaitUntil([&] { return received.count() == 24; }));
    consumer.Shutdown();
  }
  EXPECT_TRUE(AllCommitted("CG", 3));
  Fill(1, "TagA", 3);
  PushConsumer again("CG", ConsumerOptions("c"));
  Received received;
  ASSERT_TRUE(again.RegisterMessageListener(received.Listener()).ok());
  ASSERT_TRUE(again.Subscribe("T", "*").ok());
  ASSERT_TRUE(again.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return received.count() >= 8; }));
  again.Shutdown();
  for (const auto& [queue, offsets] : received.by_queue()) {
    EXPECT_EQ(offsets, (std::vector<int64_t>{3})) << queue.first << " " << queue.second;
  }
}

TEST_F(PushConsumerTest, ConsumeFromLastOffsetSkipsOldMessages) {
  Fill(3);
  PushConsumerOptions options = ConsumerOptions("c");
  options.consume_from_where = ConsumeFromWhere::kLastOffset;
  PushConsumer consumer("CG", options);
  Received received;
  ASSERT_TRUE(consumer.RegisterMessageListener(received.Listener()).ok());
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return consumer.AssignedQueues().size() == 8; }));
  Fill(1, "TagA", 3);
  ASSERT_TRUE(WaitUntil([&] { return received.count() >= 8; }));
  consumer.Shutdown();
  EXPECT_EQ(received.count(), 8u);
  for (const auto& [queue, offsets] : received.by_queue()) {
    EXPECT_EQ(offsets, (std::vector<int64_t>{3}));
  }
}

TEST_F(PushConsumerTest, TagFilterDeliversOnlyMatchingMessagesAndCommitsPastOthers) {
  Fill(2, "TagA");
  Fill(2, "TagB", 2);
  PushConsumer consumer("CG", ConsumerOptions("c"));
  Received received;
  ASSERT_TRUE(consumer.RegisterMessageListener(received.Listener()).ok());
  ASSERT_TRUE(consumer.Subscribe("T", "TagB").ok());
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return received.count() >= 16; }));
  EXPECT_TRUE(WaitUntil([&] { return AllCommitted("CG", 4); }));
  consumer.Shutdown();
  EXPECT_EQ(received.count(), 16u);
  for (const auto& [queue, offsets] : received.by_queue()) {
    EXPECT_EQ(offsets, (std::vector<int64_t>{2, 3}));
  }
}

TEST_F(PushConsumerTest, RebalanceSplitsTheQueuesWhenASecondConsumerJoins) {
  Received received1, received2;
  PushConsumer first("CG", ConsumerOptions("c1"));
  ASSERT_TRUE(first.RegisterMessageListener(received1.Listener()).ok());
  ASSERT_TRUE(first.Subscribe("T", "*").ok());
  ASSERT_TRUE(first.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return first.AssignedQueues().size() == 8; }));

  PushConsumer second("CG", ConsumerOptions("c2"));
  ASSERT_TRUE(second.RegisterMessageListener(received2.Listener()).ok());
  ASSERT_TRUE(second.Subscribe("T", "*").ok());
  ASSERT_TRUE(second.Start().ok());
  ASSERT_TRUE(WaitUntil(
      [&] { return first.AssignedQueues().size() == 4 && second.AssignedQueues().size() == 4; }));
  std::set<MessageQueue> all;
  for (const MessageQueue& q : first.AssignedQueues()) all.insert(q);
  for (const MessageQueue& q : second.AssignedQueues()) all.insert(q);
  EXPECT_EQ(all.size(), 8u);

  Fill(10);
  ASSERT_TRUE(WaitUntil([&] { return received1.count() + received2.count() >= 80; }));
  std::vector<std::string> ids = received1.ids();
  for (const std::string& id : received2.ids()) ids.push_back(id);
  EXPECT_EQ(ids.size(), 80u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 80u);
  EXPECT_EQ(received1.count(), 40u);
  EXPECT_EQ(received2.count(), 40u);

  // When one leaves, the other takes everything back, from the committed offsets.
  second.Shutdown();
  ASSERT_TRUE(WaitUntil([&] { return first.AssignedQueues().size() == 8; }));
  Fill(1, "TagA", 10);
  ASSERT_TRUE(WaitUntil([&] { return received1.count() >= 48; }));
  first.Shutdown();
  EXPECT_EQ(received1.count(), 48u);
}

TEST_F(PushConsumerTest, ReconsumeLaterHandsTheMessageBackAndMovesOn) {
  AddMessage(broker_a_, 0, 0, "TagA");
  AddMessage(broker_a_, 0, 1, "TagA");
  PushConsumerOptions options = ConsumerOptions("c");
  options.consume_message_batch_max_size = 1;
  options.max_reconsume_times = 3;
  PushConsumer consumer("CG", options);
  Received received;
  ASSERT_TRUE(consumer
                  .RegisterMessageListener([&](const std::vector<MessageExt>& messages) {
                    received.Listener()(messages);
                    return messages[0].msg_id == "broker-a-0-0" ? ConsumeStatus::kReconsumeLater
                                                                : ConsumeStatus::kConsumeSuccess;
                  })
                  .ok());
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  // Handed back, so the offset moves past both.
  EXPECT_TRUE(WaitUntil([&] { return broker_a_.CommittedOffset("CG", "T", 0) == 2; }));
  consumer.Shutdown();
  std::vector<broker::v1::ConsumerSendBackRequest> backs = broker_a_.SendBacks();
  ASSERT_EQ(backs.size(), 1u);
  EXPECT_EQ(backs[0].consumer_group(), "CG");
  EXPECT_EQ(backs[0].origin_message_id(), "broker-a-0-0");
  EXPECT_EQ(backs[0].origin_topic(), "T");
  EXPECT_EQ(backs[0].delay_level(), 0);
  EXPECT_EQ(backs[0].max_reconsume_times(), 3);
  EXPECT_EQ(backs[0].broker_name(), "broker-a");
  EXPECT_EQ(received.count(), 2u);
}

TEST_F(PushConsumerTest, FailedSendBackConsumesAgainLocallyAndHoldsTheOffset) {
  AddMessage(broker_a_, 0, 0, "TagA");
  AddMessage(broker_a_, 0, 1, "TagA");
  broker_a_.ScriptSendBacks(
      {FakeReply::Fail(grpc::StatusCode::UNAVAILABLE, common::v1::SERVICE_NOT_AVAILABLE)});
  PushConsumerOptions options = ConsumerOptions("c");
  options.consume_message_batch_max_size = 1;
  options.reconsume_delay = absl::Seconds(1);
  PushConsumer consumer("CG", options);
  absl::Mutex mu;
  std::vector<std::pair<std::string, int>> deliveries;  // (id, reconsume_times)
  ASSERT_TRUE(consumer
                  .RegisterMessageListener([&](const std::vector<MessageExt>& messages) {
                    absl::MutexLock lock(&mu);
                    deliveries.emplace_back(messages[0].msg_id, messages[0].reconsume_times);
                    return messages[0].msg_id == "broker-a-0-0" && messages[0].reconsume_times == 0
                               ? ConsumeStatus::kReconsumeLater
                               : ConsumeStatus::kConsumeSuccess;
                  })
                  .ok());
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return deliveries.size() >= 2;
  }));
  // The broker did not take the first message back: the commit stays at 0 (a
  // sleep, as this checks that something does not happen; the persist runs
  // every 100 ms and the local redelivery is 1 s away).
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(broker_a_.CommittedOffset("CG", "T", 0), 0);
  ASSERT_TRUE(WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return deliveries.size() >= 3;
  }));
  EXPECT_TRUE(WaitUntil([&] { return broker_a_.CommittedOffset("CG", "T", 0) == 2; }));
  consumer.Shutdown();
  EXPECT_EQ(broker_a_.SendBackCalls(), 1);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(deliveries.size(), 3u);
  EXPECT_EQ(deliveries[0], std::make_pair(std::string("broker-a-0-0"), 0));
  EXPECT_EQ(deliveries[1], std::make_pair(std::string("broker-a-0-1"), 0));
  EXPECT_EQ(deliveries[2], std::make_pair(std::string("broker-a-0-0"), 1));
}

TEST_F(PushConsumerTest, ThrowingListenerHandsTheMessageBack) {
  AddMessage(broker_b_, 1, 0, "TagA");
  PushConsumer consumer("CG", ConsumerOptions("c"));
  ASSERT_TRUE(consumer
                  .RegisterMessageListener([](const std::vector<MessageExt>&) -> ConsumeStatus {
                    throw std::runtime_error("listener bug");
                  })
                  .ok());
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  EXPECT_TRUE(WaitUntil([&] { return broker_b_.CommittedOffset("CG", "T", 1) == 1; }));
  consumer.Shutdown();
  ASSERT_EQ(broker_b_.SendBacks().size(), 1u);
  EXPECT_EQ(broker_b_.SendBacks()[0].origin_message_id(), "broker-b-1-0");
}

TEST_F(PushConsumerTest, ListenerHoldingAMessageTooLongHandsItBack) {
  AddMessage(broker_a_, 2, 0, "TagA");
  PushConsumerOptions options = ConsumerOptions("c");
  options.consume_timeout = absl::Milliseconds(400);
  PushConsumer consumer("CG", options);
  absl::Notification release;
  ASSERT_TRUE(consumer
                  .RegisterMessageListener([&](const std::vector<MessageExt>&) {
                    release.WaitForNotificationWithTimeout(absl::Seconds(20));
                    return ConsumeStatus::kReconsumeLater;
                  })
                  .ok());
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  // Handed back (RocketMQ's level 3) while the listener still holds it.
  EXPECT_TRUE(WaitUntil([&] { return broker_a_.CommittedOffset("CG", "T", 2) == 1; }));
  ASSERT_EQ(broker_a_.SendBacks().size(), 1u);
  EXPECT_EQ(broker_a_.SendBacks()[0].delay_level(), 3);
  // The listener's late answer for it is ignored: no second hand-back.
  release.Notify();
  absl::SleepFor(absl::Milliseconds(200));
  consumer.Shutdown();
  EXPECT_EQ(broker_a_.SendBackCalls(), 1);
}

TEST_F(PushConsumerTest, RetryTopicIsSubscribedAndShowsTheOriginalTopic) {
  namesrv_.SetRoute("%RETRY%CG", MakeRoute({{&broker_a_}}));
  common::v1::Message retry;
  retry.set_topic("%RETRY%CG");
  retry.set_body("again");
  (*retry.mutable_properties())["UNIQ_KEY"] = "retried-1";
  (*retry.mutable_properties())["RETRY_TOPIC"] = "T";
  broker_a_.AddMessage(retry, 0);
  PushConsumer consumer("CG", ConsumerOptions("c"));
  absl::Mutex mu;
  std::vector<std::string> topics;
  ASSERT_TRUE(consumer
                  .RegisterMessageListener([&](const std::vector<MessageExt>& messages) {
                    absl::MutexLock lock(&mu);
                    for (const MessageExt& m : messages) topics.push_back(m.message.topic());
                    return ConsumeStatus::kConsumeSuccess;
                  })
                  .ok());
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  EXPECT_TRUE(WaitUntil([&] { return broker_a_.CommittedOffset("CG", "%RETRY%CG", 0) == 1; }));
  consumer.Shutdown();
  absl::MutexLock lock(&mu);
  ASSERT_EQ(topics.size(), 1u);
  EXPECT_EQ(topics[0], "T");
}

TEST_F(PushConsumerTest, BroadcastingRedeliversLocallyAndGivesUpAfterMaxReconsumeTimes) {
  AddMessage(broker_b_, 2, 0, "TagA");
  PushConsumerOptions options = ConsumerOptions("c");
  options.message_model = MessageModel::kBroadcasting;
  options.offset_store_path = absl::StrCat(::testing::TempDir(), "/give_up_offsets");
  options.reconsume_delay = absl::Milliseconds(10);
  options.max_reconsume_times = 2;
  PushConsumer consumer("CG", options);
  Received received;
  ASSERT_TRUE(
      consumer.RegisterMessageListener(received.Listener(ConsumeStatus::kReconsumeLater)).ok());
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  // The first delivery and two redeliveries; nothing handed back.
  EXPECT_TRUE(WaitUntil([&] { return received.count() == 3u; }));
  absl::SleepFor(absl::Milliseconds(100));
  consumer.Shutdown();
  EXPECT_EQ(received.count(), 3u);
  EXPECT_EQ(broker_b_.SendBackCalls(), 0);
}

TEST_F(PushConsumerTest, BroadcastingDeliversEverythingToEveryMemberAndKeepsOffsetsLocally) {
  Fill(5);
  const std::string dir = absl::StrCat(::testing::TempDir(), "/broadcast_offsets");
  auto options = [&](const std::string& instance) {
    PushConsumerOptions o = ConsumerOptions(instance);
    o.message_model = MessageModel::kBroadcasting;
    o.offset_store_path = absl::StrCat(dir, "/", instance, "/offsets");
    return o;
  };
  {
    Received received1, received2;
    PushConsumer first("BG", options("b1"));
    PushConsumer second("BG", options("b2"));
    ASSERT_TRUE(first.RegisterMessageListener(received1.Listener()).ok());
    ASSERT_TRUE(second.RegisterMessageListener(received2.Listener()).ok());
    ASSERT_TRUE(first.Subscribe("T", "*").ok());
    ASSERT_TRUE(second.Subscribe("T", "*").ok());
    ASSERT_TRUE(first.Start().ok());
    ASSERT_TRUE(second.Start().ok());
    ASSERT_TRUE(WaitUntil([&] { return received1.count() >= 40 && received2.count() >= 40; }));
    EXPECT_EQ(first.AssignedQueues().size(), 8u);
    EXPECT_EQ(second.AssignedQueues().size(), 8u);
    first.Shutdown();
    second.Shutdown();
    EXPECT_EQ(received1.count(), 40u);
    EXPECT_EQ(received2.count(), 40u);
  }
  // Nothing went to the brokers' offset tables.
  EXPECT_EQ(broker_a_.CommittedOffset("BG", "T", 0), -1);
  std::ifstream file(absl::StrCat(dir, "/b1/offsets"));
  std::stringstream content;
  content << file.rdbuf();
  EXPECT_NE(content.str().find("T\tbroker-a\t0\t5\n"), std::string::npos) << content.str();
  EXPECT_NE(content.str().find("T\tbroker-b\t3\t5\n"), std::string::npos) << content.str();

  // A restart resumes from the file.
  Fill(1, "TagA", 5);
  PushConsumer again("BG", options("b1"));
  Received received;
  ASSERT_TRUE(again.RegisterMessageListener(received.Listener()).ok());
  ASSERT_TRUE(again.Subscribe("T", "*").ok());
  ASSERT_TRUE(again.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return received.count() >= 8; }));
  again.Shutdown();
  for (const auto& [queue, offsets] : received.by_queue()) {
    EXPECT_EQ(offsets, (std::vector<int64_t>{5}));
  }
}

TEST_F(PushConsumerTest, RouteChangeRebalancesAtOnce) {
  PushConsumerOptions options = ConsumerOptions("c");
  options.client.poll_name_server_interval = absl::Milliseconds(100);
  // Only the route change may trigger the rebalance within the wait below.
  options.rebalance_interval = absl::Hours(1);
  PushConsumer consumer("CG", options);
  Received received;
  ASSERT_TRUE(consumer.RegisterMessageListener(received.Listener()).ok());
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return consumer.AssignedQueues().size() == 8; }));
  namesrv_.SetRoute("T", MakeRoute({{&broker_a_}, {&broker_b_, 6}}));
  EXPECT_TRUE(WaitUntil([&] { return consumer.AssignedQueues().size() == 10; }));
  AddMessage(broker_b_, 5, 0, "TagA");
  EXPECT_TRUE(WaitUntil([&] { return received.count() == 1; }));
  consumer.Shutdown();
}

TEST_F(PushConsumerTest, UnsubscribeReleasesTheTopicsQueues) {
  PushConsumer consumer("CG", ConsumerOptions("c"));
  Received received;
  ASSERT_TRUE(consumer.RegisterMessageListener(received.Listener()).ok());
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return consumer.AssignedQueues().size() == 8; }));
  ASSERT_TRUE(consumer.Unsubscribe("T").ok());
  EXPECT_TRUE(WaitUntil([&] { return consumer.AssignedQueues().empty(); }));
  EXPECT_EQ(consumer.Unsubscribe("T").code(), absl::StatusCode::kNotFound);
  consumer.Shutdown();
}

}  // namespace
}  // namespace mq::client_internal
