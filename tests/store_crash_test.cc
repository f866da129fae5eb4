// Crash safety of the real store process: every append acknowledged under
// SYNC_FLUSH survives `kill -9`, and torn or corrupt records are cut at
// restart, never served.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_options.h"
#include "proto/store.grpc.pb.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

namespace mq {
namespace {

namespace sv1 = store::v1;

constexpr int64_t kFileSize = 1 << 20;

struct Acked {
  int32_t queue_id;
  int64_t queue_offset;
  int64_t physical_offset;
  int32_t size;
};

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(10)) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  return context;
}

class StoreCrashTest : public ::testing::Test {
 protected:
  void StartStore(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--port=0",
                                     "--listen_address=127.0.0.1",
                                     absl::StrCat("--data_dir=", dir_),
                                     absl::StrCat("--commit_log_file_size=", kFileSize),
                                     "--consume_queue_units_per_file=1000",
                                     "--max_message_size=65536",
                                     "--index_slot_count=1000",
                                     "--index_max_entries=4000",
                                     "--shutdown_grace=1s"};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> process =
        testing::ServerProcess::Start("store", testing::RunfilePath("services/store/store"), args);
    ASSERT_TRUE(process.ok()) << process.status();
    store_ = *std::move(process);
    channel_ = CreateChannel(store_->address());
    stub_ = sv1::Store::NewStub(channel_);
  }

  void StopStore() {
    stub_.reset();
    channel_.reset();
    ASSERT_TRUE(store_->Stop().ok());
    store_.reset();
  }

  void KillStore() {
    store_->Kill();
    stub_.reset();
    channel_.reset();
    store_.reset();
  }

  sv1::GetMessagesResponse ReadQueue(int32_t queue_id, int64_t offset, int32_t max = 1024) {
    sv1::GetMessagesRequest request;
    request.set_topic("CrashTopic");
    request.set_queue_id(queue_id);
    request.set_offset(offset);
    request.set_max_count(max);
    request.set_max_bytes(64 << 20);
    sv1::GetMessagesResponse response;
    auto context = Context();
    grpc::Status status = stub_->GetMessages(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Every message of a queue, in order.
  std::vector<common::v1::MessageExt> ReadAll(int32_t queue_id) {
    std::vector<common::v1::MessageExt> all;
    int64_t offset = 0;
    while (true) {
      sv1::GetMessagesResponse response = ReadQueue(queue_id, offset);
      if (response.status() != sv1::FOUND) break;
      for (const common::v1::MessageExt& m : response.messages()) all.push_back(m);
      offset = response.next_begin_offset();
    }
    return all;
  }

  absl::StatusOr<sv1::AppendBatchResponse> Append(const std::vector<std::string>& bodies,
                                                  int32_t queue_id) {
    sv1::AppendBatchRequest request;
    request.set_wait_store_ok(true);
    for (const std::string& body : bodies) {
      sv1::AppendEntry* entry = request.add_entries();
      entry->mutable_message()->set_topic("CrashTopic");
      entry->mutable_message()->set_body(body);
      (*entry->mutable_message()->mutable_properties())["KEYS"] = body;
      entry->set_queue_id(queue_id);
      entry->set_store_host("127.0.0.1:10911");
    }
    sv1::AppendBatchResponse response;
    auto context = Context();
    grpc::Status status = stub_->AppendBatch(context.get(), request, &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return response;
  }

  // Appends "message-<i>-" and `padding` filler bytes, i = 0..count-1, one
  // call each, to queue 0; fails the test unless each is PUT_OK. Their
  // results, in order.
  std::vector<sv1::AppendResult> AppendMessages(int count, int padding) {
    std::vector<sv1::AppendResult> results;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<sv1::AppendBatchResponse> response =
          Append({absl::StrCat("message-", i, "-", std::string(padding, 'p'))}, 0);
      EXPECT_TRUE(response.ok());
      if (!response.ok()) break;
      EXPECT_EQ(response->results(0).status(), sv1::PUT_OK);
      results.push_back(response->results(0));
    }
    return results;
  }

  std::string dir_ = testing::MakeTempDir("store-crash");
  std::unique_ptr<testing::ServerProcess> store_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<sv1::Store::Stub> stub_;
};

TEST_F(StoreCrashTest, AcknowledgedAppendsSurviveKillNine) {
  constexpr int kRounds = 12;
  constexpr int kWriters = 4;
  std::mt19937 random(20261122);
  absl::Mutex mu;
  std::map<std::string, Acked> acked;  // body -> where the store said it is
  std::set<std::string> sent;

  for (int round = 0; round < kRounds; ++round) {
    StartStore({"--flush_disk_type=SYNC_FLUSH"});
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int seq = 0; !stop.load(); ++seq) {
          std::vector<std::string> bodies;
          int batch = 1 + seq % 3;
          for (int b = 0; b < batch; ++b) {
            bodies.push_back(absl::StrFormat("r%d-w%d-s%d-b%d-%s", round, w, seq, b,
                                             std::string(200 + (seq * 37) % 700, 'p')));
          }
          {
            absl::MutexLock lock(&mu);
            sent.insert(bodies.begin(), bodies.end());
          }
          absl::StatusOr<sv1::AppendBatchResponse> response = Append(bodies, w);
          if (!response.ok()) return;  // the store died under us
          absl::MutexLock lock(&mu);
          for (int b = 0; b < response->results_size(); ++b) {
            const sv1::AppendResult& r = response->results(b);
            if (r.status() != sv1::PUT_OK) continue;
            acked[bodies[b]] = Acked{w, r.queue_offset(), r.physical_offset(), r.size()};
          }
        }
      });
    }
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(100, 600)(random)));
    KillStore();
    stop = true;
    for (std::thread& t : writers) t.join();
  }

  StartStore({"--flush_disk_type=SYNC_FLUSH"});
  std::map<std::string, common::v1::MessageExt> found;
  for (int q = 0; q < kWriters; ++q) {
    std::vector<common::v1::MessageExt> messages = ReadAll(q);
    for (size_t i = 0; i < messages.size(); ++i) {
      const common::v1::MessageExt& m = messages[i];
      // Offsets are dense, and nothing is served that was never sent.
      ASSERT_EQ(m.queue_offset(), static_cast<int64_t>(i)) << "queue " << q;
      ASSERT_TRUE(sent.count(m.body()) == 1)
          << "unknown message served: " << m.body().substr(0, 40);
      ASSERT_TRUE(found.emplace(m.body(), m).second) << "served twice: " << m.body().substr(0, 40);
    }
  }
  ASSERT_GT(acked.size(), 200u) << "too few appends were acknowledged to test anything";
  for (const auto& [body, where] : acked) {
    auto it = found.find(body);
    ASSERT_NE(it, found.end()) << "acknowledged message lost: " << body.substr(0, 40);
    EXPECT_EQ(it->second.queue_id(), where.queue_id);
    EXPECT_EQ(it->second.queue_offset(), where.queue_offset);
    EXPECT_EQ(it->second.commit_log_offset(), where.physical_offset);
    // The by-offset read verifies the record's CRC.
    sv1::GetMessageByOffsetRequest request;
    request.set_physical_offset(where.physical_offset);
    sv1::GetMessageByOffsetResponse response;
    auto context = Context();
    ASSERT_TRUE(stub_->GetMessageByOffset(context.get(), request, &response).ok());
    EXPECT_EQ(response.message().body(), body);
  }
  std::cerr << "acknowledged " << acked.size() << " of " << sent.size() << " sent; " << found.size()
            << " recovered\n";
  StopStore();
}

