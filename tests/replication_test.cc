// Master-to-slave replication with real processes: a name server, a master
// store and broker, a slave store and broker (broker id 1).
//  - 50,000 sent messages reach the slave: byte-identical commit logs, equal
//    consume queues, readable through the slave broker;
//  - SYNC_MASTER answers SLAVE_NOT_AVAILABLE / FLUSH_SLAVE_TIMEOUT without its
//    slave and SEND_OK again once the slave is back and caught up;
//  - kill -9 of the master under SYNC_MASTER load: every SEND_OK message is
//    readable from the slave, also through the C++ client once the name
//    server has dropped the dead master, and a push consumer started before
//    the kill goes on consuming from the slave;
//  - a slave whose log comes from another master is refused and untouched;
//  - the standalone server's store is a master for a slave store process.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_options.h"
#include "common/rpc.h"
#include "mq/pull_consumer.h"
#include "mq/push_consumer.h"
#include "proto/broker.grpc.pb.h"
#include "proto/store.grpc.pb.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq {
namespace {

namespace bv1 = broker::v1;
namespace sv1 = store::v1;

constexpr int64_t kFileSize = 4 << 20;
constexpr char kTopic[] = "HaTopic";
constexpr int kQueues = 4;

constexpr absl::Duration kCallTimeout = absl::Seconds(10);

using ::mq::testing::WaitUntil;

class ReplicationTest : public ::testing::Test {
 protected:
  void StartNamesrv(const std::vector<std::string>& extra = {}) {
    auto process = testing::StartNamesrv(extra);
    ASSERT_TRUE(process.ok()) << process.status();
    namesrv_ = *std::move(process);
  }

  void StartMasterStore(const std::string& role) {
    auto process =
        testing::StartStore("store-m", master_dir_, kFileSize, {absl::StrCat("--role=", role)});
    ASSERT_TRUE(process.ok()) << process.status();
    master_store_ = *std::move(process);
  }

  void StartSlaveStore(const std::string& master_address) {
    auto process = testing::StartStore(
        "store-s", slave_dir_, kFileSize,
        {"--role=SLAVE", "--broker_id=1", absl::StrCat("--master_address=", master_address)});
    ASSERT_TRUE(process.ok()) << process.status();
    slave_store_ = *std::move(process);
  }

  void StartMasterBroker(const std::string& role) {
    auto process = testing::StartBroker("broker-m", master_store_->address(), namesrv_->address(),
                                        {absl::StrCat("--role=", role)});
    ASSERT_TRUE(process.ok()) << process.status();
    master_broker_ = *std::move(process);
    master_stub_ = bv1::Broker::NewStub(CreateChannel(master_broker_->address()));
  }

  void StartSlaveBroker() {
    auto process = testing::StartBroker("broker-s", slave_store_->address(), namesrv_->address(),
                                        {"--role=SLAVE", "--broker_id=1"});
    ASSERT_TRUE(process.ok()) << process.status();
    slave_broker_ = *std::move(process);
    slave_stub_ = bv1::Broker::NewStub(CreateChannel(slave_broker_->address()));
  }

  // Name server, master store and broker with `role`, slave store and broker;
  // the topic created on the master and known to the slave broker.
  void StartCluster(const std::string& role, const std::vector<std::string>& namesrv_flags = {}) {
    StartNamesrv(namesrv_flags);
    StartMasterStore(role);
    StartSlaveStore(master_store_->address());
    StartMasterBroker(role);
    StartSlaveBroker();
    CreateTopic();
    WaitForTopicOnSlaveBroker();
  }

