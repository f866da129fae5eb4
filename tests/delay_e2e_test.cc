// Delayed delivery with real processes, through the C++ client, in both
// deployments (standalone; name server + store + broker), with a short level
// table (--message_delay_level):
//  - delay levels and deliver times arrive in order of due time, never before
//    it, in their real topic with their properties;
//  - kill -9 of the store (split) or the standalone server with 10,000
//    delayed messages pending: after restart each is delivered exactly once;
//  - bad input (level out of range, time past the horizon, a delayed message
//    in a batch) gets INVALID_ARGUMENT with the reason and stores nothing;
//  - a slave store holds the master's schedule and delivers nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_options.h"
#include "mq/producer.h"
#include "mq/pull_consumer.h"
#include "proto/store.grpc.pb.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq {
namespace {

namespace sv1 = store::v1;
using ::mq::testing::WaitUntil;

constexpr int64_t kFileSize = 8 << 20;
constexpr char kTopic[] = "DelayTopic";
constexpr int kQueues = 4;
const std::vector<std::string> kDelayFlags = {"--message_delay_level=300ms 600ms 900ms 12s",
                                              "--timer_max_delay=1h"};

enum class Deployment { kStandalone, kSplit };

class DelayE2eTest : public ::testing::TestWithParam<Deployment> {
 protected:
  void SetUp() override { StartCluster(); }

  void TearDown() override {
    if (broker_ != nullptr) EXPECT_TRUE(broker_->Stop().ok());
    if (slave_store_ != nullptr) EXPECT_TRUE(slave_store_->Stop().ok());
    if (store_ != nullptr) EXPECT_TRUE(store_->Stop().ok());
    if (namesrv_ != nullptr) EXPECT_TRUE(namesrv_->Stop().ok());
  }

  bool split() const { return GetParam() == Deployment::kSplit; }

  void StartCluster() {
    if (!split()) {
      auto server = testing::StartStandalone(dir_, kDelayFlags);
      ASSERT_TRUE(server.ok()) << server.status();
      store_ = *std::move(server);
    } else {
      auto namesrv = testing::StartNamesrv();
      ASSERT_TRUE(namesrv.ok()) << namesrv.status();
      namesrv_ = *std::move(namesrv);
      StartStore();
      auto broker = testing::StartBroker("broker", store_->address(), namesrv_->address(), {});
      ASSERT_TRUE(broker.ok()) << broker.status();
      broker_ = *std::move(broker);
    }
    ASSERT_TRUE(testing::CreateTopic(broker_address(), kTopic, kQueues).ok());
    ASSERT_TRUE(testing::WaitForRoute(namesrv_address(), kTopic, 1).ok());
  }

