// Master-to-slave replication between two stores in one process, over a real
// gRPC stream on loopback: catch-up, live following, metadata, SYNC_MASTER
// acks, and the refusals (divergence, wrong group).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_options.h"
#include "common/testing/fake_clock.h"
#include "common/units.h"
#include "services/store/grpc_store.h"
#include "services/store/message_store.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq::store {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kFileSize = 256_KiB;

v1::AppendEntry Entry(const std::string& topic, int32_t queue_id, const std::string& body) {
  v1::AppendEntry entry;
  entry.mutable_message()->set_topic(topic);
  entry.mutable_message()->set_body(body);
  (*entry.mutable_message()->mutable_properties())["TAGS"] = "TagA";
  (*entry.mutable_message()->mutable_properties())["KEYS"] = body.substr(0, 16);
  entry.set_queue_id(queue_id);
  entry.set_born_timestamp_ms(1700000000000);
  entry.set_born_host("10.0.0.9:5555");
  entry.set_store_host("127.0.0.1:10911");
  return entry;
}

// A master store served over gRPC on a loopback port.
struct Master {
  std::string dir;
  std::unique_ptr<MessageStore> store;
  std::unique_ptr<StoreService> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  std::string address() const { return absl::StrCat("127.0.0.1:", port); }

  ~Master() { Close(); }

  void Close() {
    if (store == nullptr) return;
    store->StopReplication();
    server->Shutdown();
    server.reset();
    EXPECT_TRUE(store->Shutdown().ok());
    store.reset();
  }
};

class HaTest : public ::testing::Test {
 protected:
  MessageStoreOptions Options(const std::string& dir, v1::BrokerRole role) {
    MessageStoreOptions options;
    options.root_dir = dir;
    options.role = role;
    options.commit_log_file_size = kFileSize;
    options.max_message_body_bytes = 64_KiB;
    options.consume_queue_units_per_file = 1000;
    options.index_slot_count = 1000;
    options.index_max_entries = 4000;
    options.clean_initial_delay = absl::Hours(1);
    options.clock = &clock_;
    options.disk_used_ratio = [](const std::string&) -> absl::StatusOr<double> { return 0.5; };
    options.replication.broker_name = "broker-a";
    options.replication.transfer_batch_bytes = 32_KiB;
    options.replication.heartbeat_interval = absl::Milliseconds(200);
    options.replication.reconnect_backoff_min = absl::Milliseconds(50);
    options.replication.reconnect_backoff_max = absl::Milliseconds(200);
    options.replication.ack.slave_timeout = absl::Milliseconds(500);
    if (role == v1::SLAVE) options.replication.broker_id = 1;
    return options;
  }