  void CreateTopic() {
    bv1::CreateOrUpdateTopicRequest request;
    common::v1::TopicConfig* config = request.mutable_config();
    config->set_topic_name(kTopic);
    config->set_read_queue_nums(kQueues);
    config->set_write_queue_nums(kQueues);
    config->set_perm(6);
    bv1::CreateOrUpdateTopicResponse response;
    grpc::ClientContext context;
    SetDeadline(&context, kCallTimeout);
    grpc::Status status = master_stub_->CreateOrUpdateTopic(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // The slave broker re-reads the topics its store replicated every 10 s.
  void WaitForTopicOnSlaveBroker() {
    ASSERT_TRUE(WaitUntil(
        [&] {
          absl::StatusOr<bv1::PullMessageResponse> pulled = Pull(slave_stub_.get(), 0, 0);
          return pulled.ok();
        },
        absl::Seconds(30)))
        << "the slave broker never learned topic " << kTopic;
  }

  absl::StatusOr<bv1::SendBatchResponse> Send(const std::vector<std::string>& bodies,
                                              int32_t queue_id) {
    bv1::SendBatchRequest request;
    request.set_producer_group("ha-producer");
    request.set_topic(kTopic);
    request.set_queue_id(queue_id);
    request.set_born_timestamp_ms(absl::ToUnixMillis(absl::Now()));
    for (const std::string& body : bodies) {
      common::v1::Message* message = request.add_messages();
      message->set_topic(kTopic);
      message->set_body(body);
      (*message->mutable_properties())["KEYS"] = body.substr(0, body.find('|'));
    }
    bv1::SendBatchResponse response;
    grpc::ClientContext context;
    SetDeadline(&context, kCallTimeout);
    grpc::Status status = master_stub_->SendBatch(&context, request, &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return response;
  }

  static absl::StatusOr<bv1::PullMessageResponse> Pull(bv1::Broker::Stub* stub, int32_t queue_id,
                                                       int64_t offset) {
    bv1::PullMessageRequest request;
    request.set_consumer_group("ha-consumer");
    request.set_topic(kTopic);
    request.set_queue_id(queue_id);
    request.set_queue_offset(offset);
    request.set_max_msg_nums(1024);
    request.set_commit_offset(-1);
    request.set_subscription("*");
    bv1::PullMessageResponse response;
    grpc::ClientContext context;
    SetDeadline(&context, kCallTimeout);
    grpc::Status status = stub->PullMessage(&context, request, &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return response;
  }

  // Every message of a queue, pulled through a broker.
  static std::vector<common::v1::MessageExt> PullAll(bv1::Broker::Stub* stub, int32_t queue_id) {
    std::vector<common::v1::MessageExt> all;
    int64_t offset = 0;
    while (true) {
      absl::StatusOr<bv1::PullMessageResponse> pulled = Pull(stub, queue_id, offset);
      EXPECT_TRUE(pulled.ok()) << pulled.status();
      if (!pulled.ok() || pulled->status() != bv1::FOUND) break;
      for (const common::v1::MessageExt& m : pulled->messages()) all.push_back(m);
      offset = pulled->next_begin_offset();
    }
    return all;
  }

  // Every message of a queue, read straight from a store.
  static std::vector<common::v1::MessageExt> ReadQueue(const std::string& store_address,
                                                       int32_t queue_id) {
    std::unique_ptr<sv1::Store::Stub> stub = sv1::Store::NewStub(CreateChannel(store_address));
    std::vector<common::v1::MessageExt> all;
    int64_t offset = 0;
    while (true) {
      sv1::GetMessagesRequest request;
      request.set_topic(kTopic);
      request.set_queue_id(queue_id);
      request.set_offset(offset);
      request.set_max_count(1024);
      request.set_max_bytes(16 << 20);
      sv1::GetMessagesResponse response;
      grpc::ClientContext context;
      SetDeadline(&context, kCallTimeout);
      grpc::Status status = stub->GetMessages(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok() || response.status() != sv1::FOUND) break;
      for (const common::v1::MessageExt& m : response.messages()) all.push_back(m);
      offset = response.next_begin_offset();
    }
    return all;
  }

  // The slave store holds and has dispatched everything the master has.
  bool SlaveCaughtUp() {
    absl::StatusOr<sv1::GetStatsResponse> master = testing::StoreStats(master_store_->address());
    absl::StatusOr<sv1::GetStatsResponse> slave = testing::StoreStats(slave_store_->address());
    return master.ok() && slave.ok() &&
           slave->max_physical_offset() == master->max_physical_offset() &&
           slave->dispatch_behind_bytes() == 0;
  }

  std::string master_dir_ = testing::MakeTempDir("ha-master");
  std::string slave_dir_ = testing::MakeTempDir("ha-slave");
  std::unique_ptr<testing::ServerProcess> namesrv_;
  std::unique_ptr<testing::ServerProcess> master_store_;
  std::unique_ptr<testing::ServerProcess> slave_store_;
  std::unique_ptr<testing::ServerProcess> master_broker_;
  std::unique_ptr<testing::ServerProcess> slave_broker_;
  std::unique_ptr<bv1::Broker::Stub> master_stub_;
  std::unique_ptr<bv1::Broker::Stub> slave_stub_;
};

TEST_F(ReplicationTest, SlaveHoldsAByteIdenticalCopy) {
  constexpr int kMessages = 50000;
  constexpr int kBatch = 100;
  constexpr int kSenders = 4;
  StartCluster("ASYNC_MASTER");

  std::atomic<int> next_batch{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&] {
      for (int b = next_batch++; b < kMessages / kBatch; b = next_batch++) {
        std::vector<std::string> bodies;
        for (int i = 0; i < kBatch; ++i) {
          int n = b * kBatch + i;
          bodies.push_back(absl::StrFormat("m%d|%s", n, std::string(100 + n % 400, 'a' + n % 26)));
        }
        absl::StatusOr<bv1::SendBatchResponse> sent = Send(bodies, b % kQueues);
        if (!sent.ok() || sent->status() != bv1::SEND_OK) ++failed;
      }
    });
  }
  for (std::thread& t : senders) t.join();
  ASSERT_EQ(failed.load(), 0);

  ASSERT_TRUE(WaitUntil([&] { return SlaveCaughtUp(); }, absl::Seconds(60)));
  absl::StatusOr<sv1::GetStatsResponse> master = testing::StoreStats(master_store_->address());
  ASSERT_TRUE(master.ok());
  ASSERT_GT(master->max_physical_offset(), 3 * kFileSize) << "the log should span files";
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<sv1::GetStatsResponse> stats = testing::StoreStats(master_store_->address());
        return stats.ok() && stats->slaves_size() == 1 &&
               stats->slaves(0).acked_offset() == master->max_physical_offset();
      },
      absl::Seconds(10)));
  EXPECT_EQ(master->slaves(0).broker_id(), 1);
  absl::StatusOr<sv1::GetStatsResponse> slave = testing::StoreStats(slave_store_->address());
  ASSERT_TRUE(slave.ok());
  EXPECT_EQ(slave->role(), sv1::SLAVE);
  EXPECT_TRUE(slave->replication().connected());
  EXPECT_EQ(slave->replication().master_max_offset(), master->max_physical_offset());