  void StartStore() {
    auto store = testing::StartStore("store", dir_, kFileSize, kDelayFlags);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // kill -9 of the process holding the store, then a restart on its files.
  void KillAndRestartStore() {
    store_->Kill();
    store_.reset();
    if (split()) {
      StartStore();
      // The broker reconnects to the store on the same data dir but a new
      // port: restart it too.
      EXPECT_TRUE(broker_->Stop().ok());
      auto broker = testing::StartBroker("broker", store_->address(), namesrv_->address(), {});
      ASSERT_TRUE(broker.ok()) << broker.status();
      broker_ = *std::move(broker);
    } else {
      auto server = testing::StartStandalone(dir_, kDelayFlags);
      ASSERT_TRUE(server.ok()) << server.status();
      store_ = *std::move(server);
    }
  }

  std::string broker_address() const { return split() ? broker_->address() : store_->address(); }
  std::string namesrv_address() const { return split() ? namesrv_->address() : store_->address(); }

  ClientOptions Client(const std::string& instance) const {
    ClientOptions client;
    client.name_server_addresses = {namesrv_address()};
    client.instance_name = instance;
    client.client_ip = "127.0.0.1";
    return client;
  }

  std::unique_ptr<Producer> StartProducer() {
    ProducerOptions options;
    options.client = Client("delay-producer");
    auto producer = std::make_unique<Producer>("delay-producers", options);
    EXPECT_TRUE(producer->Start().ok());
    return producer;
  }

  // Every message now in the real topic's queues, read once from offset 0.
  std::vector<MessageExt> ReadAll() {
    PullConsumerOptions options;
    options.client = Client("delay-reader");
    PullConsumer consumer("delay-readers", options);
    EXPECT_TRUE(consumer.Start().ok());
    std::vector<MessageExt> all;
    absl::StatusOr<std::vector<MessageQueue>> queues = consumer.FetchSubscribeQueues(kTopic);
    EXPECT_TRUE(queues.ok()) << queues.status();
    if (!queues.ok()) return all;
    for (const MessageQueue& queue : *queues) {
      int64_t offset = 0;
      while (true) {
        absl::StatusOr<PullResult> pulled = consumer.Pull(queue, "*", offset, 1024);
        EXPECT_TRUE(pulled.ok()) << pulled.status();
        if (!pulled.ok() || pulled->status != PullStatus::kFound) break;
        for (MessageExt& m : pulled->messages) all.push_back(std::move(m));
        offset = pulled->next_begin_offset;
      }
    }
    consumer.Shutdown();
    return all;
  }

  int64_t StoredInTopic(const std::string& store_address) {
    auto stub = sv1::Store::NewStub(CreateChannel(store_address));
    int64_t total = 0;
    for (int q = 0; q < kQueues; ++q) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      sv1::GetQueueOffsetsRequest request;
      request.set_topic(kTopic);
      request.set_queue_id(q);
      sv1::GetQueueOffsetsResponse response;
      grpc::Status status = stub->GetQueueOffsets(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      total += response.max_offset();
    }
    return total;
  }

  std::string dir_ = testing::MakeTempDir("delay_e2e");
  std::unique_ptr<testing::ServerProcess> namesrv_;
  std::unique_ptr<testing::ServerProcess> store_;
  std::unique_ptr<testing::ServerProcess> slave_store_;
  std::unique_ptr<testing::ServerProcess> broker_;
};

TEST_P(DelayE2eTest, LevelsAndDeliverTimesArriveInDueOrderNeverEarly) {
  std::unique_ptr<Producer> producer = StartProducer();
  struct Sent {
    std::string body;
    absl::Duration delay;
  };
  // Levels 300ms 600ms 900ms; deliver times between them.
  const std::vector<Sent> plan = {{"level3", absl::Milliseconds(900)},
                                  {"at450", absl::Milliseconds(450)},
                                  {"level1", absl::Milliseconds(300)},
                                  {"at1200", absl::Milliseconds(1200)},
                                  {"level2", absl::Milliseconds(600)}};
  absl::Time start = absl::Now();
  std::map<std::string, absl::Time> not_before;
  for (const Sent& sent : plan) {
    Message message(kTopic, "TagD", sent.body);
    if (absl::StartsWith(sent.body, "level")) {
      message.SetDelayTimeLevel(sent.body.back() - '0');
    } else {
      message.SetDeliverTime(start + sent.delay);
    }
    message.SetProperty("origin", "e2e");
    absl::StatusOr<SendResult> result = producer->Send(message);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->status, SendStatus::kSendOk);
    not_before[sent.body] = start + sent.delay;
  }
  std::vector<MessageExt> delivered;
  ASSERT_TRUE(WaitUntil(
      [&] {
        delivered = ReadAll();
        return delivered.size() >= plan.size();
      },
      absl::Seconds(20)));
  ASSERT_EQ(delivered.size(), plan.size());
  std::sort(delivered.begin(), delivered.end(), [](const MessageExt& a, const MessageExt& b) {
    return a.store_timestamp_ms < b.store_timestamp_ms;
  });
  std::vector<std::string> order;
  for (const MessageExt& m : delivered) {
    order.push_back(m.message.body());
    EXPECT_GE(absl::FromUnixMillis(m.store_timestamp_ms),
              not_before[m.message.body()] - absl::Milliseconds(1))
        << m.message.body() << " was delivered early";
    EXPECT_EQ(m.message.topic(), kTopic);
    EXPECT_EQ(m.message.tags(), "TagD");
    EXPECT_EQ(m.message.GetProperty("origin"), "e2e");
    EXPECT_EQ(m.message.GetProperty("REAL_TOPIC"), kTopic);
    EXPECT_EQ(m.message.delay_time_level(), 0);
    EXPECT_FALSE(m.message.deliver_time().has_value());
  }
  EXPECT_EQ(order, (std::vector<std::string>{"level1", "at450", "level2", "level3", "at1200"}));
  producer->Shutdown();
}

TEST_P(DelayE2eTest, KillNineWithTenThousandPendingDeliversEachExactlyOnce) {
  constexpr int kMessages = 10000;
  std::unique_ptr<Producer> producer = StartProducer();
  absl::Mutex mu;
  std::map<std::string, int> sent;  // msg id -> 0
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  absl::Time start = absl::Now();
  std::vector<std::thread> senders;
  for (int t = 0; t < 8; ++t) {
    senders.emplace_back([&] {
      for (int i = next++; i < kMessages; i = next++) {
        Message message(kTopic, absl::StrCat("pending-", i));
        if (i % 2 == 0) {
          message.SetDelayTimeLevel(4);  // 12 s
        } else {
          message.SetDeliverTime(start + absl::Seconds(5) + absl::Milliseconds(i % 3000));
        }
        absl::StatusOr<SendResult> result = producer->Send(message);
        if (!result.ok() || result->status != SendStatus::kSendOk) {
          ++failures;
          continue;
        }
        absl::MutexLock lock(&mu);
        sent[result->msg_id] = 0;
      }
    });
  }
  for (std::thread& sender : senders) sender.join();
  producer->Shutdown();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_EQ(sent.size(), static_cast<size_t>(kMessages));
  // Kill while part is delivered and part still waits.
  std::string store_address = split() ? store_->address() : store_->address();
  ASSERT_TRUE(WaitUntil([&] { return StoredInTopic(store_address) > 0; }, absl::Seconds(20)));
  int64_t before_kill = StoredInTopic(store_address);
  KillAndRestartStore();
  ASSERT_TRUE(
      WaitUntil([&] { return StoredInTopic(store_->address()) >= kMessages; }, absl::Seconds(30)));
  // Give a duplicate the time to show up.
  absl::StatusOr<sv1::GetStatsResponse> stats = testing::StoreStats(store_->address());
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(StoredInTopic(store_->address()), kMessages);
  std::vector<MessageExt> delivered = ReadAll();
  for (const MessageExt& m : delivered) {
    auto it = sent.find(m.msg_id);
    ASSERT_NE(it, sent.end()) << "unknown message " << m.msg_id;
    ++it->second;
  }
  int missing = 0, duplicated = 0;
  for (const auto& [id, n] : sent) {
    missing += n == 0;
    duplicated += n > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(duplicated, 0);
  std::cout << "delivered before the kill: " << before_kill << " of " << kMessages << std::endl;
  EXPECT_LT(before_kill, kMessages) << "nothing was pending at the kill";
}

TEST_P(DelayE2eTest, BadInputIsRefusedWithTheReasonAndStoresNothing) {
  std::unique_ptr<Producer> producer = StartProducer();
  auto expect_refused = [&](const Message& message, absl::string_view reason) {
    absl::StatusOr<SendResult> result = producer->Send(message);
    ASSERT_FALSE(result.ok()) << message.body();
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
    EXPECT_NE(result.status().message().find(reason), absl::string_view::npos) << result.status();
  };
  Message level_too_high(kTopic, "level5");
  level_too_high.SetDelayTimeLevel(5);
  expect_refused(level_too_high, "levels 1..4");
  Message negative(kTopic, "negative");
  negative.SetDelayTimeLevel(-1);
  expect_refused(negative, "delay level");
  Message too_far(kTopic, "too-far");
  too_far.SetDeliverTime(absl::Now() + absl::Hours(2));
  expect_refused(too_far, "timer_max_delay");
  Message bad_time(kTopic, "bad-time");
  bad_time.SetProperty("__STARTDELIVERTIME", "tomorrow");
  expect_refused(bad_time, "milliseconds");

  Message delayed(kTopic, "in-batch");
  delayed.SetDelayTimeLevel(1);
  absl::StatusOr<SendResult> batch = producer->SendBatch({Message(kTopic, "plain"), delayed});
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(batch.status().message().find("batch"), absl::string_view::npos);

  // Nothing was stored: not in the topic, not in the schedule.
  absl::StatusOr<sv1::GetStatsResponse> stats = testing::StoreStats(store_->address());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->total_put_messages(), 0);
  EXPECT_EQ(StoredInTopic(store_->address()), 0);
  EXPECT_EQ(stats->delay_levels_ms_size(), 4);
  producer->Shutdown();
}

INSTANTIATE_TEST_SUITE_P(Deployments, DelayE2eTest,
                         ::testing::Values(Deployment::kStandalone, Deployment::kSplit),
                         [](const ::testing::TestParamInfo<Deployment>& info) {
                           return info.param == Deployment::kSplit ? "Split" : "Standalone";
                         });

// A master store with a slave: the slave replicates the schedule (the
// schedule topic's queues and the progress checkpoint) and delivers nothing:
// its real topic holds exactly the master's deliveries.
TEST(DelaySlaveTest, SlaveHoldsTheScheduleAndDeliversNothing) {
  std::string master_dir = testing::MakeTempDir("delay_master");
  std::string slave_dir = testing::MakeTempDir("delay_slave");
  auto master = testing::StartStore("store-m", master_dir, kFileSize, kDelayFlags);
  ASSERT_TRUE(master.ok()) << master.status();
  std::vector<std::string> slave_flags = kDelayFlags;
  slave_flags.insert(slave_flags.end(), {"--role=SLAVE", "--broker_id=1",
                                         absl::StrCat("--master_address=", (*master)->address())});
  auto slave = testing::StartStore("store-s", slave_dir, kFileSize, slave_flags);
  ASSERT_TRUE(slave.ok()) << slave.status();

  auto stub = [](const std::string& address) {
    return sv1::Store::NewStub(CreateChannel(address));
  };
  auto master_stub = stub((*master)->address());
  auto slave_stub = stub((*slave)->address());
  auto context = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return c;
  };
  constexpr int kMessages = 200;
  sv1::AppendBatchRequest request;
  for (int i = 0; i < kMessages; ++i) {
    sv1::AppendEntry* entry = request.add_entries();
    entry->mutable_message()->set_topic(kTopic);
    entry->mutable_message()->set_body(absl::StrCat("m", i));
    (*entry->mutable_message()->mutable_properties())["DELAY"] = "4";
    entry->set_queue_id(i % kQueues);
  }
  sv1::AppendBatchResponse appended;
  ASSERT_TRUE(master_stub->AppendBatch(context().get(), request, &appended).ok());
  for (const sv1::AppendResult& result : appended.results()) {
    ASSERT_EQ(result.status(), sv1::PUT_OK) << result.error();
  }
  auto schedule_size = [&](sv1::Store::Stub* s) -> int64_t {
    sv1::GetQueueOffsetsRequest q;
    q.set_topic("SCHEDULE_TOPIC_XXXX");
    q.set_queue_id(3);
    sv1::GetQueueOffsetsResponse r;
    return s->GetQueueOffsets(context().get(), q, &r).ok() ? r.max_offset() : -1;
  };
  auto topic_size = [&](sv1::Store::Stub* s) -> int64_t {
    int64_t total = 0;
    for (int q = 0; q < kQueues; ++q) {
      sv1::GetQueueOffsetsRequest req;
      req.set_topic(kTopic);
      req.set_queue_id(q);
      sv1::GetQueueOffsetsResponse r;
      if (s->GetQueueOffsets(context().get(), req, &r).ok()) total += r.max_offset();
    }
    return total;
  };
  // The slave holds the schedule before anything is due.
  ASSERT_TRUE(WaitUntil([&] { return schedule_size(slave_stub.get()) == kMessages; }));
  EXPECT_EQ(schedule_size(master_stub.get()), kMessages);
  EXPECT_EQ(topic_size(slave_stub.get()), 0);
  // After delivery both hold exactly one copy each, and the slave has the
  // master's progress checkpoint.
  ASSERT_TRUE(
      WaitUntil([&] { return topic_size(master_stub.get()) == kMessages; }, absl::Seconds(30)));
  ASSERT_TRUE(WaitUntil([&] { return topic_size(slave_stub.get()) == kMessages; }));
  sv1::GetMetadataRequest get;
  get.set_key("schedule_progress");
  ASSERT_TRUE(WaitUntil([&] {
    sv1::GetMetadataResponse on_master, on_slave;
    return master_stub->GetMetadata(context().get(), get, &on_master).ok() &&
           slave_stub->GetMetadata(context().get(), get, &on_slave).ok() && on_slave.found() &&
           on_slave.value() == on_master.value();
  }));
  absl::StatusOr<sv1::GetStatsResponse> slave_stats = testing::StoreStats((*slave)->address());
  ASSERT_TRUE(slave_stats.ok());
  EXPECT_EQ(slave_stats->schedule_delivered(), 0);
  EXPECT_EQ(topic_size(slave_stub.get()), kMessages);
  EXPECT_TRUE((*slave)->Stop().ok());
  EXPECT_TRUE((*master)->Stop().ok());
}

}  // namespace
}  // namespace mq
