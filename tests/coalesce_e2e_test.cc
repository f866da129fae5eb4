// Coalesced sends (issue 33) against real processes: a name server, and a
// store and a broker per group. The producer coalesces by default, so many
// concurrent sends to a broker travel in shared frames; each must still get
// its own result, retry alone, keep its own deadline, and ordered sends keep
// their order.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "mq/message_queue_selector.h"
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
// The brokers' --max_message_size: a bigger body passes the client's own
// checks (4 MiB) and is refused by the broker (MESSAGE_ILLEGAL).
constexpr int kBrokerMaxBody = 2048;

class CoalesceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> namesrv = testing::StartNamesrv();
    ASSERT_TRUE(namesrv.ok()) << namesrv.status();
    namesrv_ = *std::move(namesrv);
    absl::StatusOr<testing::BrokerGroups> groups = testing::StartBrokerGroups(
        {"broker-a", "broker-b"}, namesrv_->address(), testing::MakeTempDir("groups"), kFileSize,
        {absl::StrCat("--max_message_size=", kBrokerMaxBody)});
    ASSERT_TRUE(groups.ok()) << groups.status();
    stores_ = std::move(groups->stores);
    brokers_ = std::move(groups->brokers);
  }

  void TearDown() override {
    for (auto& store : stores_) {
      if (store != nullptr) kill(store->pid(), SIGCONT);
    }
    for (auto& broker : brokers_) {
      if (broker != nullptr) {
        EXPECT_TRUE(broker->Stop().ok());
      }
    }
    for (auto& store : stores_) EXPECT_TRUE(store->Stop().ok());
    EXPECT_TRUE(namesrv_->Stop().ok());
  }

  // A topic on the brokers of `groups` (indexes into brokers_).
  void CreateTopic(const std::string& topic, const std::vector<int>& groups) {
    for (int g : groups) {
      ASSERT_TRUE(testing::CreateTopic(brokers_[g]->address(), topic, kQueuesPerGroup).ok());
    }
    ASSERT_TRUE(
        testing::WaitForRoute(namesrv_->address(), topic, static_cast<int>(groups.size())).ok());
  }

  ProducerOptions Options() const {
    ProducerOptions options;
    options.client.name_server_addresses = {namesrv_->address()};
    options.client.client_ip = "127.0.0.1";
    return options;
  }

  // Every message of `topic` stored on `broker_name`, queue by queue in
  // queue order: msg id -> body, and the bodies of each queue in order.
  void ReadBack(const std::string& topic, const std::string& broker_name, int64_t at_least,
                std::map<std::string, std::string>* by_id,
                std::vector<std::vector<std::string>>* per_queue) {
    PullConsumerOptions options;
    options.client = Options().client;
    options.client.instance_name = absl::StrCat("checker-", broker_name);
    PullConsumer consumer(absl::StrCat("checker_", topic), options);
    ASSERT_TRUE(consumer.Start().ok());
    // Acknowledged messages become readable once dispatched, in the background.
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          int64_t readable = 0;
          for (int q = 0; q < kQueuesPerGroup; ++q) {
            readable += consumer.MaxOffset(MessageQueue{topic, broker_name, q}).value_or(0);
          }
          return readable >= at_least;
        },
        absl::Seconds(20)));
    for (int q = 0; q < kQueuesPerGroup; ++q) {
      std::vector<std::string> bodies;
      int64_t offset = 0;
      while (true) {
        absl::StatusOr<PullResult> result =
            consumer.Pull(MessageQueue{topic, broker_name, q}, "*", offset, 64);
        ASSERT_TRUE(result.ok()) << result.status();
        for (const MessageExt& m : result->messages) {
          (*by_id)[m.msg_id] = m.message.body();
          bodies.push_back(m.message.body());
        }
        if (result->status != PullStatus::kFound) break;
        offset = result->next_begin_offset;
      }
      if (per_queue != nullptr) per_queue->push_back(std::move(bodies));
    }
    consumer.Shutdown();
  }

  std::unique_ptr<testing::ServerProcess> namesrv_;
  std::vector<std::unique_ptr<testing::ServerProcess>> stores_;
  std::vector<std::unique_ptr<testing::ServerProcess>> brokers_;
};