  // Equal consume queues, and the slave broker serves them.
  int total = 0;
  for (int q = 0; q < kQueues; ++q) {
    std::vector<common::v1::MessageExt> on_master = ReadQueue(master_store_->address(), q);
    std::vector<common::v1::MessageExt> on_slave = ReadQueue(slave_store_->address(), q);
    ASSERT_EQ(on_slave.size(), on_master.size()) << "queue " << q;
    for (size_t i = 0; i < on_master.size(); ++i) {
      ASSERT_EQ(on_slave[i].queue_offset(), on_master[i].queue_offset());
      ASSERT_EQ(on_slave[i].commit_log_offset(), on_master[i].commit_log_offset());
      ASSERT_EQ(on_slave[i].body(), on_master[i].body());
    }
    std::vector<common::v1::MessageExt> pulled = PullAll(slave_stub_.get(), q);
    ASSERT_EQ(pulled.size(), on_master.size()) << "queue " << q;
    EXPECT_EQ(pulled.back().body(), on_master.back().body());
    total += static_cast<int>(on_master.size());
  }
  EXPECT_EQ(total, kMessages);

  int64_t slave_end = slave->max_physical_offset();
  ASSERT_TRUE(slave_broker_->Stop().ok());
  ASSERT_TRUE(master_broker_->Stop().ok());
  ASSERT_TRUE(slave_store_->Stop().ok());
  ASSERT_TRUE(master_store_->Stop().ok());
  absl::Status same = testing::CompareCommitLogs(master_dir_, slave_dir_, slave_end);
  EXPECT_TRUE(same.ok()) << same;
}