  std::unique_ptr<Master> StartMaster(v1::BrokerRole role = v1::ASYNC_MASTER,
                                      std::string dir = "") {
    auto master = std::make_unique<Master>();
    master->dir = dir.empty() ? testing::MakeTempDir() : dir;
    absl::StatusOr<std::unique_ptr<MessageStore>> store =
        MessageStore::Open(Options(master->dir, role));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    master->store = *std::move(store);
    master->service =
        std::make_unique<StoreService>(master->store.get(), master->store->ha_master());
    grpc::ServerBuilder builder;
    ConfigureServerBuilder(&builder);
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &master->port);
    builder.RegisterService(master->service.get());
    master->server = builder.BuildAndStart();
    EXPECT_NE(master->server, nullptr);
    return master;
  }

  std::unique_ptr<MessageStore> StartSlave(const std::string& dir, const std::string& master,
                                           const std::string& broker_name = "broker-a") {
    MessageStoreOptions options = Options(dir, v1::SLAVE);
    options.replication.master_address = master;
    options.replication.broker_name = broker_name;
    absl::StatusOr<std::unique_ptr<MessageStore>> store = MessageStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  static v1::AppendBatchResponse Append(MessageStore* store, std::vector<v1::AppendEntry> entries) {
    v1::AppendBatchRequest request;
    request.set_wait_store_ok(true);
    for (v1::AppendEntry& entry : entries) *request.add_entries() = std::move(entry);
    absl::StatusOr<v1::AppendBatchResponse> response = store->AppendBatch(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::AppendBatchResponse();
  }

  // Appends `count` messages spread over topics T0..T2 and queues 0..3.
  static void AppendMany(MessageStore* store, int count, int body_bytes, int first = 0) {
    for (int i = first; i < first + count; i += 10) {
      std::vector<v1::AppendEntry> batch;
      for (int j = i; j < std::min(i + 10, first + count); ++j) {
        std::string body = absl::StrCat("message-", j, "-");
        body.resize(body_bytes, 'x');
        batch.push_back(Entry(absl::StrCat("T", j % 3), j % 4, body));
      }
      Append(store, batch);
    }
  }

  // Read by store threads, set by the test.
  FakeClock clock_{absl::Now()};

  // Both logs are equal and both stores indexed all of it (the master's
  // dispatcher may lag behind its own appends, too).
  static bool CaughtUp(MessageStore* slave, MessageStore* master) {
    return slave->max_physical_offset() == master->max_physical_offset() &&
           slave->dispatched_offset() >= slave->max_physical_offset() &&
           master->dispatched_offset() >= master->max_physical_offset();
  }

  // Every queue of T0..T2 reads the same on both stores.
  static void ExpectSameQueues(MessageStore* slave, MessageStore* master) {
    for (int t = 0; t < 3; ++t) {
      for (int q = 0; q < 4; ++q) {
        v1::GetMessagesRequest request;
        request.set_topic(absl::StrCat("T", t));
        request.set_queue_id(q);
        request.set_max_count(1024);
        int64_t offset = 0;
        while (true) {
          request.set_offset(offset);
          absl::StatusOr<v1::GetMessagesResponse> want = master->GetMessages(request);
          absl::StatusOr<v1::GetMessagesResponse> got = slave->GetMessages(request);
          ASSERT_TRUE(want.ok() && got.ok());
          ASSERT_EQ(got->status(), want->status()) << "T" << t << "/" << q << "@" << offset;
          ASSERT_EQ(got->max_offset(), want->max_offset());
          ASSERT_EQ(got->messages_size(), want->messages_size());
          for (int i = 0; i < want->messages_size(); ++i) {
            EXPECT_EQ(got->messages(i).body(), want->messages(i).body());
            EXPECT_EQ(got->messages(i).commit_log_offset(), want->messages(i).commit_log_offset());
            EXPECT_EQ(got->messages(i).store_timestamp_ms(),
                      want->messages(i).store_timestamp_ms());
          }
          if (want->status() != v1::FOUND) break;
          offset = want->next_begin_offset();
        }
      }
    }
  }

  static std::string FileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  }

  // The commit-log files of a data directory, name -> bytes.
  static std::map<std::string, std::string> CommitLogFiles(const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir + "/commitlog")) {
      files[entry.path().filename().string()] = FileBytes(entry.path().string());
    }
    return files;
  }

  static void PutMetadata(MessageStore* store, const std::string& key, const std::string& value,
                          bool deleted = false) {
    v1::PutMetadataRequest request;
    v1::MetadataEntry* entry = request.add_entries();
    entry->set_key(key);
    entry->set_value(value);
    entry->set_deleted(deleted);
    ASSERT_TRUE(store->PutMetadata(request).ok());
  }

  static absl::optional<std::string> GetMetadata(MessageStore* store, const std::string& key) {
    v1::GetMetadataRequest request;
    request.set_key(key);
    absl::StatusOr<v1::GetMetadataResponse> response = store->GetMetadata(request);
    if (!response.ok() || !response->found()) return absl::nullopt;
    return response->value();
  }
};

