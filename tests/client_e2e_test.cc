// The C++ client against a real standalone server process: sends (sync,
// async, batch) received by the pull consumer and by push consumers (tag
// filtering, long polling, committed offsets), and a push consumer group
// rebalancing when a second member joins and when it leaves.
#include <gtest/gtest.h>

#include <atomic>
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
#include "mq/producer.h"
#include "mq/pull_consumer.h"
#include "mq/push_consumer.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq {
namespace {

// What a push consumer received; thread-safe.
class Inbox {
 public:
  MessageListener Listener() {
    return [this](const std::vector<MessageExt>& messages) {
      absl::MutexLock lock(&mu_);
      for (const MessageExt& m : messages) {
        ++counts_[m.msg_id];
        bodies_[m.msg_id] = m.message.body();
        offsets_[{m.broker_name, m.queue_id}].push_back(m.queue_offset);
      }
      return ConsumeStatus::kConsumeSuccess;
    };
  }
  // Deliveries, duplicates included.
  int total() const {
    absl::MutexLock lock(&mu_);
    int total = 0;
    for (const auto& [id, count] : counts_) total += count;
    return total;
  }
  std::map<std::string, int> counts() const {
    absl::MutexLock lock(&mu_);
    return counts_;
  }
  std::map<std::string, std::string> bodies() const {
    absl::MutexLock lock(&mu_);
    return bodies_;
  }
  std::map<std::pair<std::string, int32_t>, std::vector<int64_t>> offsets() const {
    absl::MutexLock lock(&mu_);
    return offsets_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, int> counts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> bodies_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, int32_t>, std::vector<int64_t>> offsets_ ABSL_GUARDED_BY(mu_);
};

// The consumer's queues of `topic` (it also holds its group's retry topic).
std::vector<MessageQueue> QueuesOf(const PushConsumer& consumer, const std::string& topic) {
  std::vector<MessageQueue> queues;
  for (const MessageQueue& q : consumer.AssignedQueues()) {
    if (q.topic == topic) queues.push_back(q);
  }
  return queues;
}

class ClientE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> server =
        testing::StartStandalone(testing::MakeTempDir("client_e2e"));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      EXPECT_TRUE(server_->Stop().ok());
    }
  }

  void CreateTopic(const std::string& topic, int queues) {
    ASSERT_TRUE(testing::CreateTopic(server_->address(), topic, queues).ok());
    ASSERT_TRUE(testing::WaitForRoute(server_->address(), topic, 1).ok());
  }

  ClientOptions Client(const std::string& instance) const {
    ClientOptions client;
    client.name_server_addresses = {server_->address()};
    client.instance_name = instance;
    client.client_ip = "127.0.0.1";
    return client;
  }

  PushConsumerOptions PushOptions(const std::string& instance) const {
    PushConsumerOptions options;
    options.client = Client(instance);
    options.consume_from_where = ConsumeFromWhere::kFirstOffset;
    options.rebalance_interval = absl::Milliseconds(300);
    options.persist_consumer_offset_interval = absl::Milliseconds(300);
    return options;
  }

  // Sends `count` messages from `threads` threads; returns id -> body.
  std::map<std::string, std::string> SendMany(Producer& producer, const std::string& topic,
                                              int count, int threads, const std::string& prefix) {
    absl::Mutex mu;
    std::map<std::string, std::string> sent;
    std::atomic<int> next{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t) {
      senders.emplace_back([&] {
        for (int i = next++; i < count; i = next++) {
          const std::string body = absl::StrCat(prefix, "-", i);
          absl::StatusOr<SendResult> r =
              producer.Send(Message(topic, i % 2 == 0 ? "TagA" : "TagB", body));
          if (!r.ok()) {
            ++failures;
            continue;
          }
          absl::MutexLock lock(&mu);
          sent[r->msg_id] = body;
        }
      });
    }
    for (std::thread& sender : senders) sender.join();
    EXPECT_EQ(failures.load(), 0);
    return sent;
  }

  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(ClientE2eTest, SendThenReceiveWithPullAndPushConsumers) {
  CreateTopic("E2E", 4);
  ProducerOptions producer_options;
  producer_options.client = Client("producer");
  Producer producer("e2e_producer", producer_options);
  ASSERT_TRUE(producer.Start().ok());

  std::map<std::string, std::string> sent = SendMany(producer, "E2E", 100, 4, "sync");
  std::vector<Message> batch;
  for (int i = 0; i < 20; ++i) batch.emplace_back("E2E", "TagB", absl::StrCat("batch-", i));
  absl::StatusOr<SendResult> batch_result = producer.SendBatch(batch);
  ASSERT_TRUE(batch_result.ok()) << batch_result.status();
  std::vector<std::string> batch_ids = absl::StrSplit(batch_result->msg_id, ',');
  ASSERT_EQ(batch_ids.size(), 20u);
  for (int i = 0; i < 20; ++i) sent[batch_ids[i]] = absl::StrCat("batch-", i);
  absl::Mutex mu;
  int async_done = 0;
  for (int i = 0; i < 30; ++i) {
    const std::string body = absl::StrCat("async-", i);
    producer.SendAsync(Message("E2E", "TagA", body), [&, body](absl::StatusOr<SendResult> r) {
      absl::MutexLock lock(&mu);
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) sent[r->msg_id] = body;
      ++async_done;
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return async_done == 30; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(20)));
  }
  ASSERT_EQ(sent.size(), 150u);

  // The pull consumer reads every queue from its first offset.
  PullConsumerOptions pull_options;
  pull_options.client = Client("puller");
  PullConsumer puller("e2e_puller", pull_options);
  ASSERT_TRUE(puller.Start().ok());
  absl::StatusOr<std::vector<MessageQueue>> queues = puller.FetchSubscribeQueues("E2E");
  ASSERT_TRUE(queues.ok()) << queues.status();
  ASSERT_EQ(queues->size(), 4u);
  // Acknowledged messages become readable once the store has dispatched them
  // to their consume queues, which it does in the background.
  const absl::Time acked = absl::Now();
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        int64_t readable = 0;
        for (const MessageQueue& queue : *queues) readable += puller.MaxOffset(queue).value_or(0);
        return readable == 150;
      },
      absl::Seconds(20)));
  std::cerr << "all acknowledged messages readable after "
            << absl::FormatDuration(absl::Now() - acked) << "\n";
  std::map<std::string, std::string> pulled;
  for (const MessageQueue& queue : *queues) {
    int64_t offset = 0;
    while (true) {
      absl::StatusOr<PullResult> result = puller.Pull(queue, "*", offset, 32);
      ASSERT_TRUE(result.ok()) << result.status();
      for (const MessageExt& m : result->messages) pulled[m.msg_id] = m.message.body();
      if (result->status != PullStatus::kFound) break;
      offset = result->next_begin_offset;
    }
  }
  EXPECT_EQ(pulled, sent);

  // A push consumer gets every message exactly once, in order per queue.
  Inbox inbox;
  {
    PushConsumer consumer("e2e_push", PushOptions("push"));
    ASSERT_TRUE(consumer.RegisterMessageListener(inbox.Listener()).ok());
    ASSERT_TRUE(consumer.Subscribe("E2E", "*").ok());
    ASSERT_TRUE(consumer.Start().ok());
    ASSERT_TRUE(testing::WaitUntil([&] { return inbox.total() >= 150; }, absl::Seconds(20)));
    // Long polling: a message sent now reaches the held pull at once.
    const absl::Time sent_at = absl::Now();
    absl::StatusOr<SendResult> late = producer.Send(Message("E2E", "TagA", "late"));
    ASSERT_TRUE(late.ok()) << late.status();
    sent[late->msg_id] = "late";
    ASSERT_TRUE(testing::WaitUntil([&] { return inbox.total() >= 151; }, absl::Seconds(5)));
    EXPECT_LT(absl::Now() - sent_at, absl::Seconds(5));
    consumer.Shutdown();
  }
  EXPECT_EQ(inbox.bodies(), sent);
  for (const auto& [id, count] : inbox.counts()) EXPECT_EQ(count, 1) << id;
  for (const auto& [queue, offsets] : inbox.offsets()) {
    for (size_t i = 0; i < offsets.size(); ++i) {
      EXPECT_EQ(offsets[i], static_cast<int64_t>(i)) << queue.first << "#" << queue.second;
    }
  }
  // Its offsets were committed on shutdown: the group is at the end of every queue.
  PullConsumerOptions checker_options;
  checker_options.client = Client("checker");
  PullConsumer checker("e2e_push", checker_options);
  ASSERT_TRUE(checker.Start().ok());
  for (const MessageQueue& queue : *queues) {
    absl::StatusOr<int64_t> committed = checker.QueryConsumerOffset(queue);
    ASSERT_TRUE(committed.ok()) << committed.status();
    EXPECT_EQ(*committed, *checker.MaxOffset(queue)) << queue.ToString();
  }

  // A second group with a tag filter sees only its tag.
  Inbox tagged;
  PushConsumer filtered("e2e_tags", PushOptions("tags"));
  ASSERT_TRUE(filtered.RegisterMessageListener(tagged.Listener()).ok());
  ASSERT_TRUE(filtered.Subscribe("E2E", "TagA").ok());
  ASSERT_TRUE(filtered.Start().ok());
  // 50 even sync sends, 30 async and the late one.
  ASSERT_TRUE(testing::WaitUntil([&] { return tagged.total() >= 81; }, absl::Seconds(20)));
  filtered.Shutdown();
  std::map<std::string, std::string> expected;
  for (const auto& [id, body] : sent) {
    int n = 0;
    const bool even_sync =
        body.rfind("sync-", 0) == 0 && absl::SimpleAtoi(body.substr(5), &n) && n % 2 == 0;
    if (even_sync || body.rfind("async-", 0) == 0 || body == "late") expected[id] = body;
  }
  ASSERT_EQ(expected.size(), 81u);
  EXPECT_EQ(tagged.bodies(), expected);
  EXPECT_EQ(tagged.total(), 81);
  puller.Shutdown();
  checker.Shutdown();
  producer.Shutdown();
}

