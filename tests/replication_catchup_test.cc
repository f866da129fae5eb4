// A slave store started empty catches up a large master log: the whole log
// from the master's first file, byte-identical, with the same consume queues.
// The log size is MQ_HA_CATCHUP_MIB (default 256 MiB; the 1 GiB runs
// by hand: `MQ_HA_CATCHUP_MIB=1024 bazel test //tests:replication_catchup_test
// --test_env=MQ_HA_CATCHUP_MIB --test_output=all`). Prints the time taken.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/grpc_options.h"
#include "proto/store.grpc.pb.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

namespace mq {
namespace {

namespace sv1 = store::v1;

constexpr int64_t kFileSize = 64 << 20;
constexpr int kQueues = 8;
constexpr int kBodyBytes = 4000;
constexpr int kBatch = 200;

int64_t LogBytes() {
  int64_t mib = 256;
  const char* env = std::getenv("MQ_HA_CATCHUP_MIB");
  if (env != nullptr && !absl::SimpleAtoi(env, &mib)) mib = 256;
  return mib << 20;
}

TEST(ReplicationCatchUpTest, EmptySlaveCatchesUpALargeLog) {
  const int64_t target = LogBytes();
  std::string master_dir = testing::MakeTempDir("catchup-master");
  std::string slave_dir = testing::MakeTempDir("catchup-slave");
  auto master = testing::StartStore("store-m", master_dir, kFileSize, {});
  ASSERT_TRUE(master.ok()) << master.status();
  const std::string master_address = (*master)->address();

  // Fill the master straight through its store API.
  absl::Time fill_start = absl::Now();
  std::atomic<int64_t> written{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      std::unique_ptr<sv1::Store::Stub> stub = sv1::Store::NewStub(CreateChannel(master_address));
      for (int seq = 0; written.load() < target && !failed.load(); ++seq) {
        sv1::AppendBatchRequest request;
        for (int i = 0; i < kBatch; ++i) {
          sv1::AppendEntry* entry = request.add_entries();
          std::string key = absl::StrFormat("w%d-%d-%d", w, seq, i);
          entry->mutable_message()->set_topic("CatchUpTopic");
          entry->mutable_message()->set_body(key + std::string(kBodyBytes - key.size(), 'c'));
          (*entry->mutable_message()->mutable_properties())["KEYS"] = key;
          entry->set_queue_id((seq * kBatch + i) % kQueues);
          entry->set_store_host("127.0.0.1:10911");
        }
        sv1::AppendBatchResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        grpc::Status status = stub->AppendBatch(&context, request, &response);
        if (!status.ok()) {
          failed = true;
          ADD_FAILURE() << status.error_message();
          return;
        }
        for (const sv1::AppendResult& result : response.results()) written += result.size();
      }
    });
  }
  for (std::thread& t : writers) t.join();
  ASSERT_FALSE(failed.load());
  absl::StatusOr<sv1::GetStatsResponse> master_stats = testing::StoreStats(master_address);
  ASSERT_TRUE(master_stats.ok()) << master_stats.status();
  const int64_t end = master_stats->max_physical_offset();
  std::cerr << absl::StrFormat("master filled with %.1f MiB in %.1f s\n",
                               static_cast<double>(end) / (1 << 20),
                               absl::ToDoubleSeconds(absl::Now() - fill_start));

  absl::Time start = absl::Now();
  auto slave = testing::StartStore(
      "store-s", slave_dir, kFileSize,
      {"--role=SLAVE", "--broker_id=1", absl::StrCat("--master_address=", master_address)});
  ASSERT_TRUE(slave.ok()) << slave.status();
  absl::Duration replicated = absl::InfiniteDuration();
  absl::StatusOr<sv1::GetStatsResponse> slave_stats;
  absl::Time deadline = start + absl::Seconds(std::max<int64_t>(60, (target >> 20) / 4));
  while (absl::Now() < deadline) {
    slave_stats = testing::StoreStats((*slave)->address());
    ASSERT_TRUE(slave_stats.ok()) << slave_stats.status();
    if (slave_stats->max_physical_offset() == end && replicated == absl::InfiniteDuration()) {
      replicated = absl::Now() - start;
    }
    if (slave_stats->max_physical_offset() == end && slave_stats->dispatch_behind_bytes() == 0) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::Duration caught_up = absl::Now() - start;
  ASSERT_EQ(slave_stats->max_physical_offset(), end) << "the slave did not catch up in time";
  ASSERT_EQ(slave_stats->dispatch_behind_bytes(), 0);
  double mib = static_cast<double>(end) / (1 << 20);
  std::cerr << absl::StrFormat(
      "empty slave caught up %.1f MiB: log copied in %.1f s (%.0f MiB/s), queues and index "
      "built in %.1f s (%.0f MiB/s), from the slave's start\n",
      mib, absl::ToDoubleSeconds(replicated), mib / absl::ToDoubleSeconds(replicated),
      absl::ToDoubleSeconds(caught_up), mib / absl::ToDoubleSeconds(caught_up));
  EXPECT_EQ(slave_stats->min_physical_offset(), master_stats->min_physical_offset());

  // Same queues on both.
  std::unique_ptr<sv1::Store::Stub> master_stub =
      sv1::Store::NewStub(CreateChannel(master_address));
  std::unique_ptr<sv1::Store::Stub> slave_stub =
      sv1::Store::NewStub(CreateChannel((*slave)->address()));
  for (int q = 0; q < kQueues; ++q) {
    sv1::GetQueueOffsetsRequest request;
    request.set_topic("CatchUpTopic");
    request.set_queue_id(q);
    sv1::GetQueueOffsetsResponse on_master, on_slave;
    grpc::ClientContext c1, c2;
    ASSERT_TRUE(master_stub->GetQueueOffsets(&c1, request, &on_master).ok());
    ASSERT_TRUE(slave_stub->GetQueueOffsets(&c2, request, &on_slave).ok());
    EXPECT_GT(on_master.max_offset(), 0);
    EXPECT_EQ(on_slave.max_offset(), on_master.max_offset()) << "queue " << q;
    EXPECT_EQ(on_slave.last_store_timestamp_ms(), on_master.last_store_timestamp_ms());
  }
  // The index was built too: a key of the first batch is found on the slave.
  sv1::QueryByKeyRequest query;
  query.set_topic("CatchUpTopic");
  query.set_key("w0-0-0");
  sv1::QueryMessagesResponse found;
  grpc::ClientContext c3;
  ASSERT_TRUE(slave_stub->QueryByKey(&c3, query, &found).ok());
  EXPECT_EQ(found.messages_size(), 1);

  ASSERT_TRUE((*slave)->Stop().ok());
  ASSERT_TRUE((*master)->Stop().ok());
  absl::Status same = testing::CompareCommitLogs(master_dir, slave_dir, end);
  EXPECT_TRUE(same.ok()) << same;
}

}  // namespace
}  // namespace mq