TEST_F(HaTest, EmptySlaveCatchesUpThenFollows) {
  std::unique_ptr<Master> master = StartMaster();
  AppendMany(master->store.get(), 3000, 300);
  ASSERT_GT(master->store->max_physical_offset(), 3 * kFileSize);
  PutMetadata(master->store.get(), "topic/T0", "config-0");
  PutMetadata(master->store.get(), "topic/T1", "config-1");

  std::string slave_dir = testing::MakeTempDir();
  std::unique_ptr<MessageStore> slave = StartSlave(slave_dir, master->address());
  ASSERT_TRUE(testing::WaitUntil([&] { return CaughtUp(slave.get(), master->store.get()); },
                                 absl::Seconds(30)));
  ExpectSameQueues(slave.get(), master->store.get());
  EXPECT_EQ(GetMetadata(slave.get(), "topic/T0"), "config-0");
  EXPECT_EQ(GetMetadata(slave.get(), "topic/T1"), "config-1");

  // The master sees the slave and its progress.
  ASSERT_TRUE(testing::WaitUntil([&] {
    absl::StatusOr<v1::GetStatsResponse> stats = master->store->GetStats();
    return stats->slaves_size() == 1 &&
           stats->slaves(0).acked_offset() == master->store->max_physical_offset();
  }));
  EXPECT_EQ(master->store->GetStats()->slaves(0).broker_id(), 1);
  absl::StatusOr<v1::GetStatsResponse> slave_stats = slave->GetStats();
  EXPECT_EQ(slave_stats->role(), v1::SLAVE);
  EXPECT_TRUE(slave_stats->replication().connected());
  EXPECT_EQ(slave_stats->replication().master_address(), master->address());

  // Live: new messages and metadata changes follow.
  AppendMany(master->store.get(), 500, 300, 3000);
  PutMetadata(master->store.get(), "topic/T1", "config-1b");
  PutMetadata(master->store.get(), "topic/T0", "", /*deleted=*/true);
  ASSERT_TRUE(testing::WaitUntil([&] { return CaughtUp(slave.get(), master->store.get()); }));
  ASSERT_TRUE(
      testing::WaitUntil([&] { return GetMetadata(slave.get(), "topic/T1") == "config-1b"; }));
  ASSERT_TRUE(
      testing::WaitUntil([&] { return !GetMetadata(slave.get(), "topic/T0").has_value(); }));
  ExpectSameQueues(slave.get(), master->store.get());
  // Slaves refuse writes.
  EXPECT_EQ(Append(slave.get(), {Entry("T0", 0, "no")}).results(0).status(),
            v1::SERVICE_NOT_AVAILABLE);

  ASSERT_TRUE(slave->Shutdown().ok());
  slave.reset();
  master->Close();
  // Byte-identical logs.
  EXPECT_EQ(CommitLogFiles(slave_dir), CommitLogFiles(master->dir));
}

TEST_F(HaTest, EmptySlaveCopiesFromTheMastersFirstKeptFile) {
  std::unique_ptr<Master> master = StartMaster();
  AppendMany(master->store.get(), 3000, 300);
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return master->store->dispatched_offset() >= master->store->max_physical_offset(); }));
  // Retention ten days on at the delete hour: every file but the newest goes.
  clock_.Set(absl::FromCivil(absl::CivilSecond(2036, 1, 10, 4, 0, 0), absl::LocalTimeZone()));
  master->store->RunRetention();
  int64_t min = master->store->GetStats()->min_physical_offset();
  ASSERT_GT(min, 0);

  std::unique_ptr<MessageStore> slave = StartSlave(testing::MakeTempDir(), master->address());
  ASSERT_TRUE(testing::WaitUntil([&] { return CaughtUp(slave.get(), master->store.get()); }));
  EXPECT_EQ(slave->GetStats()->min_physical_offset(), min);
  for (int t = 0; t < 3; ++t) {
    for (int q = 0; q < 4; ++q) {
      v1::GetQueueOffsetsRequest request;
      request.set_topic(absl::StrCat("T", t));
      request.set_queue_id(q);
      absl::StatusOr<v1::GetQueueOffsetsResponse> want = master->store->GetQueueOffsets(request);
      absl::StatusOr<v1::GetQueueOffsetsResponse> got = slave->GetQueueOffsets(request);
      ASSERT_TRUE(want.ok() && got.ok());
      EXPECT_EQ(got->max_offset(), want->max_offset());
      EXPECT_EQ(got->last_store_timestamp_ms(), want->last_store_timestamp_ms());
      // The slave's queues start past 0 too, at the first message it holds.
      v1::GetMessagesRequest read;
      read.set_topic(request.topic());
      read.set_queue_id(q);
      read.set_offset(got->min_offset());
      read.set_max_count(1);
      absl::StatusOr<v1::GetMessagesResponse> first = slave->GetMessages(read);
      ASSERT_TRUE(first.ok());
      ASSERT_EQ(first->status(), v1::FOUND);
      EXPECT_GE(first->messages(0).commit_log_offset(), min);
    }
  }
}

