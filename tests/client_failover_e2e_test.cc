// Producer failover across two broker groups of real processes (a name
// server, and a store and a broker per group): when one group's broker is
// killed mid-stream, sync sends keep succeeding on the other within the send
// budget, through the producer's retry on another broker.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "mq/producer.h"
#include "mq/pull_consumer.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq {
namespace {

constexpr int64_t kFileSize = 16 << 20;
constexpr int kQueuesPerGroup = 4;

class ClientFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> namesrv = testing::StartNamesrv();
    ASSERT_TRUE(namesrv.ok()) << namesrv.status();
    namesrv_ = *std::move(namesrv);
    absl::StatusOr<testing::BrokerGroups> groups = testing::StartBrokerGroups(
        {"broker-a", "broker-b"}, namesrv_->address(), testing::MakeTempDir("groups"), kFileSize);
    ASSERT_TRUE(groups.ok()) << groups.status();
    stores_ = std::move(groups->stores);
    brokers_ = std::move(groups->brokers);
  }

  void TearDown() override {
    for (auto& broker : brokers_) {
      if (broker != nullptr) {
        EXPECT_TRUE(broker->Stop().ok());
      }
    }
    for (auto& store : stores_) EXPECT_TRUE(store->Stop().ok());
    EXPECT_TRUE(namesrv_->Stop().ok());
  }

  std::unique_ptr<testing::ServerProcess> namesrv_;
  std::vector<std::unique_ptr<testing::ServerProcess>> stores_;
  std::vector<std::unique_ptr<testing::ServerProcess>> brokers_;
};

TEST_F(ClientFailoverTest, SyncSendsSurviveTheLossOfOneBrokerGroup) {
  for (const auto& broker : brokers_) {
    ASSERT_TRUE(testing::CreateTopic(broker->address(), "Failover", kQueuesPerGroup).ok());
  }
  ASSERT_TRUE(testing::WaitForRoute(namesrv_->address(), "Failover", 2).ok());

  ProducerOptions options;
  options.client.name_server_addresses = {namesrv_->address()};
  options.client.client_ip = "127.0.0.1";
  Producer producer("failover_producer", options);
  ASSERT_TRUE(producer.Start().ok());
  absl::StatusOr<std::vector<MessageQueue>> queues = producer.FetchPublishQueues("Failover");
  ASSERT_TRUE(queues.ok()) << queues.status();
  ASSERT_EQ(queues->size(), 2u * kQueuesPerGroup);

  std::map<std::string, int> per_broker_before, per_broker_after;
  std::map<std::string, std::string> sent_to_a;
  absl::Duration slowest_after = absl::ZeroDuration();
  for (int i = 0; i < 400; ++i) {
    if (i == 100) {
      // SIGKILL: no unregistration, so the name server keeps routing to the
      // dead group; only the producer's retry keeps sends going.
      brokers_[1]->Kill();
      brokers_[1].reset();
    }
    const absl::Time start = absl::Now();
    absl::StatusOr<SendResult> result =
        producer.Send(Message("Failover", "TagA", absl::StrCat("message-", i)));
    const absl::Duration took = absl::Now() - start;
    ASSERT_TRUE(result.ok()) << "send " << i << ": " << result.status();
    // Within the send budget (3 s), even with an attempt on the dead group.
    EXPECT_LT(took, options.send_timeout) << "send " << i;
    std::map<std::string, int>& counts = i < 100 ? per_broker_before : per_broker_after;
    ++counts[result->message_queue.broker_name];
    if (i >= 100) slowest_after = std::max(slowest_after, took);
    if (result->message_queue.broker_name == "broker-a") {
      sent_to_a[result->msg_id] = absl::StrCat("message-", i);
    }
  }
  // Before the kill both groups took sends; after it only broker-a did.
  EXPECT_GT(per_broker_before["broker-a"], 0);
  EXPECT_GT(per_broker_before["broker-b"], 0);
  EXPECT_EQ(per_broker_after["broker-a"], 300);
  EXPECT_EQ(per_broker_after.count("broker-b"), 0u);
  std::cerr << "slowest send after the kill: " << absl::FormatDuration(slowest_after) << "\n";

  // What broker-a acknowledged is stored there.
  PullConsumerOptions pull_options;
  pull_options.client = options.client;
  pull_options.client.instance_name = "failover-checker";
  PullConsumer consumer("failover_checker", pull_options);
  ASSERT_TRUE(consumer.Start().ok());
  // Acknowledged messages become readable once broker-a's store has
  // dispatched them, in the background.
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        int64_t readable = 0;
        for (int q = 0; q < kQueuesPerGroup; ++q) {
          readable += consumer.MaxOffset(MessageQueue{"Failover", "broker-a", q}).value_or(0);
        }
        return readable >= static_cast<int64_t>(sent_to_a.size());
      },
      absl::Seconds(20)));
  std::map<std::string, std::string> stored;
  for (int q = 0; q < kQueuesPerGroup; ++q) {
    const MessageQueue queue{"Failover", "broker-a", q};
    int64_t offset = 0;
    while (true) {
      absl::StatusOr<PullResult> result = consumer.Pull(queue, "*", offset, 64);
      ASSERT_TRUE(result.ok()) << result.status();
      for (const MessageExt& m : result->messages) stored[m.msg_id] = m.message.body();
      if (result->status != PullStatus::kFound) break;
      offset = result->next_begin_offset;
    }
  }
  EXPECT_EQ(stored, sent_to_a);
  consumer.Shutdown();
  producer.Shutdown();
}