// Async sends (256 in flight) and sync senders share coalesced frames; one
// broker is killed (SIGKILL) mid-run, with frames in flight on its streams.
// Every send succeeds (the ones the dead broker left unanswered are retried
// alone on the other), each result names its own message, and what broker-a
// acknowledged is stored there under the id it answered.
TEST_F(CoalesceTest, EachSendKeepsItsResultAndRetriesAloneWhenABrokerIsKilledMidBatch) {
  CreateTopic("Coalesce", {0, 1});
  Producer producer("coalesce_producer", Options());
  ASSERT_TRUE(producer.Start().ok());

  constexpr int kAsync = 6000;
  constexpr int kWindow = 256;
  constexpr int kSyncThreads = 8;
  constexpr int kPerSyncThread = 150;
  absl::Mutex mu;
  int in_flight = 0, failed = 0;
  std::string first_error;
  // msg id -> body, of each acknowledged send, and where it was stored.
  std::map<std::string, std::string> acked_a;
  std::map<std::string, std::string> acked_any;
  int duplicate_ids = 0;
  auto record = [&](const absl::StatusOr<SendResult>& result, const std::string& body)
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
                      if (!result.ok()) {
                        ++failed;
                        if (first_error.empty()) first_error = result.status().ToString();
                        return;
                      }
                      if (!acked_any.emplace(result->msg_id, body).second) ++duplicate_ids;
                      if (result->message_queue.broker_name == "broker-a") {
                        acked_a[result->msg_id] = body;
                      }
                    };
  std::vector<std::thread> sync_senders;
  for (int t = 0; t < kSyncThreads; ++t) {
    sync_senders.emplace_back([&, t] {
      for (int i = 0; i < kPerSyncThread; ++i) {
        const std::string body = absl::StrCat("sync-", t, "-", i);
        absl::StatusOr<SendResult> result = producer.Send(Message("Coalesce", body));
        absl::MutexLock lock(&mu);
        record(result, body);
      }
    });
  }
  for (int i = 0; i < kAsync; ++i) {
    if (i == kAsync / 3) {
      brokers_[1]->Kill();
      brokers_[1].reset();
    }
    {
      absl::MutexLock lock(&mu);
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return in_flight < kWindow; };
      ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&room), absl::Seconds(30)));
      ++in_flight;
    }
    const std::string body = absl::StrCat("async-", i);
    producer.SendAsync(Message("Coalesce", body), [&, body](absl::StatusOr<SendResult> result) {
      absl::MutexLock lock(&mu);
      --in_flight;
      record(result, body);
    });
  }
  for (std::thread& sender : sync_senders) sender.join();
  {
    absl::MutexLock lock(&mu);
    auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return in_flight == 0; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(60)));
  }
  producer.Shutdown();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(failed, 0) << first_error;
  EXPECT_EQ(duplicate_ids, 0);
  EXPECT_EQ(acked_any.size(), static_cast<size_t>(kAsync + kSyncThreads * kPerSyncThread));
  // Both groups took sends before the kill; the retries went to broker-a.
  EXPECT_GT(acked_a.size(), 0u);
  EXPECT_LT(acked_a.size(), acked_any.size());

  std::map<std::string, std::string> stored;
  ReadBack("Coalesce", "broker-a", static_cast<int64_t>(acked_a.size()), &stored, nullptr);
  // Each acknowledged id names the message stored under it; nothing
  // acknowledged is missing. (A retried send may also be stored on broker-a
  // under its id from an attempt whose answer was lost: no message is stored
  // under another message's id.)
  for (const auto& [id, body] : acked_a) {
    auto it = stored.find(id);
    ASSERT_NE(it, stored.end()) << "acknowledged " << id << " (" << body << ") is not stored";
    EXPECT_EQ(it->second, body) << "id " << id;
  }
  for (const auto& [id, body] : stored) {
    auto it = acked_any.find(id);
    ASSERT_NE(it, acked_any.end()) << "stored " << id << " (" << body << ") was never answered";
    EXPECT_EQ(it->second, body) << "id " << id;
  }
}