TEST_F(HaTest, RestartedSlaveResumesFromItsEndAndGetsMissedMetadata) {
  std::unique_ptr<Master> master = StartMaster();
  AppendMany(master->store.get(), 1000, 200);
  std::string slave_dir = testing::MakeTempDir();
  std::unique_ptr<MessageStore> slave = StartSlave(slave_dir, master->address());
  ASSERT_TRUE(testing::WaitUntil([&] { return CaughtUp(slave.get(), master->store.get()); }));
  PutMetadata(master->store.get(), "gone", "soon");
  ASSERT_TRUE(testing::WaitUntil([&] { return GetMetadata(slave.get(), "gone").has_value(); }));
  ASSERT_TRUE(slave->Shutdown().ok());
  slave.reset();

  // While the slave is down: more messages, a key removed, a key added.
  AppendMany(master->store.get(), 1000, 200, 1000);
  PutMetadata(master->store.get(), "gone", "", /*deleted=*/true);
  PutMetadata(master->store.get(), "new", "value");
  slave = StartSlave(slave_dir, master->address());
  ASSERT_TRUE(testing::WaitUntil([&] { return CaughtUp(slave.get(), master->store.get()); }));
  ExpectSameQueues(slave.get(), master->store.get());
  ASSERT_TRUE(testing::WaitUntil([&] { return GetMetadata(slave.get(), "new") == "value"; }));
  EXPECT_FALSE(GetMetadata(slave.get(), "gone").has_value());
  ASSERT_TRUE(slave->Shutdown().ok());
  slave.reset();
  master->Close();
  EXPECT_EQ(CommitLogFiles(slave_dir), CommitLogFiles(master->dir));
}

TEST_F(HaTest, SyncMasterWaitsForTheSlavesAck) {
  std::unique_ptr<Master> master = StartMaster(v1::SYNC_MASTER);
  // No slave: stored, but SLAVE_NOT_AVAILABLE at once.
  absl::Time start = absl::Now();
  v1::AppendBatchResponse alone = Append(master->store.get(), {Entry("T0", 0, "alone")});
  EXPECT_EQ(alone.results(0).status(), v1::SLAVE_NOT_AVAILABLE);
  EXPECT_THAT(alone.results(0).error(), HasSubstr("no slave"));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(400));
  EXPECT_GT(alone.results(0).size(), 0);

  std::string slave_dir = testing::MakeTempDir();
  std::unique_ptr<MessageStore> slave = StartSlave(slave_dir, master->address());
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return master->store->ha_master()->acks().connected_slaves() == 1; }));
  for (int i = 0; i < 20; ++i) {
    v1::AppendBatchResponse response =
        Append(master->store.get(), {Entry("T0", 0, absl::StrCat("synced-", i))});
    ASSERT_EQ(response.results(0).status(), v1::PUT_OK) << response.results(0).error();
    // Acknowledged means on the slave.
    EXPECT_GE(slave->max_physical_offset(),
              response.results(0).physical_offset() + response.results(0).size());
  }
  // Without wait_store_ok, no wait and no slave status.
  v1::AppendBatchRequest no_wait;
  *no_wait.add_entries() = Entry("T0", 0, "no-wait");
  EXPECT_EQ(master->store->AppendBatch(no_wait)->results(0).status(), v1::PUT_OK);

  ASSERT_TRUE(slave->Shutdown().ok());
  slave.reset();
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return master->store->ha_master()->acks().connected_slaves() == 0; }));
  v1::AppendBatchResponse gone = Append(master->store.get(), {Entry("T0", 0, "gone")});
  EXPECT_EQ(gone.results(0).status(), v1::SLAVE_NOT_AVAILABLE);

  // Back: catches up, then acks again.
  slave = StartSlave(slave_dir, master->address());
  ASSERT_TRUE(testing::WaitUntil([&] { return CaughtUp(slave.get(), master->store.get()); }));
  EXPECT_EQ(Append(master->store.get(), {Entry("T0", 0, "again")}).results(0).status(), v1::PUT_OK);
}