// Overwrites `bytes` at `offset` of a commit-log file.
void Overwrite(const std::string& path, int64_t offset, const std::string& bytes) {
  int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(pwrite(fd, bytes.data(), bytes.size(), offset), static_cast<ssize_t>(bytes.size()));
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
}

std::string ReadByte(const std::string& path, int64_t offset) {
  int fd = open(path.c_str(), O_RDONLY);
  char c = 0;
  EXPECT_EQ(pread(fd, &c, 1, offset), 1);
  close(fd);
  return std::string(1, c);
}

TEST_F(StoreCrashTest, TornAndCorruptRecordsAreCutAtRestart) {
  StartStore();
  std::vector<sv1::AppendResult> results = AppendMessages(100, 300);
  ASSERT_EQ(results.size(), 100u);
  StopStore();
  const std::string file = absl::StrCat(dir_, "/commitlog/00000000000000000000");

  // A torn last record: its second half never reached the disk.
  const sv1::AppendResult& last = results.back();
  int64_t half = last.size() / 2;
  Overwrite(file, last.physical_offset() + half, std::string(last.size() - half, '\0'));
  StartStore();
  std::vector<common::v1::MessageExt> after_tear = ReadAll(0);
  ASSERT_EQ(after_tear.size(), 99u);
  EXPECT_EQ(after_tear.back().body().substr(0, 11), "message-98-");

  // A flipped bit in the body of message 50: it and everything after go.
  StopStore();
  const sv1::AppendResult& victim = results[50];
  int64_t body_byte = victim.physical_offset() + victim.size() / 2;
  std::string byte = ReadByte(file, body_byte);
  byte[0] ^= 0x10;
  Overwrite(file, body_byte, byte);
  StartStore();
  std::vector<common::v1::MessageExt> after_flip = ReadAll(0);
  ASSERT_EQ(after_flip.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(after_flip[i].body().substr(0, 9 + std::to_string(i).size()),
              absl::StrCat("message-", i, "-"));
  }
  sv1::GetMessageByOffsetRequest request;
  request.set_physical_offset(victim.physical_offset());
  sv1::GetMessageByOffsetResponse response;
  auto context = Context();
  EXPECT_FALSE(stub_->GetMessageByOffset(context.get(), request, &response).ok());

  // The log goes on where the valid data ended.
  absl::StatusOr<sv1::AppendBatchResponse> next = Append({"after repair"}, 0);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->results(0).queue_offset(), 50);
  EXPECT_EQ(next->results(0).physical_offset(), victim.physical_offset());
  StopStore();
}