// A broker stopped with SIGTERM while async sends are in flight on its send
// streams: it answers what it read, ends the streams, and the producer
// retries the rest on the other group; no send fails, and the broker's
// shutdown does not wait for the producer's open streams.
TEST_F(ClientFailoverTest, AsyncSendsInFlightSurviveAGracefulBrokerStop) {
  for (const auto& broker : brokers_) {
    ASSERT_TRUE(testing::CreateTopic(broker->address(), "Drain", kQueuesPerGroup).ok());
  }
  ASSERT_TRUE(testing::WaitForRoute(namesrv_->address(), "Drain", 2).ok());
  ProducerOptions options;
  options.client.name_server_addresses = {namesrv_->address()};
  options.client.client_ip = "127.0.0.1";
  Producer producer("drain_producer", options);
  ASSERT_TRUE(producer.Start().ok());

  constexpr int kTotal = 3000;
  constexpr int kWindow = 64;
  absl::Mutex mu;
  int in_flight = 0, succeeded = 0, failed = 0;
  std::map<std::string, int> per_broker;
  std::string first_error;
  absl::Duration stop_took;
  std::thread stopper;
  for (int i = 0; i < kTotal; ++i) {
    if (i == kTotal / 3) {
      stopper = std::thread([&] {
        const absl::Time start = absl::Now();
        EXPECT_TRUE(brokers_[1]->Stop().ok());
        stop_took = absl::Now() - start;
      });
    }
    {
      absl::MutexLock lock(&mu);
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return in_flight < kWindow; };
      ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&room), absl::Seconds(30)));
      ++in_flight;
    }
    producer.SendAsync(Message("Drain", absl::StrCat("message-", i)),
                       [&](absl::StatusOr<SendResult> result) {
                         absl::MutexLock lock(&mu);
                         --in_flight;
                         if (result.ok()) {
                           ++succeeded;
                           ++per_broker[result->message_queue.broker_name];
                         } else {
                           ++failed;
                           if (first_error.empty()) first_error = result.status().ToString();
                         }
                       });
  }
  {
    absl::MutexLock lock(&mu);
    auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return in_flight == 0; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(60)));
  }
  stopper.join();
  brokers_[1].reset();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(failed, 0) << first_error;
  EXPECT_EQ(succeeded, kTotal);
  EXPECT_GT(per_broker["broker-b"], 0);
  EXPECT_GT(per_broker["broker-a"], per_broker["broker-b"]);
  // The broker's own grace period for open calls is 5 s.
  EXPECT_LT(stop_took, absl::Seconds(4)) << "the broker waited for the producer's streams";
  std::cerr << "graceful stop of broker-b took " << absl::FormatDuration(stop_took) << "\n";
  producer.Shutdown();
}

}  // namespace
}  // namespace mq
