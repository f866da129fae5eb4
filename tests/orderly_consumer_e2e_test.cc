// The orderly push consumer against real server processes, in both
// deployments (standalone; split name server + store + broker): each queue's
// messages consumed in queue order, a suspended message retried in place; two
// members of one group never consuming one queue at the same time (the
// broker's queue locks), also when one member is killed with SIGKILL and the
// other takes its queues over once its locks expired; a message suspended past
// the max attempts landing in the group's dead-letter queue.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "mq/producer.h"
#include "mq/push_consumer.h"
#include "proto/broker.grpc.pb.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq {
namespace {

enum class Deployment { kStandalone, kSplit };

std::string DeploymentName(const ::testing::TestParamInfo<Deployment>& info) {
  return info.param == Deployment::kStandalone ? "Standalone" : "Split";
}

constexpr char kTopic[] = "OrderlyTopic";
constexpr int kQueues = 4;

// One listener call of one message.
struct Call {
  int32_t queue_id = 0;
  int64_t offset = 0;
  int32_t reconsume_times = 0;
  int64_t start_us = 0;
  int64_t end_us = 0;
  std::string body;
};

// What an in-process orderly consumer's listener saw; thread-safe.
class Journal {
 public:
  // Records each call; suspends (for `suspend_time`) the messages `suspend` picks.
  MessageListenerOrderly Listener(std::function<bool(const MessageExt&)> suspend = nullptr,
                                  absl::Duration consume_time = absl::Milliseconds(2)) {
    return [this, suspend, consume_time](const std::vector<MessageExt>& messages,
                                         ConsumeOrderlyContext& context) {
      const int32_t queue_id = messages.front().queue_id;
      {
        absl::MutexLock lock(&mu_);
        if (++in_listener_[queue_id] > 1) ++overlaps_;
      }
      const int64_t start = absl::ToUnixMicros(absl::Now());
      absl::SleepFor(consume_time);
      const int64_t end = absl::ToUnixMicros(absl::Now());
      bool suspended = false;
      absl::MutexLock lock(&mu_);
      --in_listener_[queue_id];
      for (const MessageExt& m : messages) {
        calls_.push_back(
            {m.queue_id, m.queue_offset, m.reconsume_times, start, end, m.message.body()});
        if (suspend != nullptr && suspend(m)) suspended = true;
      }
      if (!suspended) return ConsumeOrderlyStatus::kSuccess;
      context.suspend_time = absl::Milliseconds(100);
      return ConsumeOrderlyStatus::kSuspendCurrentQueueAMoment;
    };
  }
  std::vector<Call> calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Listener calls that found another call of the same queue running.
  int overlaps() const {
    absl::MutexLock lock(&mu_);
    return overlaps_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, int> in_listener_ ABSL_GUARDED_BY(mu_);
  int overlaps_ ABSL_GUARDED_BY(mu_) = 0;
};

// The queues of kTopic a member holds (it also consumes its group's
// %RETRY% topic, as RocketMQ's push consumers do).
int TopicQueues(const PushConsumer& consumer) {
  int count = 0;
  for (const MessageQueue& queue : consumer.AssignedQueues()) count += queue.topic == kTopic;
  return count;
}

// The calls printed by tests/orderly_consumer.
std::vector<Call> ParseCalls(const std::vector<std::string>& lines) {
  std::vector<Call> calls;
  for (const std::string& line : lines) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() != 6 || parts[0] != "consumed") continue;
    Call call;
    if (absl::SimpleAtoi(parts[1], &call.queue_id) && absl::SimpleAtoi(parts[2], &call.offset) &&
        absl::SimpleAtoi(parts[3], &call.start_us) && absl::SimpleAtoi(parts[4], &call.end_us)) {
      call.body = parts[5];
      calls.push_back(call);
    }
  }
  return calls;
}