TEST_F(HaTest, SyncMasterTimesOutWhenTheSlaveDoesNotAck) {
  std::unique_ptr<Master> master = StartMaster(v1::SYNC_MASTER);
  // A fake slave: says hello, then never acks.
  std::unique_ptr<v1::Store::Stub> stub = v1::Store::NewStub(CreateChannel(master->address()));
  grpc::ClientContext context;
  auto stream = stub->Replicate(&context);
  v1::ReplicaMessage hello;
  hello.mutable_hello()->set_broker_name("broker-a");
  hello.mutable_hello()->set_broker_id(1);
  hello.mutable_hello()->set_commit_log_file_size(kFileSize);
  ASSERT_TRUE(stream->Write(hello));
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return master->store->ha_master()->acks().connected_slaves() == 1; }));
  v1::AppendBatchResponse response = Append(master->store.get(), {Entry("T0", 0, "unacked")});
  EXPECT_EQ(response.results(0).status(), v1::FLUSH_SLAVE_TIMEOUT);
  EXPECT_THAT(response.results(0).error(), HasSubstr("flush slave timeout"));
  // Stored anyway.
  EXPECT_GT(master->store->max_physical_offset(), 0);
  context.TryCancel();
  stream->Finish();
}

TEST_F(HaTest, SlaveAckingBytesNeverSentIsDropped) {
  std::unique_ptr<Master> master = StartMaster(v1::SYNC_MASTER);
  AppendMany(master->store.get(), 10, 200);
  std::unique_ptr<v1::Store::Stub> stub = v1::Store::NewStub(CreateChannel(master->address()));
  grpc::ClientContext context;
  auto stream = stub->Replicate(&context);
  v1::ReplicaMessage hello;
  hello.mutable_hello()->set_broker_name("broker-a");
  hello.mutable_hello()->set_broker_id(1);
  hello.mutable_hello()->set_commit_log_file_size(kFileSize);
  ASSERT_TRUE(stream->Write(hello));
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return master->store->ha_master()->acks().connected_slaves() == 1; }));
  v1::ReplicaMessage ack;
  ack.mutable_ack()->set_acked_offset(int64_t{1} << 40);
  ASSERT_TRUE(stream->Write(ack));
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return master->store->ha_master()->acks().connected_slaves() == 0; }));
  EXPECT_LT(master->store->ha_master()->acks().acked_offset(), int64_t{1} << 40);
  EXPECT_EQ(Append(master->store.get(), {Entry("T0", 0, "unreplicated")}).results(0).status(),
            v1::SLAVE_NOT_AVAILABLE);
  context.TryCancel();
  stream->Finish();
}