// A bit flipped in a record of an older file (which a clean restart does not
// re-verify) is never served: neither as fields nor as stored records. The
// read leaves it out, names its offset, and serves the rest.
TEST_F(StoreCrashTest, ADamagedRecordInAnOlderFileIsNeverServed) {
  StartStore();
  std::vector<sv1::AppendResult> results = AppendMessages(5000, 1000);
  ASSERT_EQ(results.size(), 5000u);
  ASSERT_GE(results.back().physical_offset(), 4 * kFileSize) << "the test needs five files";
  StopStore();
  const sv1::AppendResult& victim = results[10];
  const std::string file = absl::StrCat(dir_, "/commitlog/00000000000000000000");
  const int64_t body_byte = victim.physical_offset() + victim.size() / 2;
  std::string byte = ReadByte(file, body_byte);
  byte[0] ^= 0x04;
  Overwrite(file, body_byte, byte);

  StartStore();
  for (bool stored_records : {false, true}) {
    SCOPED_TRACE(stored_records ? "stored records" : "fields");
    sv1::GetMessagesRequest request;
    request.set_topic("CrashTopic");
    request.set_queue_id(0);
    request.set_offset(0);
    request.set_max_count(32);
    request.set_stored_records(stored_records);
    sv1::GetMessagesResponse response;
    auto context = Context();
    ASSERT_TRUE(stub_->GetMessages(context.get(), request, &response).ok());
    // Every offset read but 10 is served: [0, next) without 10 (the fields
    // form reads one more to fill the answer; stored records settle after).
    EXPECT_EQ(response.status(), sv1::FOUND);
    ASSERT_EQ(response.corrupt_offsets_size(), 1);
    EXPECT_EQ(response.corrupt_offsets(0), 10);
    const int64_t next = response.next_begin_offset();
    EXPECT_GE(next, 32);
    EXPECT_EQ(response.message_count(), next - 1);
    if (!stored_records) {
      ASSERT_EQ(response.messages_size(), next - 1);
      for (const common::v1::MessageExt& m : response.messages()) EXPECT_NE(m.queue_offset(), 10);
    } else {
      int64_t expected_bytes = 0;
      for (int64_t i = 0; i < next; ++i) expected_bytes += i == 10 ? 0 : results[i].size();
      EXPECT_EQ(static_cast<int64_t>(response.records().size()), expected_bytes);
    }
  }
  // Everything else is served.
  EXPECT_EQ(ReadAll(0).size(), results.size() - 1);
  sv1::GetStatsRequest stats_request;
  sv1::GetStatsResponse stats;
  auto context = Context();
  ASSERT_TRUE(stub_->GetStats(context.get(), stats_request, &stats).ok());
  EXPECT_GE(stats.corrupt_records_read(), 3);
  StopStore();
}