class OrderlyConsumerE2eTest : public ::testing::TestWithParam<Deployment> {
 protected:
  void SetUp() override {
    // Locks and members of a killed client expire after 2 s (60 s and 120 s
    // by default).
    const std::vector<std::string> broker_flags = {"--rebalance_lock_max_live_time=2s",
                                                   "--client_expiry=2s"};
    const std::string data_dir = testing::MakeTempDir("orderly_e2e");
    if (GetParam() == Deployment::kStandalone) {
      absl::StatusOr<std::unique_ptr<testing::ServerProcess>> server =
          testing::StartStandalone(data_dir, broker_flags);
      ASSERT_TRUE(server.ok()) << server.status();
      broker_ = *std::move(server);
      namesrv_address_ = broker_->address();
    } else {
      absl::StatusOr<std::unique_ptr<testing::ServerProcess>> namesrv = testing::StartNamesrv();
      ASSERT_TRUE(namesrv.ok()) << namesrv.status();
      namesrv_ = *std::move(namesrv);
      namesrv_address_ = namesrv_->address();
      absl::StatusOr<std::unique_ptr<testing::ServerProcess>> store =
          testing::StartStore("store", data_dir, 16 << 20, {});
      ASSERT_TRUE(store.ok()) << store.status();
      store_ = *std::move(store);
      absl::StatusOr<std::unique_ptr<testing::ServerProcess>> broker =
          testing::StartBroker("broker", store_->address(), namesrv_address_, broker_flags);
      ASSERT_TRUE(broker.ok()) << broker.status();
      broker_ = *std::move(broker);
    }
    ASSERT_TRUE(testing::CreateTopic(broker_->address(), kTopic, kQueues).ok());
    ASSERT_TRUE(testing::WaitForRoute(namesrv_address_, kTopic, 1).ok());
    ProducerOptions producer_options;
    producer_options.client = Client("producer");
    producer_ = std::make_unique<Producer>("orderly_producer", producer_options);
    ASSERT_TRUE(producer_->Start().ok());
  }

  void TearDown() override {
    if (producer_ != nullptr) producer_->Shutdown();
    for (auto* process : {&broker_, &store_, &namesrv_}) {
      if (*process != nullptr) EXPECT_TRUE((*process)->Stop().ok());
    }
  }

  ClientOptions Client(const std::string& instance) const {
    ClientOptions client;
    client.name_server_addresses = {namesrv_address_};
    client.instance_name = instance;
    client.client_ip = "127.0.0.1";
    client.heartbeat_broker_interval = absl::Milliseconds(200);
    return client;
  }

  PushConsumerOptions OrderlyOptions(const std::string& instance) const {
    PushConsumerOptions options;
    options.client = Client(instance);
    options.consume_from_where = ConsumeFromWhere::kFirstOffset;
    options.rebalance_interval = absl::Milliseconds(200);
    options.persist_consumer_offset_interval = absl::Milliseconds(200);
    options.queue_lock_interval = absl::Milliseconds(200);
    return options;
  }

  // Sends body "m<i>" to queue i % kQueues; returns its queue offset.
  int64_t SendToQueue(int i) {
    absl::StatusOr<SendResult> sent = producer_->Send(
        Message(kTopic, "", absl::StrCat("m", i)),
        [i](const std::vector<MessageQueue>& queues, const Message&) { return i % queues.size(); });
    EXPECT_TRUE(sent.ok()) << sent.status();
    if (!sent.ok()) return -1;
    EXPECT_EQ(sent->message_queue.queue_id, i % kQueues);
    return sent->queue_offset;
  }

  std::string namesrv_address_;
  std::unique_ptr<testing::ServerProcess> namesrv_;
  std::unique_ptr<testing::ServerProcess> store_;
  std::unique_ptr<testing::ServerProcess> broker_;
  std::unique_ptr<Producer> producer_;
};