TEST_F(ClientE2eTest, RebalanceWhenASecondPushConsumerJoinsAndLeaves) {
  CreateTopic("Rebalanced", 8);
  Inbox first_inbox, second_inbox;
  PushConsumer first("e2e_group", PushOptions("first"));
  ASSERT_TRUE(first.RegisterMessageListener(first_inbox.Listener()).ok());
  ASSERT_TRUE(first.Subscribe("Rebalanced", "*").ok());
  ASSERT_TRUE(first.Start().ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return QueuesOf(first, "Rebalanced").size() == 8; },
                                 absl::Seconds(20)));

  PushConsumer second("e2e_group", PushOptions("second"));
  ASSERT_TRUE(second.RegisterMessageListener(second_inbox.Listener()).ok());
  ASSERT_TRUE(second.Subscribe("Rebalanced", "*").ok());
  ASSERT_TRUE(second.Start().ok());
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return QueuesOf(first, "Rebalanced").size() == 4 &&
               QueuesOf(second, "Rebalanced").size() == 4;
      },
      absl::Seconds(20)));
  std::set<MessageQueue> shares;
  for (const MessageQueue& q : QueuesOf(first, "Rebalanced")) shares.insert(q);
  for (const MessageQueue& q : QueuesOf(second, "Rebalanced")) shares.insert(q);
  EXPECT_EQ(shares.size(), 8u);

  ProducerOptions producer_options;
  producer_options.client = Client("producer");
  Producer producer("e2e_producer", producer_options);
  ASSERT_TRUE(producer.Start().ok());
  std::map<std::string, std::string> sent = SendMany(producer, "Rebalanced", 400, 4, "m");
  ASSERT_EQ(sent.size(), 400u);
  ASSERT_TRUE(testing::WaitUntil([&] { return first_inbox.total() + second_inbox.total() >= 400; },
                                 absl::Seconds(20)));
  // Each member got its share, and no message went to both.
  EXPECT_GT(first_inbox.total(), 0);
  EXPECT_GT(second_inbox.total(), 0);
  std::map<std::string, std::string> received = first_inbox.bodies();
  for (const auto& [id, body] : second_inbox.bodies()) {
    EXPECT_EQ(received.count(id), 0u) << id << " went to both members";
    received[id] = body;
  }
  EXPECT_EQ(received, sent);

  // When the second member leaves, the first takes all queues back and
  // continues from the second's committed offsets: nothing is delivered twice.
  second.Shutdown();
  ASSERT_TRUE(testing::WaitUntil([&] { return QueuesOf(first, "Rebalanced").size() == 8; },
                                 absl::Seconds(20)));
  std::map<std::string, std::string> more = SendMany(producer, "Rebalanced", 80, 2, "after");
  ASSERT_TRUE(testing::WaitUntil([&] { return first_inbox.total() + second_inbox.total() >= 480; },
                                 absl::Seconds(20)));
  first.Shutdown();
  producer.Shutdown();
  EXPECT_EQ(first_inbox.total() + second_inbox.total(), 480);
  for (const auto& [id, count] : first_inbox.counts()) EXPECT_EQ(count, 1) << id;
  std::map<std::string, std::string> first_bodies = first_inbox.bodies();
  for (const auto& [id, body] : more) EXPECT_EQ(first_bodies[id], body);
}

}  // namespace
}  // namespace mq