TEST_F(ReplicationTest, SyncMasterWithoutItsSlaveStoresButSaysSo) {
  StartCluster("SYNC_MASTER");
  absl::StatusOr<bv1::SendBatchResponse> sent = Send({"with-slave|x"}, 0);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->status(), bv1::SEND_OK);

  ASSERT_TRUE(slave_store_->Stop().ok());
  slave_store_.reset();
  // Stored each time; the status says no slave has it.
  int sent_without = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<bv1::SendBatchResponse> r =
            Send({absl::StrCat("without-slave-", sent_without++, "|x")}, 0);
        return r.ok() &&
               (r->status() == bv1::SLAVE_NOT_AVAILABLE || r->status() == bv1::FLUSH_SLAVE_TIMEOUT);
      },
      absl::Seconds(20)));
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<bv1::SendBatchResponse> r =
        Send({absl::StrCat("without-slave-", sent_without++, "|", std::string(5000, 'w'))}, i % 4);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status(), bv1::SLAVE_NOT_AVAILABLE);
  }

  StartSlaveStore(master_store_->address());
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<bv1::SendBatchResponse> r = Send({"slave-back|x"}, 0);
        return r.ok() && r->status() == bv1::SEND_OK;
      },
      absl::Seconds(30)));
  ASSERT_TRUE(WaitUntil([&] { return SlaveCaughtUp(); }, absl::Seconds(30)));
  // Everything stored meanwhile reached the slave.
  for (int q = 0; q < kQueues; ++q) {
    EXPECT_EQ(ReadQueue(slave_store_->address(), q).size(),
              ReadQueue(master_store_->address(), q).size());
  }
}

TEST_F(ReplicationTest, KillNineOfTheSyncMasterLosesNoAcknowledgedMessage) {
  // The name server drops a broker silent for 15 s (the brokers register
  // every 10 s).
  StartCluster("SYNC_MASTER", {"--broker_expiry=15s", "--scan_interval=500ms"});
  constexpr int kSenders = 4;
  struct Acked {
    int32_t queue_id;
    int64_t queue_offset;
  };
  absl::Mutex mu;
  std::map<std::string, Acked> acked;

  // A push consumer that follows the route closely: it reads from the master,
  // and after the master dies, from the slave, without being restarted.
  absl::Mutex consumed_mu;
  std::set<std::string> consumed;
  PushConsumerOptions push_options;
  push_options.client.name_server_addresses = {namesrv_->address()};
  push_options.client.poll_name_server_interval = absl::Seconds(1);
  push_options.consume_from_where = ConsumeFromWhere::kFirstOffset;
  push_options.rebalance_interval = absl::Seconds(1);
  push_options.pull_delay_on_error = absl::Milliseconds(500);
  PushConsumer push("ha-push-consumer", push_options);
  ASSERT_TRUE(push.Subscribe(kTopic, "*").ok());
  push.RegisterMessageListener([&](const std::vector<MessageExt>& messages) {
    // Work that takes a while, so a backlog is left for the slave to serve.
    absl::SleepFor(absl::Milliseconds(2));
    absl::MutexLock lock(&consumed_mu);
    for (const MessageExt& m : messages) consumed.insert(m.message.body());
    return ConsumeStatus::kConsumeSuccess;
  });
  ASSERT_TRUE(push.Start().ok());

  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      for (int seq = 0; !stop.load(); ++seq) {
        std::vector<std::string> bodies;
        for (int i = 0; i < 10; ++i) {
          bodies.push_back(absl::StrFormat("s%d-q%d-m%d|%s", s, seq, i, std::string(300, 'k')));
        }
        absl::StatusOr<bv1::SendBatchResponse> r = Send(bodies, s);
        if (!r.ok()) return;  // the master is gone
        if (r->status() != bv1::SEND_OK) continue;
        absl::MutexLock lock(&mu);
        for (int i = 0; i < 10; ++i) acked[bodies[i]] = Acked{s, r->queue_offset() + i};
      }
    });
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::MutexLock lock(&mu);
        return acked.size() >= 20000;
      },
      absl::Seconds(60)));
  master_store_->Kill();
  master_broker_->Kill();
  stop = true;
  for (std::thread& t : senders) t.join();
  size_t consumed_before_kill = 0;
  {
    absl::MutexLock lock(&consumed_mu);
    consumed_before_kill = consumed.size();
  }

  // The slave dispatches what it received in the background: read once it is done.
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<sv1::GetStatsResponse> slave = testing::StoreStats(slave_store_->address());
        return slave.ok() && slave->dispatch_behind_bytes() == 0;
      },
      absl::Seconds(30)));
  std::map<std::string, common::v1::MessageExt> on_slave;
  for (int q = 0; q < kQueues; ++q) {
    for (common::v1::MessageExt& m : PullAll(slave_stub_.get(), q)) {
      on_slave[m.body()] = std::move(m);
    }
  }
  absl::MutexLock lock(&mu);
  std::cerr << acked.size() << " messages acknowledged SEND_OK before kill -9; " << on_slave.size()
            << " on the slave\n";
  for (const auto& [body, where] : acked) {
    auto it = on_slave.find(body);
    ASSERT_NE(it, on_slave.end()) << "acknowledged message lost: " << body.substr(0, 20);
    EXPECT_EQ(it->second.queue_id(), where.queue_id);
    EXPECT_EQ(it->second.queue_offset(), where.queue_offset);
  }

  // A C++ client reads from the slave once the name server dropped the master.
  PullConsumerOptions options;
  options.client.name_server_addresses = {namesrv_->address()};
  PullConsumer consumer("ha-client-consumer", options);
  ASSERT_TRUE(consumer.Start().ok());
  std::vector<MessageQueue> queues;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::StatusOr<std::vector<MessageQueue>> fetched = consumer.FetchSubscribeQueues(kTopic);
        if (!fetched.ok() || fetched->empty()) return false;
        queues = *fetched;
        absl::StatusOr<PullResult> pulled = consumer.Pull(queues[0], "*", 0, 32);
        return pulled.ok() && pulled->status == PullStatus::kFound;
      },
      absl::Seconds(40)))
      << "the client could not pull from the slave";
  int64_t pulled_total = 0;
  for (const MessageQueue& queue : queues) {
    int64_t offset = 0;
    while (true) {
      absl::StatusOr<PullResult> pulled = consumer.Pull(queue, "*", offset, 1024);
      ASSERT_TRUE(pulled.ok()) << pulled.status();
      if (pulled->status != PullStatus::kFound) break;
      pulled_total += static_cast<int64_t>(pulled->messages.size());
      offset = pulled->next_begin_offset;
    }
  }
  EXPECT_EQ(pulled_total, static_cast<int64_t>(on_slave.size()));
  consumer.Shutdown();

  // The push consumer went on from the slave: it has every acknowledged message.
  bool all_consumed = WaitUntil(
      [&] {
        absl::MutexLock lock(&consumed_mu);
        for (const auto& [body, where] : acked) {
          if (consumed.count(body) == 0) return false;
        }
        return true;
      },
      absl::Seconds(60));
  {
    absl::MutexLock lock(&consumed_mu);
    std::cerr << "push consumer: " << consumed_before_kill << " consumed before kill -9, "
              << consumed.size() << " in the end\n";
    EXPECT_TRUE(all_consumed) << consumed.size() << " of " << acked.size() << " consumed";
    EXPECT_GT(consumed.size(), consumed_before_kill);
  }
  push.Shutdown();
}