TEST_P(OrderlyConsumerE2eTest, EachQueueInOrderWithSuspendedMessagesRetriedInPlace) {
  Journal journal;
  PushConsumer consumer("orderly_in_order", OrderlyOptions("consumer"));
  // Every tenth message is suspended twice before it succeeds.
  auto suspend = [](const MessageExt& m) {
    int index = 0;
    return absl::SimpleAtoi(m.message.body().substr(1), &index) && index % 10 == 3 &&
           m.reconsume_times < 2;
  };
  ASSERT_TRUE(consumer.RegisterMessageListenerOrderly(journal.Listener(suspend)).ok());
  ASSERT_TRUE(consumer.Subscribe(kTopic, "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(
      testing::WaitUntil([&] { return TopicQueues(consumer) == kQueues; }, absl::Seconds(20)));

  constexpr int kMessages = 80;
  // Per queue, the calls expected: each message once, a suspended one three
  // times in a row (reconsume_times 0, 1, 2).
  std::map<int32_t, std::vector<std::pair<std::string, int32_t>>> expected;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_GE(SendToQueue(i), 0);
    const std::string body = absl::StrCat("m", i);
    const int attempts = i % 10 == 3 ? 3 : 1;
    for (int a = 0; a < attempts; ++a) expected[i % kQueues].push_back({body, a});
  }
  const size_t total_calls = kMessages + 2 * (kMessages / 10);
  ASSERT_TRUE(
      testing::WaitUntil([&] { return journal.calls().size() >= total_calls; }, absl::Seconds(30)))
      << journal.calls().size() << " calls";
  consumer.Shutdown();

  std::map<int32_t, std::vector<std::pair<std::string, int32_t>>> seen;
  for (const Call& call : journal.calls()) {
    seen[call.queue_id].push_back({call.body, call.reconsume_times});
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(journal.overlaps(), 0) << "two listener calls of one queue at once";
}

TEST_P(OrderlyConsumerE2eTest, TwoMembersNeverConsumeOneQueueAtOnceEvenWhenOneIsKilled) {
  const std::string group = "orderly_pair";
  absl::StatusOr<std::unique_ptr<testing::ServerProcess>> child = testing::ServerProcess::Spawn(
      "orderly-child", testing::RunfilePath("tests/orderly_consumer"),
      {absl::StrCat("--namesrv_addr=", namesrv_address_), absl::StrCat("--topic=", kTopic),
       absl::StrCat("--group=", group), "--instance=child", "--consume_time=5ms",
       "--interval=200ms"});
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitForOutput(absl::StrCat("queues ", kQueues), absl::Seconds(20)));

  // Messages keep coming while the group changes.
  std::atomic<bool> stop_sending{false};
  std::atomic<int> sent{0};
  std::thread sender([&] {
    for (int i = 0; !stop_sending.load(); ++i) {
      if (SendToQueue(i) < 0) break;
      sent = i + 1;
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  auto consumed_by_child = [&] { return ParseCalls((*child)->Lines()).size(); };
  EXPECT_TRUE(testing::WaitUntil([&] { return consumed_by_child() >= 40; }, absl::Seconds(20)));

  // A second member joins: the child releases half of the queues (after the
  // listener call in flight), the new member locks them.
  Journal journal;
  PushConsumer member("orderly_pair", OrderlyOptions("member"));
  ASSERT_TRUE(
      member.RegisterMessageListenerOrderly(journal.Listener(nullptr, absl::Milliseconds(5))).ok());
  ASSERT_TRUE(member.Subscribe(kTopic, "*").ok());
  ASSERT_TRUE(member.Start().ok());
  EXPECT_TRUE(
      testing::WaitUntil([&] { return TopicQueues(member) == kQueues / 2; }, absl::Seconds(20)));
  EXPECT_TRUE((*child)->WaitForOutput(absl::StrCat("queues ", kQueues / 2), absl::Seconds(20)));
  EXPECT_TRUE(testing::WaitUntil([&] { return journal.calls().size() >= 40; }, absl::Seconds(20)));

  // The child dies without a word: its queues stay locked until the broker
  // expires its locks and its membership, then the member takes them.
  const size_t child_calls_before_kill = consumed_by_child();
  (*child)->Kill();
  const std::vector<Call> child_calls = ParseCalls((*child)->Lines());
  EXPECT_GE(child_calls.size(), child_calls_before_kill);
  EXPECT_TRUE(
      testing::WaitUntil([&] { return TopicQueues(member) == kQueues; }, absl::Seconds(20)));
  const size_t after_takeover = journal.calls().size();
  EXPECT_TRUE(testing::WaitUntil([&] { return journal.calls().size() >= after_takeover + 40; },
                                 absl::Seconds(20)));
  stop_sending = true;
  sender.join();

  // Everything sent is consumed by one member or the other.
  const int total = sent.load();
  std::map<int32_t, std::set<int64_t>> offsets;
  auto covered = [&] {
    offsets.clear();
    for (const Call& call : child_calls) offsets[call.queue_id].insert(call.offset);
    for (const Call& call : journal.calls()) offsets[call.queue_id].insert(call.offset);
    size_t count = 0;
    for (const auto& [queue, seen] : offsets) count += seen.size();
    return count == static_cast<size_t>(total);
  };
  EXPECT_TRUE(testing::WaitUntil(covered, absl::Seconds(30))) << total << " sent";
  member.Shutdown();

  // No two listener calls of one queue overlapped in time, within a member or
  // across the two; each member saw each queue's offsets in ascending order.
  const std::vector<Call> member_calls = journal.calls();
  EXPECT_EQ(journal.overlaps(), 0);
  std::map<int32_t, std::vector<const Call*>> by_queue;
  for (const Call& call : child_calls) by_queue[call.queue_id].push_back(&call);
  int checked_pairs = 0;
  for (const Call& call : member_calls) {
    for (const Call* other : by_queue[call.queue_id]) {
      ++checked_pairs;
      EXPECT_FALSE(call.start_us < other->end_us && other->start_us < call.end_us)
          << "queue " << call.queue_id << ": offset " << call.offset << " in the member and "
          << other->offset << " in the child at the same time";
    }
  }
  EXPECT_GT(checked_pairs, 0);
  for (const std::vector<Call>* calls : {&child_calls, &member_calls}) {
    std::map<int32_t, int64_t> last;
    for (const Call& call : *calls) {
      auto it = last.find(call.queue_id);
      if (it != last.end()) {
        EXPECT_GT(call.offset, it->second) << "queue " << call.queue_id << " out of order";
      }
      last[call.queue_id] = call.offset;
    }
  }
}

TEST_P(OrderlyConsumerE2eTest, SuspendedPastTheMaxAttemptsGoesToTheDeadLetterQueue) {
  const std::string group = "orderly_dlq";
  Journal journal;
  PushConsumerOptions options = OrderlyOptions("consumer");
  options.orderly_max_reconsume_times = 2;
  PushConsumer consumer(group, options);
  ASSERT_TRUE(consumer
                  .RegisterMessageListenerOrderly(journal.Listener(
                      [](const MessageExt& m) { return m.message.body() == "m4"; }))
                  .ok());
  ASSERT_TRUE(consumer.Subscribe(kTopic, "*").ok());
  ASSERT_TRUE(consumer.Start().ok());
  // m0, m4 and m8 go to queue 0; m4 always suspends.
  std::string poison_id;
  for (int i = 0; i < 12; ++i) {
    absl::StatusOr<SendResult> sent = producer_->Send(
        Message(kTopic, "", absl::StrCat("m", i)),
        [i](const std::vector<MessageQueue>& queues, const Message&) { return i % queues.size(); });
    ASSERT_TRUE(sent.ok()) << sent.status();
    if (i == 4) poison_id = sent->msg_id;
  }
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        for (const Call& call : journal.calls()) {
          if (call.body == "m8") return true;
        }
        return false;
      },
      absl::Seconds(30)));
  consumer.Shutdown();
  std::vector<std::pair<std::string, int32_t>> queue0;
  for (const Call& call : journal.calls()) {
    if (call.queue_id == 0) queue0.push_back({call.body, call.reconsume_times});
  }
  // Delivered three times (two redeliveries), then dead-lettered; m8 only after.
  EXPECT_EQ(queue0, (std::vector<std::pair<std::string, int32_t>>{
                        {"m0", 0}, {"m4", 0}, {"m4", 1}, {"m4", 2}, {"m8", 0}}));

  auto stub = broker::v1::Broker::NewStub(CreateChannel(broker_->address()));
  broker::v1::ListDeadLettersRequest request;
  request.set_consumer_group(group);
  broker::v1::ListDeadLettersResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  absl::Status listed =
      FromGrpcStatus(stub->ListDeadLetters(&context, request, &response), context);
  ASSERT_TRUE(listed.ok()) << listed;
  ASSERT_EQ(response.messages_size(), 1);
  EXPECT_EQ(response.messages(0).msg_id(), poison_id);
  EXPECT_EQ(response.messages(0).body(), "m4");
}

INSTANTIATE_TEST_SUITE_P(Deployments, OrderlyConsumerE2eTest,
                         ::testing::Values(Deployment::kStandalone, Deployment::kSplit),
                         DeploymentName);

}  // namespace
}  // namespace mq