TEST_F(HaTest, SlaveWithADivergedLogIsRefusedAndKeepsItsData) {
  // The slave's log comes from another master.
  std::unique_ptr<Master> other = StartMaster();
  AppendMany(other->store.get(), 500, 200);
  std::string slave_dir = testing::MakeTempDir();
  std::unique_ptr<MessageStore> slave = StartSlave(slave_dir, other->address());
  ASSERT_TRUE(testing::WaitUntil([&] { return CaughtUp(slave.get(), other->store.get()); }));
  ASSERT_TRUE(slave->Shutdown().ok());
  slave.reset();
  other->Close();
  std::map<std::string, std::string> before = CommitLogFiles(slave_dir);

  std::unique_ptr<Master> master = StartMaster();
  AppendMany(master->store.get(), 1000, 200);
  slave = StartSlave(slave_dir, master->address());
  ASSERT_TRUE(testing::WaitUntil([&] { return slave->GetStats()->replication().stopped(); }));
  v1::ReplicationStatus status = slave->GetStats()->replication();
  EXPECT_THAT(status.last_error(), HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(status.last_error(), HasSubstr("slave log diverges from master at offset"));
  EXPECT_FALSE(status.connected());
  EXPECT_EQ(master->store->GetStats()->slaves_size(), 0);
  ASSERT_TRUE(slave->Shutdown().ok());
  slave.reset();
  EXPECT_EQ(CommitLogFiles(slave_dir), before);
}

TEST_F(HaTest, SlaveLongerThanTheMasterIsRefused) {
  std::unique_ptr<Master> master = StartMaster();
  AppendMany(master->store.get(), 500, 200);
  std::string slave_dir = testing::MakeTempDir();
  std::unique_ptr<MessageStore> slave = StartSlave(slave_dir, master->address());
  ASSERT_TRUE(testing::WaitUntil([&] { return CaughtUp(slave.get(), master->store.get()); }));
  ASSERT_TRUE(slave->Shutdown().ok());
  slave.reset();
  // The master loses its data and starts over with less.
  std::string master_dir = master->dir;
  master->Close();
  std::filesystem::remove_all(master_dir);
  master = StartMaster(v1::ASYNC_MASTER, master_dir);
  AppendMany(master->store.get(), 10, 200);

  slave = StartSlave(slave_dir, master->address());
  ASSERT_TRUE(testing::WaitUntil([&] { return slave->GetStats()->replication().stopped(); }));
  EXPECT_THAT(slave->GetStats()->replication().last_error(), HasSubstr("past the master's end"));
}

TEST_F(HaTest, SlaveOfAnotherGroupIsRefused) {
  std::unique_ptr<Master> master = StartMaster();
  AppendMany(master->store.get(), 10, 200);
  std::unique_ptr<MessageStore> slave =
      StartSlave(testing::MakeTempDir(), master->address(), "broker-b");
  ASSERT_TRUE(
      testing::WaitUntil([&] { return !slave->GetStats()->replication().last_error().empty(); }));
  v1::ReplicationStatus status = slave->GetStats()->replication();
  EXPECT_THAT(status.last_error(), HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(status.last_error(), HasSubstr("broker-b"));
  // Not a divergence: it keeps trying, in case the master is reconfigured.
  EXPECT_FALSE(status.stopped());
  EXPECT_EQ(slave->max_physical_offset(), 0);
}

TEST_F(HaTest, SlaveReconnectsWhenTheMasterComesBack) {
  std::unique_ptr<Master> master = StartMaster();
  AppendMany(master->store.get(), 300, 200);
  std::string master_dir = master->dir;
  std::unique_ptr<MessageStore> slave = StartSlave(testing::MakeTempDir(), master->address());
  ASSERT_TRUE(testing::WaitUntil([&] { return CaughtUp(slave.get(), master->store.get()); }));
  int port = master->port;
  master->Close();
  ASSERT_TRUE(testing::WaitUntil([&] { return !slave->GetStats()->replication().connected(); }));

  // The same master, on the same port, with more data.
  master = std::make_unique<Master>();
  master->dir = master_dir;
  absl::StatusOr<std::unique_ptr<MessageStore>> reopened =
      MessageStore::Open(Options(master_dir, v1::ASYNC_MASTER));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  master->store = *std::move(reopened);
  AppendMany(master->store.get(), 300, 200, 300);
  master->service = std::make_unique<StoreService>(master->store.get(), master->store->ha_master());
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(&builder);
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                           &master->port);
  builder.RegisterService(master->service.get());
  master->server = builder.BuildAndStart();
  ASSERT_NE(master->server, nullptr);
  ASSERT_TRUE(testing::WaitUntil([&] { return CaughtUp(slave.get(), master->store.get()); },
                                 absl::Seconds(30)));
  ExpectSameQueues(slave.get(), master->store.get());
}

}  // namespace
}  // namespace mq::store