// Bodies over the broker's limit, mixed among good sends (256 async in
// flight, so they share frames with good ones): each bad one fails alone,
// at once (MESSAGE_ILLEGAL is not retried), and every good one is stored
// under the id it was answered with.
TEST_F(CoalesceTest, ABadMessageFailsAloneAndItsNeighboursAreStored) {
  CreateTopic("Mixed", {0});
  Producer producer("mixed_producer", Options());
  ASSERT_TRUE(producer.Start().ok());
  constexpr int kSends = 3000;
  constexpr int kWindow = 256;
  const std::string too_big(kBrokerMaxBody + 1, 'x');
  absl::Mutex mu;
  int in_flight = 0;
  int bad_refused = 0;
  std::vector<std::string> wrong;            // outcomes other than expected
  std::map<std::string, std::string> acked;  // msg id -> body
  for (int i = 0; i < kSends; ++i) {
    const bool bad = i % 7 == 3;
    const std::string body = bad ? too_big : absl::StrCat("good-", i);
    {
      absl::MutexLock lock(&mu);
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return in_flight < kWindow; };
      ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&room), absl::Seconds(30)));
      ++in_flight;
    }
    producer.SendAsync(
        Message("Mixed", body), [&, bad, body, i](absl::StatusOr<SendResult> result) {
          absl::MutexLock lock(&mu);
          --in_flight;
          if (bad) {
            if (!result.ok() && GetResponseCode(result.status()) == common::v1::MESSAGE_ILLEGAL &&
                absl::StrContains(result.status().message(), "more than the limit")) {
              ++bad_refused;
            } else {
              wrong.push_back(absl::StrCat("bad send ", i, ": ",
                                           result.ok() ? "stored" : result.status().ToString()));
            }
          } else if (!result.ok()) {
            wrong.push_back(absl::StrCat("good send ", i, ": ", result.status().ToString()));
          } else if (!acked.emplace(result->msg_id, body).second) {
            wrong.push_back(absl::StrCat("good send ", i, ": duplicate id ", result->msg_id));
          }
        });
  }
  {
    absl::MutexLock lock(&mu);
    auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return in_flight == 0; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(60)));
  }
  producer.Shutdown();
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(wrong.empty()) << wrong.size() << " wrong outcomes, first: " << wrong.front();
  const int bad_sent = (kSends + 3) / 7;
  EXPECT_EQ(bad_refused, bad_sent);
  ASSERT_EQ(acked.size(), static_cast<size_t>(kSends - bad_sent));

  std::map<std::string, std::string> stored;
  ReadBack("Mixed", "broker-a", static_cast<int64_t>(acked.size()), &stored, nullptr);
  // Exactly the good ones, each under its own id.
  EXPECT_EQ(stored, acked);
}