// After retention deleted the log's first files, a restart keeps each queue's
// min offset at its first message still in the log (it fell back to 0, where
// a consumer starting from the min read nothing).
TEST_F(StoreCrashTest, MinOffsetsSurviveARestartAfterRetention) {
  // Every hour is a delete hour; files older than 1 s expire; retention runs
  // every 200 ms.
  std::string every_hour;
  for (int h = 0; h < 24; ++h) absl::StrAppend(&every_hour, h == 0 ? "" : ";", h);
  const std::vector<std::string> retention = {absl::StrCat("--delete_when=", every_hour),
                                              "--file_reserved_time=1s", "--clean_interval=200ms"};
  StartStore(retention);
  ASSERT_EQ(AppendMessages(4000, 1000).size(), 4000u);
  auto queue_min = [&]() -> int64_t {
    sv1::GetQueueOffsetsRequest request;
    request.set_topic("CrashTopic");
    request.set_queue_id(0);
    sv1::GetQueueOffsetsResponse response;
    auto context = Context();
    EXPECT_TRUE(stub_->GetQueueOffsets(context.get(), request, &response).ok());
    return response.min_offset();
  };
  // Retention deletes every file but the last (bounded wait).
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (queue_min() < 3000 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  const int64_t min_before = queue_min();
  ASSERT_GE(min_before, 3000);
  StopStore();

  StartStore();  // default retention: nothing more is deleted
  EXPECT_EQ(queue_min(), min_before);
  sv1::GetMessagesResponse first = ReadQueue(0, min_before, 1);
  EXPECT_EQ(first.status(), sv1::FOUND);
  ASSERT_EQ(first.messages_size(), 1);
  EXPECT_EQ(first.messages(0).queue_offset(), min_before);
  StopStore();
}

// A commit-log file truncated in the middle of a record (a torn allocation, a
// filesystem repair, a partial copy) must not stop the store: the last file is
// restored to its size, verified, and the log cut at its last whole record.
TEST_F(StoreCrashTest, ATruncatedLastFileIsCutAtItsLastWholeRecord) {
  StartStore();
  std::vector<sv1::AppendResult> results = AppendMessages(2500, 1000);
  ASSERT_EQ(results.size(), 2500u);
  StopStore();
  const sv1::AppendResult& last = results.back();
  const int64_t file_start = last.physical_offset() / kFileSize * kFileSize;
  ASSERT_GE(file_start, 2 * kFileSize) << "the test needs three files";
  const std::string file = absl::StrCat(dir_, "/commitlog/", absl::StrFormat("%020d", file_start));
  // Cut in the middle of the last record.
  ASSERT_EQ(::truncate(file.c_str(), last.physical_offset() - file_start + last.size() / 2), 0);

  StartStore();  // fails the test if the store does not start
  std::vector<common::v1::MessageExt> messages = ReadAll(0);
  ASSERT_EQ(messages.size(), results.size() - 1);
  EXPECT_EQ(messages.back().body().substr(0, 13), "message-2498-");
  // The log goes on where the valid data ended.
  absl::StatusOr<sv1::AppendBatchResponse> next = Append({"after repair"}, 0);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->results(0).status(), sv1::PUT_OK);
  EXPECT_EQ(next->results(0).queue_offset(), static_cast<int64_t>(results.size()) - 1);
  EXPECT_EQ(next->results(0).physical_offset(), last.physical_offset());
  StopStore();

  // A file missing in the middle cannot be cut safely: the store refuses to
  // start and says what to do.
  const std::string middle = absl::StrCat(dir_, "/commitlog/", absl::StrFormat("%020d", kFileSize));
  ASSERT_EQ(::rename(middle.c_str(), (dir_ + "/moved-away").c_str()), 0);
  absl::StatusOr<testing::ToolResult> refused = testing::RunTool(
      testing::RunfilePath("services/store/store"),
      {"--port=0", "--listen_address=127.0.0.1", absl::StrCat("--data_dir=", dir_),
       absl::StrCat("--commit_log_file_size=", kFileSize), "--consume_queue_units_per_file=1000",
       "--max_message_size=65536", "--index_slot_count=1000", "--index_max_entries=4000"});
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_NE(refused->exit_code, 0);
  EXPECT_NE(refused->err.find("are missing"), std::string::npos) << refused->err;
  EXPECT_NE(refused->err.find("restore them from a backup or a slave"), std::string::npos);
}

}  // namespace
}  // namespace mq