TEST_F(ReplicationTest, SlaveWithADivergedLogIsRefusedAndUntouched) {
  // The slave's data directory holds the log of another master.
  {
    auto other = testing::StartStore("store-other", slave_dir_, kFileSize, {});
    ASSERT_TRUE(other.ok()) << other.status();
    std::unique_ptr<sv1::Store::Stub> stub =
        sv1::Store::NewStub(CreateChannel((*other)->address()));
    for (int i = 0; i < 50; ++i) {
      sv1::AppendBatchRequest request;
      for (int j = 0; j < 20; ++j) {
        sv1::AppendEntry* entry = request.add_entries();
        entry->mutable_message()->set_topic(kTopic);
        entry->mutable_message()->set_body(absl::StrCat("other-", i, "-", j));
        entry->set_store_host("127.0.0.1:10911");
      }
      sv1::AppendBatchResponse response;
      grpc::ClientContext context;
      SetDeadline(&context, kCallTimeout);
      ASSERT_TRUE(stub->AppendBatch(&context, request, &response).ok());
    }
    ASSERT_TRUE((*other)->Stop().ok());
  }
  std::string before_dir = testing::MakeTempDir("ha-before");
  std::filesystem::copy(slave_dir_ + "/commitlog", before_dir + "/commitlog");

  StartNamesrv();
  StartMasterStore("ASYNC_MASTER");
  StartMasterBroker("ASYNC_MASTER");
  CreateTopic();
  // A longer log than the slave's, so the slave's end falls inside it.
  for (int i = 0; i < 40; ++i) {
    std::vector<std::string> bodies;
    for (int j = 0; j < 10; ++j)
      bodies.push_back(absl::StrCat("master-", i, "-", j, "|", std::string(500, 'm')));
    absl::StatusOr<bv1::SendBatchResponse> r = Send(bodies, i % kQueues);
    ASSERT_TRUE(r.ok() && r->status() == bv1::SEND_OK);
  }
  StartSlaveStore(master_store_->address());
  absl::StatusOr<sv1::GetStatsResponse> slave;
  ASSERT_TRUE(WaitUntil(
      [&] {
        slave = testing::StoreStats(slave_store_->address());
        return slave.ok() && slave->replication().stopped();
      },
      absl::Seconds(20)));
  EXPECT_NE(slave->replication().last_error().find("FAILED_PRECONDITION"), std::string::npos)
      << slave->replication().last_error();
  EXPECT_NE(slave->replication().last_error().find("slave log diverges from master at offset"),
            std::string::npos)
      << slave->replication().last_error();
  absl::StatusOr<sv1::GetStatsResponse> master = testing::StoreStats(master_store_->address());
  EXPECT_EQ(master->slaves_size(), 0);
  int64_t slave_end = slave->max_physical_offset();
  ASSERT_TRUE(slave_store_->Stop().ok());
  absl::Status unchanged = testing::CompareCommitLogs(before_dir, slave_dir_, slave_end);
  EXPECT_TRUE(unchanged.ok()) << unchanged;
}