// Ordered sends (a selector per key) from many threads at once, so their
// sends share frames: each key's messages are stored in the order sent.
TEST_F(CoalesceTest, OrderedSendsKeepTheirOrder) {
  CreateTopic("Ordered", {0, 1});
  Producer producer("ordered_producer", Options());
  ASSERT_TRUE(producer.Start().ok());
  constexpr int kKeys = 16;
  constexpr int kPerKey = 100;
  std::vector<std::thread> senders;
  std::vector<std::string> errors(kKeys);
  absl::Mutex mu;
  std::map<std::string, int64_t> stored_on;
  for (int k = 0; k < kKeys; ++k) {
    senders.emplace_back([&, k] {
      const MessageQueueSelector selector = SelectQueueByHash(absl::StrCat("order-", k));
      for (int i = 0; i < kPerKey; ++i) {
        absl::StatusOr<SendResult> result =
            producer.Send(Message("Ordered", absl::StrCat(k, ":", i)), selector);
        if (!result.ok()) {
          errors[k] = result.status().ToString();
          return;
        }
        absl::MutexLock lock(&mu);
        ++stored_on[result->message_queue.broker_name];
      }
    });
  }
  for (std::thread& sender : senders) sender.join();
  producer.Shutdown();
  for (const std::string& error : errors) ASSERT_EQ(error, "");

  std::map<int, std::vector<int>> sequence_of_key;
  int64_t total = 0;
  for (const std::string broker : {"broker-a", "broker-b"}) {
    std::map<std::string, std::string> by_id;
    std::vector<std::vector<std::string>> per_queue;
    ReadBack("Ordered", broker, stored_on[broker], &by_id, &per_queue);
    std::map<int, std::string> queue_of_key;
    for (size_t q = 0; q < per_queue.size(); ++q) {
      for (const std::string& body : per_queue[q]) {
        std::vector<std::string> parts = absl::StrSplit(body, ':');
        int key = 0, index = 0;
        ASSERT_TRUE(absl::SimpleAtoi(parts[0], &key) && absl::SimpleAtoi(parts[1], &index));
        const std::string where = absl::StrCat(broker, "/", q);
        // A key stays on one queue.
        ASSERT_EQ(queue_of_key.emplace(key, where).first->second, where) << "key " << key;
        sequence_of_key[key].push_back(index);
        ++total;
      }
    }
  }
  // Every message is stored, once.
  ASSERT_EQ(total, kKeys * kPerKey);
  for (int k = 0; k < kKeys; ++k) {
    std::vector<int> expected(kPerKey);
    for (int i = 0; i < kPerKey; ++i) expected[i] = i;
    EXPECT_EQ(sequence_of_key[k], expected) << "key " << k;
  }
}

// The store behind broker-a stops (SIGSTOP), so its broker answers nothing:
// sends of short and long timeouts, interleaved in the same frames, each end
// at their own deadline; once the store runs again, sends succeed.
TEST_F(CoalesceTest, EachSendEndsAtItsOwnDeadline) {
  CreateTopic("Stalled", {0});
  Producer producer("deadline_producer", Options());
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.Send(Message("Stalled", "warm-up")).ok());
  ASSERT_EQ(kill(stores_[0]->pid(), SIGSTOP), 0);

  constexpr absl::Duration kShort = absl::Milliseconds(500);
  constexpr absl::Duration kLong = absl::Milliseconds(2000);
  constexpr int kAsync = 64;
  absl::Mutex mu;
  int done = 0;
  std::vector<std::pair<absl::Duration, absl::StatusOr<SendResult>>> outcomes;  // timeout, result
  std::vector<absl::Duration> took;
  for (int i = 0; i < kAsync; ++i) {
    // Every third is long: the client's send streams to a broker take sends
    // in turn, so each stream carries both kinds (i % 2 would give each of
    // an even number of streams one kind only).
    const absl::Duration timeout = i % 3 == 0 ? kLong : kShort;
    const absl::Time start = absl::Now();
    producer.SendAsync(
        Message("Stalled", absl::StrCat("stalled-", i)),
        [&, timeout, start](absl::StatusOr<SendResult> result) {
          absl::MutexLock lock(&mu);
          outcomes.emplace_back(timeout, std::move(result));
          took.push_back(absl::Now() - start);
          ++done;
        },
        timeout);
  }
  {
    absl::MutexLock lock(&mu);
    auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return done == kAsync; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(20)));
    for (size_t i = 0; i < outcomes.size(); ++i) {
      const auto& [timeout, result] = outcomes[i];
      EXPECT_FALSE(result.ok()) << "a send to a stalled broker succeeded";
      EXPECT_GE(took[i], timeout - absl::Milliseconds(50)) << "ended before its deadline";
      // The deadline sweep runs every 50 ms; a loaded machine adds more.
      EXPECT_LT(took[i], timeout + absl::Milliseconds(900))
          << "a send with timeout " << absl::FormatDuration(timeout) << " ended after "
          << absl::FormatDuration(took[i]);
    }
  }
  ASSERT_EQ(kill(stores_[0]->pid(), SIGCONT), 0);
  // Once the store runs again, sends go through (the late answers to the
  // expired ones are dropped).
  ASSERT_TRUE(testing::WaitUntil([&] { return producer.Send(Message("Stalled", "after")).ok(); },
                                 absl::Seconds(20)));
  producer.Shutdown();
}

}  // namespace
}  // namespace mq