TEST_F(ReplicationTest, StandaloneServerIsAMasterForASlaveStore) {
  std::string standalone_dir = testing::MakeTempDir("ha-standalone");
  auto standalone = testing::ServerProcess::Start(
      "standalone", testing::RunfilePath("services/standalone/standalone"),
      {"--port=0", "--listen_address=127.0.0.1", absl::StrCat("--data_dir=", standalone_dir),
       absl::StrCat("--commit_log_file_size=", kFileSize), "--broker_name=broker-a",
       "--consume_queue_units_per_file=20000", "--index_slot_count=20000",
       "--index_max_entries=200000", "--max_message_size=65536", "--shutdown_grace=1s"});
  ASSERT_TRUE(standalone.ok()) << standalone.status();
  // The standalone server is the broker, and its store serves Replicate.
  master_stub_ = bv1::Broker::NewStub(CreateChannel((*standalone)->address()));
  CreateTopic();
  for (int i = 0; i < 50; ++i) {
    std::vector<std::string> bodies;
    for (int j = 0; j < 20; ++j) bodies.push_back(absl::StrCat("standalone-", i, "-", j, "|x"));
    absl::StatusOr<bv1::SendBatchResponse> r = Send(bodies, i % kQueues);
    ASSERT_TRUE(r.ok() && r->status() == bv1::SEND_OK);
  }
  StartSlaveStore((*standalone)->address());
  absl::StatusOr<sv1::GetStatsResponse> master;
  ASSERT_TRUE(WaitUntil(
      [&] {
        master = testing::StoreStats((*standalone)->address());
        absl::StatusOr<sv1::GetStatsResponse> slave = testing::StoreStats(slave_store_->address());
        return master.ok() && slave.ok() && master->slaves_size() == 1 &&
               slave->max_physical_offset() == master->max_physical_offset() &&
               slave->dispatch_behind_bytes() == 0;
      },
      absl::Seconds(30)));
  size_t total = 0;
  for (int q = 0; q < kQueues; ++q) {
    size_t on_slave = ReadQueue(slave_store_->address(), q).size();
    EXPECT_EQ(on_slave, ReadQueue((*standalone)->address(), q).size()) << "queue " << q;
    total += on_slave;
  }
  EXPECT_EQ(total, 1000u);
  int64_t end = master->max_physical_offset();
  ASSERT_TRUE(slave_store_->Stop().ok());
  ASSERT_TRUE((*standalone)->Stop().ok());
  absl::Status same = testing::CompareCommitLogs(standalone_dir, slave_dir_, end);
  EXPECT_TRUE(same.ok()) << same;
}

}  // namespace
}  // namespace mq
