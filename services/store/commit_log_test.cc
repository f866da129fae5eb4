#include "services/store/commit_log.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/format/property_keys.h"
#include "common/units.h"
#include "gtest/gtest.h"
#include "testing/mapped_files.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq::store {
namespace {

constexpr int64_t kFileSize = 64_KiB;

CommitLogOptions Options(const std::string& dir) {
  CommitLogOptions options;
  options.dir = dir;
  options.file_size = kFileSize;
  return options;
}

// Owns the strings a MessageRecord points at.
struct TestMessage {
  std::string topic = "TopicTest";
  std::string body;
  std::string properties;
  int32_t queue_id = 0;
  int32_t sys_flag = 0;

  format::MessageRecord Record() const {
    format::MessageRecord r;
    r.topic = topic;
    r.body = body;
    r.properties = properties;
    r.queue_id = queue_id;
    r.sys_flag = sys_flag;
    r.born_timestamp_ms = 1700000000000;
    r.born_host = format::HostAddress{0x0A000001, 4000};
    r.store_host = format::HostAddress{0x7F000001, 10911};
    return r;
  }
};

TestMessage Message(std::string body, int32_t queue_id = 0) {
  TestMessage m;
  m.body = std::move(body);
  m.queue_id = queue_id;
  m.properties = "TAGS\x01TagA";
  return m;
}

AppendResult AppendOne(CommitLog& log, const TestMessage& m) {
  format::MessageRecord record = m.Record();
  std::vector<AppendResult> results = log.AppendBatch(absl::MakeConstSpan(&record, 1));
  EXPECT_EQ(results.size(), 1u);
  return results[0];
}

// The records of `messages` (pointing into them).
std::vector<format::MessageRecord> RecordsOf(const std::vector<TestMessage>& messages) {
  std::vector<format::MessageRecord> records;
  for (const TestMessage& m : messages) records.push_back(m.Record());
  return records;
}

// Opens the log in `options.dir` again and recovers it from its start, CRCs
// checked; the recovered end must be `end`.
std::unique_ptr<CommitLog> Recovered(const CommitLogOptions& options, int64_t end) {
  auto log = std::make_unique<CommitLog>(options);
  EXPECT_TRUE(log->Load().ok());
  absl::StatusOr<int64_t> recovered = log->Recover(0, /*check_crc=*/true);
  EXPECT_TRUE(recovered.ok()) << recovered.status();
  if (recovered.ok()) EXPECT_EQ(*recovered, end);
  return log;
}

// Appends `count` messages with bodies "<prefix>-<i>" padded to `body_size`,
// returning their results.
std::vector<AppendResult> AppendMany(CommitLog& log, int count, size_t body_size,
                                     const std::string& prefix = "m") {
  std::vector<AppendResult> results;
  for (int i = 0; i < count; ++i) {
    std::string body = absl::StrCat(prefix, "-", i);
    body.resize(std::max(body.size(), body_size), '.');
    AppendResult r = AppendOne(log, Message(body));
    EXPECT_EQ(r.status, AppendStatus::kOk) << r.error;
    results.push_back(r);
  }
  return results;
}

// Appends until the log rolls into its second file; returns where the blank
// marker that ends the first file starts (-1 if no append rolled over).
int64_t FillFirstFile(CommitLog& log) {
  std::vector<AppendResult> more = AppendMany(log, 70, 1000);
  for (size_t i = 1; i < more.size(); ++i) {
    if (more[i].physical_offset.value() == kFileSize) {
      return more[i - 1].physical_offset.value() + more[i - 1].size;
    }
  }
  return -1;
}

// Every record from `offset` on, following blank markers.
std::vector<std::pair<int64_t, std::string>> ReadAll(const CommitLog& log, int64_t offset = 0) {
  std::vector<std::pair<int64_t, std::string>> records;
  while (true) {
    LogEntry entry = log.ReadNext(offset, /*check_crc=*/true);
    if (entry.kind == LogEntryKind::kNoMoreData) break;
    EXPECT_NE(entry.kind, LogEntryKind::kCorrupt) << entry.record.record.error;
    if (entry.kind == LogEntryKind::kCorrupt) break;
    if (entry.kind == LogEntryKind::kRecord) {
      records.emplace_back(offset, std::string(entry.record.record.message.body));
    }
    EXPECT_GT(entry.next_offset, offset);
    offset = entry.next_offset;
  }
  return records;
}

void FlipByte(const std::string& path, int64_t pos) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  char c;
  ASSERT_EQ(::pread(fd, &c, 1, pos), 1);
  c ^= 0x10;
  ASSERT_EQ(::pwrite(fd, &c, 1, pos), 1);
  ::close(fd);
}

void ZeroRange(const std::string& path, int64_t pos, int64_t len) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  std::string zeros(len, '\0');
  ASSERT_EQ(::pwrite(fd, zeros.data(), len, pos), len);
  ::close(fd);
}

std::string FilePath(const std::string& dir, int64_t offset) {
  return absl::StrCat(dir, "/", OffsetToFileName(offset));
}

TEST(CommitLogTest, AppendAssignsOffsetsAndReadsBack) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  AppendResult a = AppendOne(log, Message("first", 0));
  AppendResult b = AppendOne(log, Message("second", 1));
  AppendResult c = AppendOne(log, Message("third", 0));
  ASSERT_EQ(a.status, AppendStatus::kOk) << a.error;
  EXPECT_EQ(a.physical_offset, PhysicalOffset(0));
  EXPECT_EQ(a.size, format::kRecordFixedBytes + 5 + 9 + 9);
  EXPECT_EQ(b.physical_offset, PhysicalOffset(a.size));
  EXPECT_EQ(c.physical_offset, PhysicalOffset(a.size + b.size));
  EXPECT_EQ(a.queue_offset, QueueOffset(0));
  EXPECT_EQ(b.queue_offset, QueueOffset(0));
  EXPECT_EQ(c.queue_offset, QueueOffset(1));
  EXPECT_GT(a.store_timestamp_ms, 0);
  EXPECT_EQ(log.MaxOffset(), (c.physical_offset + c.size).value());
  EXPECT_EQ(log.GetQueueOffset("TopicTest", 0), QueueOffset(2));
  EXPECT_EQ(log.GetQueueOffset("TopicTest", 1), QueueOffset(1));
  EXPECT_EQ(log.GetQueueOffset("Other", 0), QueueOffset(0));

  absl::StatusOr<RecordRef> read = log.ReadRecord(c.physical_offset.value(), /*check_crc=*/true);
  ASSERT_TRUE(read.ok()) << read.status();
  const format::MessageRecord& m = read->record.message;
  EXPECT_EQ(m.body, "third");
  EXPECT_EQ(m.topic, "TopicTest");
  EXPECT_EQ(m.queue_offset, 1);
  EXPECT_EQ(m.physical_offset, c.physical_offset.value());
  EXPECT_EQ(m.store_timestamp_ms, c.store_timestamp_ms);
  EXPECT_EQ(m.born_host, (format::HostAddress{0x0A000001, 4000}));
  EXPECT_EQ(format::FindProperty(m.properties, format::kPropertyTags), "TagA");
}

TEST(CommitLogTest, FlushReportsTheStoreTimeOfFlushedData) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  EXPECT_EQ(log.file_queue().FlushedStoreTimestamp(), 0);
  AppendResult a = AppendOne(log, Message("x"));
  ASSERT_TRUE(log.file_queue().Flush(0).ok());
  EXPECT_EQ(log.FlushedOffset(), (a.physical_offset + a.size).value());
  EXPECT_EQ(log.file_queue().FlushedStoreTimestamp(), a.store_timestamp_ms);
}

TEST(CommitLogTest, ReadRecordErrors) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  AppendResult a = AppendOne(log, Message("x"));
  EXPECT_EQ(log.ReadRecord(log.MaxOffset()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(log.ReadRecord(a.physical_offset.value() + 1).status().code(),
            absl::StatusCode::kDataLoss);
  // Fill the first file so it ends with a blank marker.
  const int64_t blank_offset = FillFirstFile(log);
  ASSERT_GT(blank_offset, 0);
  EXPECT_EQ(log.ReadRecord(blank_offset).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(log.file_queue().DeleteFilesWhile(testing::EndsBy(kFileSize), 1), 1);
  EXPECT_EQ(log.ReadRecord(0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(log.ReadNext(0).kind, LogEntryKind::kNextFile);
  EXPECT_EQ(log.ReadNext(0).next_offset, kFileSize);
}

TEST(CommitLogTest, AppendRecordBytesCopiesCheckedRecords) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  std::vector<AppendResult> first = AppendMany(log, 3, 100);
  std::string out = "prefix";
  for (const AppendResult& r : first) {
    ASSERT_TRUE(log.AppendRecordBytes(r.physical_offset.value(), r.size, &out).ok());
  }
  // Byte for byte what the log holds, each record whole with a valid CRC.
  absl::string_view copied = absl::string_view(out).substr(6);
  ASSERT_EQ(copied.size(), static_cast<size_t>(first[0].size + first[1].size + first[2].size));
  for (int i = 0; i < 3; ++i) {
    format::DecodedRecord decoded = format::DecodeRecord(copied, /*check_crc=*/true);
    ASSERT_EQ(decoded.kind, format::RecordKind::kMessage) << decoded.error;
    EXPECT_EQ(decoded.message.physical_offset, first[i].physical_offset.value());
    EXPECT_EQ(std::string(decoded.message.body).substr(0, 3), absl::StrCat("m-", i));
    copied.remove_prefix(decoded.size);
  }

  // A size that is not the record's, an offset inside a record, the end of
  // the log: refused, and `out` is left as it was.
  const std::string before = out;
  const AppendResult& a = first[0];
  EXPECT_EQ(log.AppendRecordBytes(a.physical_offset.value(), a.size - 1, &out).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(log.AppendRecordBytes(a.physical_offset.value() + 4, a.size, &out).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(log.AppendRecordBytes(log.MaxOffset() - 10, a.size, &out).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(log.AppendRecordBytes(a.physical_offset.value(), 0, &out).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(out, before);

  // A blank marker is not a record; a deleted file's records are NOT_FOUND.
  const int64_t blank_offset = FillFirstFile(log);
  ASSERT_GT(blank_offset, 0);
  absl::Status blank = log.AppendRecordBytes(blank_offset, kFileSize - blank_offset, &out);
  EXPECT_EQ(blank.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(blank.message().find("end-of-file marker"), absl::string_view::npos) << blank;
  ASSERT_EQ(log.file_queue().DeleteFilesWhile(testing::EndsBy(kFileSize), 1), 1);
  EXPECT_EQ(log.AppendRecordBytes(a.physical_offset.value(), a.size, &out).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(out, before);
}

TEST(CommitLogTest, AppendRecordRunCopiesBackToBackRecordsInOneRead) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  std::vector<AppendResult> first = AppendMany(log, 5, 300);
  std::vector<int32_t> sizes;
  for (const AppendResult& r : first) sizes.push_back(r.size);
  std::string run = "prefix";
  ASSERT_TRUE(log.AppendRecordRun(first[0].physical_offset.value(), sizes, &run).ok());
  // The same bytes as copying record by record.
  std::string one_by_one = "prefix";
  for (const AppendResult& r : first) {
    ASSERT_TRUE(log.AppendRecordBytes(r.physical_offset.value(), r.size, &one_by_one).ok());
  }
  EXPECT_EQ(run, one_by_one);

  // Any record that is not as listed fails the run and leaves `out` alone:
  // a wrong size, a run starting inside a record, one running past the end,
  // one crossing into the next file (over the blank marker), a deleted file.
  const std::string before = run;
  std::vector<int32_t> wrong = sizes;
  wrong[3] -= 1;
  EXPECT_EQ(log.AppendRecordRun(first[0].physical_offset.value(), wrong, &run).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(
      log.AppendRecordRun(first[0].physical_offset.value() + 4, {sizes[0], sizes[1]}, &run).code(),
      absl::StatusCode::kDataLoss);
  EXPECT_EQ(log.AppendRecordRun(first[1].physical_offset.value(), sizes, &run).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(log.AppendRecordRun(first[0].physical_offset.value(), {sizes[0], 0}, &run).code(),
            absl::StatusCode::kInvalidArgument);
  const int64_t blank_offset = FillFirstFile(log);
  ASSERT_GT(blank_offset, 0);
  std::vector<AppendResult> second_file = AppendMany(log, 2, 100, "n");
  EXPECT_EQ(log.AppendRecordRun(
                   blank_offset,
                   {static_cast<int32_t>(kFileSize - blank_offset), second_file[0].size}, &run)
                .code(),
            absl::StatusCode::kDataLoss);
  ASSERT_EQ(log.file_queue().DeleteFilesWhile(testing::EndsBy(kFileSize), 1), 1);
  EXPECT_EQ(log.AppendRecordRun(first[0].physical_offset.value(), sizes, &run).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(run, before);
  // The second file's records still read as a run.
  ASSERT_TRUE(log.AppendRecordRun(second_file[0].physical_offset.value(),
                                  {second_file[0].size, second_file[1].size}, &run)
                  .ok());
  EXPECT_EQ(run.size(), before.size() + second_file[0].size + second_file[1].size);
}

TEST(CommitLogTest, InvalidMessagesFailAlone) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  std::vector<TestMessage> in(6, Message("ok"));
  in[1].body = "";
  in[2].topic = std::string(format::kMaxTopicBytes + 1, 't');
  in[3].properties = std::string(format::kMaxPropertiesBytes + 1, 'p');
  in[4].body = std::string(kFileSize, 'b');  // under 4 MiB but over a file
  std::vector<AppendResult> results = log.AppendBatch(RecordsOf(in));
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(results[0].status, AppendStatus::kOk);
  EXPECT_EQ(results[1].status, AppendStatus::kMessageIllegal);
  EXPECT_EQ(results[2].status, AppendStatus::kMessageIllegal);
  EXPECT_NE(results[2].error.find("topic"), std::string::npos) << results[2].error;
  EXPECT_EQ(results[3].status, AppendStatus::kPropertiesSizeExceeded);
  EXPECT_EQ(results[4].status, AppendStatus::kMessageIllegal);
  EXPECT_NE(results[4].error.find("does not fit"), std::string::npos) << results[4].error;
  EXPECT_EQ(results[5].status, AppendStatus::kOk);
  EXPECT_EQ(results[5].physical_offset, PhysicalOffset(results[0].size));
  EXPECT_EQ(results[5].queue_offset, QueueOffset(1));
  EXPECT_EQ(ReadAll(log).size(), 2u);
}

TEST(CommitLogTest, BodyLimitComesFromOptions) {
  CommitLogOptions options = Options(testing::MakeTempDir());
  options.max_message_body_bytes = 10;
  CommitLog log(options);
  ASSERT_TRUE(log.Load().ok());
  EXPECT_EQ(AppendOne(log, Message(std::string(10, 'a'))).status, AppendStatus::kOk);
  AppendResult r = AppendOne(log, Message(std::string(11, 'a')));
  EXPECT_EQ(r.status, AppendStatus::kMessageIllegal);
  EXPECT_NE(r.error.find("over the limit"), std::string::npos) << r.error;
}

TEST(CommitLogTest, RollsOverWithBlankMarker) {
  std::string dir = testing::MakeTempDir();
  CommitLog log(Options(dir));
  ASSERT_TRUE(log.Load().ok());
  std::vector<AppendResult> results = AppendMany(log, 200, 1000);
  EXPECT_EQ(log.file_queue().Files().size(), 4u);
  std::set<int64_t> starts;
  for (size_t i = 0; i < results.size(); ++i) {
    const AppendResult& r = results[i];
    EXPECT_EQ(r.queue_offset, QueueOffset(static_cast<int64_t>(i)));
    // No record straddles a file boundary, and a marker always fits after one.
    EXPECT_EQ(r.physical_offset.value() / kFileSize,
              (r.physical_offset.value() + r.size - 1) / kFileSize);
    EXPECT_GE(kFileSize - (r.physical_offset.value() + r.size) % kFileSize,
              format::kBlankMarkerMinBytes);
    starts.insert(r.physical_offset.value() / kFileSize);
  }
  EXPECT_EQ(starts.size(), 4u);
  std::vector<std::pair<int64_t, std::string>> read = ReadAll(log);
  ASSERT_EQ(read.size(), results.size());
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].first, results[i].physical_offset.value());
    EXPECT_EQ(read[i].second.substr(0, read[i].second.find('.')), absl::StrCat("m-", i));
  }
  // The first file is full and ends with a marker.
  EXPECT_TRUE(log.file_queue().FirstFile()->IsFull());
}

// Parameter: CommitLogOptions::write_through_bytes (the default, where batches
// are written with pwrite and single appends copied into the mapping; and 0,
// the synchronous-flush setting, where every append is written with pwrite).
class CommitLogWriteThroughTest : public ::testing::TestWithParam<size_t> {
 protected:
  CommitLogOptions Options(const std::string& dir) const {
    CommitLogOptions options = ::mq::store::Options(dir);
    options.write_through_bytes = GetParam();
    return options;
  }
};

// Batches and single appends interleaved, across file boundaries, read back
// dense and in order.
TEST_P(CommitLogWriteThroughTest, LargeBatchesAndSingleAppendsRollOverTogether) {
  std::string dir = testing::MakeTempDir();
  CommitLog log(Options(dir));
  ASSERT_TRUE(log.Load().ok());
  std::vector<TestMessage> messages;
  std::vector<AppendResult> results;
  int next = 0;
  for (int round = 0; round < 12; ++round) {
    // 20 records of ~1 KiB: over kWriteThroughBytes, and over what is left of
    // a 64 KiB file every few rounds.
    std::vector<TestMessage> batch;
    for (int i = 0; i < 20; ++i) {
      std::string body = absl::StrCat("m-", next++);
      body.resize(1000, '.');
      batch.push_back(Message(body));
    }
    std::vector<format::MessageRecord> records = RecordsOf(batch);
    std::vector<AppendResult> appended = log.AppendBatch(records);
    for (const AppendResult& r : appended) {
      ASSERT_EQ(r.status, AppendStatus::kOk) << r.error;
      results.push_back(r);
    }
    std::string body = absl::StrCat("m-", next++);
    body.resize(1000, '.');
    AppendResult single = AppendOne(log, Message(body));
    ASSERT_EQ(single.status, AppendStatus::kOk) << single.error;
    results.push_back(single);
  }
  EXPECT_GE(log.file_queue().Files().size(), 4u);
  // Each file carries the store time of its newest record, also when that
  // record was written as the batch moved on to the next file.
  for (const auto& file : log.file_queue().Files()) {
    int64_t newest = 0;
    for (const AppendResult& r : results) {
      if (r.physical_offset.value() >= file->start_offset() &&
          r.physical_offset.value() < file->end_offset()) {
        newest = std::max(newest, r.store_timestamp_ms);
      }
    }
    EXPECT_EQ(file->store_timestamp_ms(), newest) << file->path();
  }
  std::vector<std::pair<int64_t, std::string>> read = ReadAll(log);
  ASSERT_EQ(read.size(), results.size());
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(results[i].queue_offset, QueueOffset(static_cast<int64_t>(i)));
    EXPECT_EQ(read[i].first, results[i].physical_offset.value()) << i;
    EXPECT_EQ(read[i].second.substr(0, read[i].second.find('.')), absl::StrCat("m-", i));
    // No record straddles a file boundary.
    EXPECT_EQ(results[i].physical_offset.value() / kFileSize,
              (results[i].physical_offset.value() + results[i].size - 1) / kFileSize);
  }
}

TEST_P(CommitLogWriteThroughTest, RecoversWhatLargeBatchesWrote) {
  std::string dir = testing::MakeTempDir();
  int64_t end;
  {
    CommitLog log(Options(dir));
    ASSERT_TRUE(log.Load().ok());
    std::vector<TestMessage> batch;
    for (int i = 0; i < 40; ++i) batch.push_back(Message(std::string(1000, 'b')));
    std::vector<format::MessageRecord> records = RecordsOf(batch);
    for (int round = 0; round < 5; ++round) {
      for (const AppendResult& r : log.AppendBatch(records)) {
        ASSERT_EQ(r.status, AppendStatus::kOk) << r.error;
      }
    }
    end = log.MaxOffset();
  }
  EXPECT_EQ(ReadAll(*Recovered(Options(dir), end)).size(), 200u);
}

// Makes this process's writes at or past `limit` bytes into any file fail
// with EFBIG (RLIMIT_FSIZE; SIGXFSZ ignored) while it lives. The kernel checks
// the write's position, so pwrite into a preallocated file fails too, as a
// failing disk would, while copies into a mapping are unaffected.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(int64_t limit) : old_handler_(std::signal(SIGXFSZ, SIG_IGN)) {
    EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &old_), 0);
    struct rlimit lower = old_;
    lower.rlim_cur = static_cast<rlim_t>(limit);
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &lower), 0);
  }
  ~FileSizeLimit() {
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &old_), 0);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  struct rlimit old_;
  void (*old_handler_)(int);
};

TEST_P(CommitLogWriteThroughTest, AFailedWriteFailsItsRecordsAndLosesNothing) {
  std::string dir = testing::MakeTempDir();
  int64_t end;
  {
    CommitLog log(Options(dir));
    ASSERT_TRUE(log.Load().ok());
    AppendMany(log, 10, 1000, "kept");
    end = log.MaxOffset();
    // 20 records of ~1 KiB: one pwrite in both modes.
    std::vector<TestMessage> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(Message(std::string(1000, 'f')));
    std::vector<format::MessageRecord> records = RecordsOf(batch);
    {
      FileSizeLimit limit(end);
      for (const AppendResult& r : log.AppendBatch(records)) {
        EXPECT_EQ(r.status, AppendStatus::kServiceNotAvailable);
        EXPECT_NE(r.error.find("writing the commit log failed"), std::string::npos) << r.error;
        EXPECT_NE(r.error.find("File too large"), std::string::npos) << r.error;
      }
    }
    EXPECT_EQ(log.MaxOffset(), end);
    EXPECT_FALSE(log.accepting_appends());
    AppendResult refused = AppendOne(log, Message("refused"));
    EXPECT_EQ(refused.status, AppendStatus::kServiceNotAvailable);
    EXPECT_NE(refused.error.find("writing the commit log failed"), std::string::npos)
        << refused.error;
    EXPECT_EQ(ReadAll(log).size(), 10u);
    // Accepted again (as after a disk-full episode): the log goes on where the
    // last good record ended, and its queue offsets stay dense.
    log.AcceptAppends();
    AppendResult next = AppendOne(log, Message("after"));
    ASSERT_EQ(next.status, AppendStatus::kOk) << next.error;
    EXPECT_EQ(next.physical_offset, PhysicalOffset(end));
    EXPECT_EQ(next.queue_offset, QueueOffset(10));
    end = log.MaxOffset();
  }
  std::vector<std::pair<int64_t, std::string>> read = ReadAll(*Recovered(Options(dir), end));
  ASSERT_EQ(read.size(), 11u);
  EXPECT_EQ(read[0].second.substr(0, 6), "kept-0");
  EXPECT_EQ(read[10].second, "after");
}

INSTANTIATE_TEST_SUITE_P(WriteThrough, CommitLogWriteThroughTest,
                         ::testing::Values(kWriteThroughBytes, size_t{0}),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return info.param == 0 ? std::string("EveryAppend")
                                                  : std::string("BatchesOnly");
                         });

TEST(CommitLogTest, UsesPreparedFiles) {
  std::string dir = testing::MakeTempDir();
  MappedFileAllocator allocator;
  CommitLogOptions options = Options(dir);
  options.allocator = &allocator;
  CommitLog log(options);
  ASSERT_TRUE(log.Load().ok());
  AppendMany(log, 1, 100);
  for (int file = 1; file <= 3; ++file) {
    ASSERT_TRUE(testing::WaitUntil([&] { return allocator.stats().prepared >= file; }));
    while (log.MaxOffset() < file * kFileSize) AppendMany(log, 1, 1000);
  }
  EXPECT_EQ(allocator.stats().taken_prepared, 3);
  EXPECT_EQ(allocator.stats().created_synchronously, 1);
}

TEST(CommitLogTest, TransactionHalfMessagesTakeNoQueueOffset) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  TestMessage prepared = Message("half");
  prepared.sys_flag = format::kSysFlagTransactionPreparedType;
  TestMessage rollback = Message("rollback");
  rollback.sys_flag = format::kSysFlagTransactionRollbackType;
  TestMessage commit = Message("commit");
  commit.sys_flag = format::kSysFlagTransactionCommitType;
  EXPECT_EQ(AppendOne(log, Message("a")).queue_offset, QueueOffset(0));
  EXPECT_EQ(AppendOne(log, prepared).queue_offset, QueueOffset(0));
  EXPECT_EQ(AppendOne(log, rollback).queue_offset, QueueOffset(0));
  EXPECT_EQ(AppendOne(log, commit).queue_offset, QueueOffset(1));
  EXPECT_EQ(AppendOne(log, Message("b")).queue_offset, QueueOffset(2));
}

TEST(CommitLogTest, RefusesAppendsWhenAsked) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  log.RefuseAppends("disk full (92% used)");
  EXPECT_FALSE(log.accepting_appends());
  AppendResult r = AppendOne(log, Message("x"));
  EXPECT_EQ(r.status, AppendStatus::kServiceNotAvailable);
  EXPECT_NE(r.error.find("disk full"), std::string::npos) << r.error;
  EXPECT_EQ(log.MaxOffset(), 0);
  log.AcceptAppends();
  EXPECT_EQ(AppendOne(log, Message("x")).status, AppendStatus::kOk);
}

TEST(CommitLogTest, QueueOffsetTable) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  log.SetQueueOffset("TopicTest", 0, QueueOffset(41));
  log.SetQueueOffset("Other", 2, QueueOffset(7));
  EXPECT_EQ(AppendOne(log, Message("x", 0)).queue_offset, QueueOffset(41));
  EXPECT_EQ(log.GetQueueOffset("TopicTest", 0), QueueOffset(42));
  log.RemoveQueueOffsets("TopicTest");
  EXPECT_EQ(log.GetQueueOffset("TopicTest", 0), QueueOffset(0));
  EXPECT_EQ(log.GetQueueOffset("Other", 2), QueueOffset(7));
  log.ClearQueueOffsets();
  EXPECT_EQ(log.GetQueueOffset("Other", 2), QueueOffset(0));
}

TEST(CommitLogTest, ConcurrentAppendsGetUniqueDenseOffsets) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 300;
  std::vector<std::vector<AppendResult>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        TestMessage m = Message(absl::StrCat("t", t, "-", i, std::string(200, '.')), t % 2);
        format::MessageRecord records[2] = {m.Record(), m.Record()};
        for (AppendResult& r : log.AppendBatch(records)) results[t].push_back(r);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<int64_t> physical;
  std::map<int, std::set<int64_t>> queue_offsets;
  for (int t = 0; t < kThreads; ++t) {
    for (const AppendResult& r : results[t]) {
      ASSERT_EQ(r.status, AppendStatus::kOk) << r.error;
      EXPECT_TRUE(physical.insert(r.physical_offset.value()).second);
      EXPECT_TRUE(queue_offsets[t % 2].insert(r.queue_offset.value()).second);
    }
  }
  for (auto& [queue, offsets] : queue_offsets) {
    EXPECT_EQ(*offsets.begin(), 0);
    EXPECT_EQ(*offsets.rbegin(), static_cast<int64_t>(offsets.size()) - 1) << queue;
  }
  EXPECT_EQ(ReadAll(log).size(), static_cast<size_t>(2 * kThreads * kPerThread));
}

TEST(CommitLogRecoveryTest, CleanReopenKeepsEverything) {
  std::string dir = testing::MakeTempDir();
  int64_t end;
  {
    CommitLog log(Options(dir));
    ASSERT_TRUE(log.Load().ok());
    AppendMany(log, 150, 1000);
    end = log.MaxOffset();
    ASSERT_TRUE(log.file_queue().Flush(0).ok());
  }
  CommitLog log(Options(dir));
  ASSERT_TRUE(log.Load().ok());
  EXPECT_EQ(log.NormalRecoveryStartOffset(), 0);
  int visited = 0;
  absl::StatusOr<int64_t> recovered =
      log.Recover(0, true, [&](int64_t offset, const format::MessageRecord& r) {
        EXPECT_EQ(r.physical_offset, offset);
        EXPECT_EQ(r.queue_offset, visited);
        ++visited;
      });
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, end);
  EXPECT_EQ(visited, 150);
  EXPECT_EQ(log.MaxOffset(), end);
  EXPECT_EQ(log.FlushedOffset(), end);
  log.SetQueueOffset("TopicTest", 0, QueueOffset(150));
  AppendResult next = AppendOne(log, Message("after"));
  EXPECT_EQ(next.physical_offset, PhysicalOffset(end));
  EXPECT_EQ(next.queue_offset, QueueOffset(150));
  EXPECT_EQ(ReadAll(log).size(), 151u);
}

TEST(CommitLogRecoveryTest, NormalRecoveryStartsAtThirdToLastFile) {
  std::string dir = testing::MakeTempDir();
  int64_t end;
  {
    CommitLog log(Options(dir));
    ASSERT_TRUE(log.Load().ok());
    AppendMany(log, 300, 1000);
    end = log.MaxOffset();
  }
  CommitLog log(Options(dir));
  ASSERT_TRUE(log.Load().ok());
  size_t files = log.file_queue().Files().size();
  ASSERT_GT(files, 3u);
  EXPECT_EQ(log.NormalRecoveryStartOffset(), static_cast<int64_t>(files - 3) * kFileSize);
  absl::StatusOr<int64_t> recovered = log.Recover(log.NormalRecoveryStartOffset(), true);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, end);
}

TEST(CommitLogRecoveryTest, TruncatesTornLastRecord) {
  std::string dir = testing::MakeTempDir();
  std::vector<AppendResult> results;
  {
    CommitLog log(Options(dir));
    ASSERT_TRUE(log.Load().ok());
    results = AppendMany(log, 100, 1000);
  }
  // The crash lost the second half of the last record.
  const AppendResult& last = results.back();
  int64_t file_start = last.physical_offset.value() / kFileSize * kFileSize;
  ZeroRange(FilePath(dir, file_start), last.physical_offset.value() - file_start + last.size / 2,
            last.size - last.size / 2);

  CommitLog log(Options(dir));
  ASSERT_TRUE(log.Load().ok());
  absl::StatusOr<int64_t> recovered = log.Recover(0, /*check_crc=*/true);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, last.physical_offset.value());
  EXPECT_EQ(log.MaxOffset(), last.physical_offset.value());
  EXPECT_EQ(ReadAll(log).size(), 99u);
  // The torn bytes are gone: the next record is written in their place.
  AppendResult next = AppendOne(log, Message("replacement"));
  EXPECT_EQ(next.physical_offset, last.physical_offset);
  absl::StatusOr<RecordRef> read = log.ReadRecord(next.physical_offset.value(), true);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->record.message.body, "replacement");
}

TEST(CommitLogRecoveryTest, CutsAtBitFlippedRecordAndDeletesLaterFiles) {
  std::string dir = testing::MakeTempDir();
  std::vector<AppendResult> results;
  {
    CommitLog log(Options(dir));
    ASSERT_TRUE(log.Load().ok());
    results = AppendMany(log, 200, 1000);
  }
  ASSERT_GE(results.back().physical_offset, PhysicalOffset(3 * kFileSize));
  // One bit of the queue offset of record 70 (in the second file) flipped.
  const AppendResult& bad = results[70];
  ASSERT_EQ(bad.physical_offset.value() / kFileSize, 1);
  FlipByte(FilePath(dir, kFileSize),
           bad.physical_offset.value() - kFileSize + format::kQueueOffsetOffset + 7);

  {
    // Without the CRC check a header flip goes unnoticed by the structure checks.
    CommitLog log(Options(dir));
    ASSERT_TRUE(log.Load().ok());
    LogEntry entry = log.ReadNext(bad.physical_offset.value(), /*check_crc=*/false);
    EXPECT_EQ(entry.kind, LogEntryKind::kRecord);
    EXPECT_EQ(log.ReadNext(bad.physical_offset.value(), /*check_crc=*/true).kind,
              LogEntryKind::kCorrupt);
  }
  CommitLog log(Options(dir));
  ASSERT_TRUE(log.Load().ok());
  absl::StatusOr<int64_t> recovered = log.Recover(0, /*check_crc=*/true);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, bad.physical_offset.value());
  EXPECT_EQ(log.file_queue().Files().size(), 2u);
  EXPECT_NE(::access(FilePath(dir, 2 * kFileSize).c_str(), F_OK), 0);
  EXPECT_EQ(ReadAll(log).size(), 70u);
}

TEST(CommitLogRecoveryTest, RemovesLeftoverPreparedFile) {
  std::string dir = testing::MakeTempDir();
  int64_t end;
  {
    CommitLog log(Options(dir));
    ASSERT_TRUE(log.Load().ok());
    AppendMany(log, 10, 1000);
    end = log.MaxOffset();
  }
  // A file the allocator had prepared when the process died.
  ASSERT_TRUE(MappedFile::Create(dir, kFileSize, kFileSize).ok());
  CommitLog log(Options(dir));
  ASSERT_TRUE(log.Load().ok());
  absl::StatusOr<int64_t> recovered = log.Recover(0, true);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, end);
  EXPECT_EQ(log.file_queue().Files().size(), 1u);
  EXPECT_NE(::access(FilePath(dir, kFileSize).c_str(), F_OK), 0);
}

TEST(CommitLogRecoveryTest, EmptyLog) {
  CommitLog log(Options(testing::MakeTempDir()));
  ASSERT_TRUE(log.Load().ok());
  absl::StatusOr<int64_t> recovered = log.Recover(0, true);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, 0);
  EXPECT_EQ(AppendOne(log, Message("x")).physical_offset, PhysicalOffset(0));
}

TEST(CommitLogRecoveryTest, RecoveryEndingAtAFileBoundaryContinuesInTheNextFile) {
  std::string dir = testing::MakeTempDir();
  std::vector<AppendResult> results;
  {
    CommitLog log(Options(dir));
    ASSERT_TRUE(log.Load().ok());
    results = AppendMany(log, 80, 1000);
  }
  // Corrupt the first record of the second file.
  int64_t first_in_second = -1;
  for (const AppendResult& r : results) {
    if (r.physical_offset.value() == kFileSize) first_in_second = r.physical_offset.value();
  }
  ASSERT_EQ(first_in_second, kFileSize);
  FlipByte(FilePath(dir, kFileSize), 100);
  CommitLog log(Options(dir));
  ASSERT_TRUE(log.Load().ok());
  absl::StatusOr<int64_t> recovered = log.Recover(0, true);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, kFileSize);
  AppendResult next = AppendOne(log, Message("next"));
  EXPECT_EQ(next.physical_offset, PhysicalOffset(kFileSize));
}

// Replication: copies the master's log into `slave` chunk by chunk, as the
// HA stream does, and returns the chunks' sizes.
std::vector<int64_t> Replicate(const CommitLog& master, CommitLog& slave, int64_t max_bytes) {
  std::vector<int64_t> sizes;
  int64_t next = slave.MaxOffset() == 0 ? master.MinOffset() : slave.MaxOffset();
  while (next < master.MaxOffset()) {
    absl::StatusOr<LogChunk> chunk = master.ReadChunk(next, max_bytes);
    EXPECT_TRUE(chunk.ok()) << chunk.status();
    if (!chunk.ok() || chunk->data.empty()) break;
    absl::StatusOr<int64_t> end = slave.AppendRaw(chunk->offset, chunk->data);
    EXPECT_TRUE(end.ok()) << end.status();
    if (!end.ok()) break;
    sizes.push_back(static_cast<int64_t>(chunk->data.size()));
    next = *end;
  }
  return sizes;
}

std::string ReadFileBytes(const std::string& path) {
  std::string bytes;
  int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  if (fd < 0) return bytes;
  char buffer[8192];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) bytes.append(buffer, n);
  ::close(fd);
  return bytes;
}

TEST(CommitLogReplicationTest, ChunksRebuildAByteIdenticalLog) {
  std::string master_dir = testing::MakeTempDir();
  std::string slave_dir = testing::MakeTempDir();
  CommitLog master(Options(master_dir));
  CommitLog slave(Options(slave_dir));
  ASSERT_TRUE(master.Load().ok());
  ASSERT_TRUE(slave.Load().ok());
  AppendMany(master, 200, 1000);
  ASSERT_EQ(master.file_queue().Files().size(), 4u);

  std::vector<int64_t> sizes = Replicate(master, slave, 4096);
  EXPECT_EQ(slave.MaxOffset(), master.MaxOffset());
  EXPECT_EQ(slave.MinOffset(), 0);
  for (int64_t size : sizes) {
    // At most 4 KiB, except a chunk that closes a file with its blank marker.
    EXPECT_TRUE(size <= 4096 || size < 4096 + kFileSize / 10) << size;
  }
  ASSERT_EQ(slave.file_queue().Files().size(), 4u);
  for (const auto& file : master.file_queue().Files()) {
    EXPECT_EQ(ReadFileBytes(FilePath(slave_dir, file->start_offset())), ReadFileBytes(file->path()))
        << file->path();
  }
  EXPECT_EQ(ReadAll(slave), ReadAll(master));
  // Nothing new: an empty chunk at the end.
  absl::StatusOr<LogChunk> end = master.ReadChunk(master.MaxOffset(), 4096);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->data.empty());
}

TEST(CommitLogReplicationTest, ChunkHoldsAtLeastOneRecordAndStopsAtFileEnd) {
  CommitLog master(Options(testing::MakeTempDir()));
  ASSERT_TRUE(master.Load().ok());
  std::vector<AppendResult> results = AppendMany(master, 80, 1000);
  absl::StatusOr<LogChunk> one = master.ReadChunk(0, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(static_cast<int64_t>(one->data.size()), results[0].size);
  absl::StatusOr<LogChunk> all = master.ReadChunk(results[1].physical_offset.value(), 1_GiB);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->offset + static_cast<int64_t>(all->data.size()), kFileSize);
  absl::StatusOr<LogChunk> mid = master.ReadChunk(results[0].physical_offset.value() + 1, 4096);
  EXPECT_EQ(mid.status().code(), absl::StatusCode::kDataLoss) << mid.status();
}

TEST(CommitLogReplicationTest, EmptySlaveStartsAtTheMastersFirstKeptFile) {
  CommitLog master(Options(testing::MakeTempDir()));
  ASSERT_TRUE(master.Load().ok());
  AppendMany(master, 200, 1000);
  ASSERT_EQ(master.file_queue().DeleteFilesWhile(testing::EndsBy(2 * kFileSize), 10), 2);
  ASSERT_EQ(master.MinOffset(), 2 * kFileSize);
  EXPECT_EQ(master.ReadChunk(0, 4096).status().code(), absl::StatusCode::kNotFound);

  std::string slave_dir = testing::MakeTempDir();
  CommitLog slave(Options(slave_dir));
  ASSERT_TRUE(slave.Load().ok());
  // An empty file left at offset 0 (say, by a crash right after its creation).
  ASSERT_TRUE(slave.file_queue().GetOrCreateLastFile(0).ok());
  // An empty log starts at a file boundary only.
  absl::StatusOr<LogChunk> first = master.ReadChunk(master.MinOffset(), 1);
  ASSERT_TRUE(first.ok());
  absl::StatusOr<LogChunk> second =
      master.ReadChunk(first->offset + static_cast<int64_t>(first->data.size()), 1);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(slave.AppendRaw(second->offset, second->data).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Replicate(master, slave, 4096);
  EXPECT_EQ(slave.MinOffset(), 2 * kFileSize);
  EXPECT_EQ(slave.MaxOffset(), master.MaxOffset());
  EXPECT_EQ(slave.file_queue().Files().size(), 2u);
  EXPECT_EQ(ReadAll(slave, slave.MinOffset()), ReadAll(master, master.MinOffset()));
  // The flusher starts where the data starts.
  absl::StatusOr<int64_t> flushed = slave.file_queue().Flush(0);
  ASSERT_TRUE(flushed.ok());
  EXPECT_GT(*flushed, 2 * kFileSize);
}

TEST(CommitLogReplicationTest, AppendRawChecksTheOffset) {
  CommitLog master(Options(testing::MakeTempDir()));
  CommitLog slave(Options(testing::MakeTempDir()));
  ASSERT_TRUE(master.Load().ok());
  ASSERT_TRUE(slave.Load().ok());
  AppendMany(master, 10, 100);
  absl::StatusOr<LogChunk> chunk = master.ReadChunk(0, 300);
  ASSERT_TRUE(chunk.ok());
  ASSERT_TRUE(slave.AppendRaw(0, chunk->data).ok());
  // The same chunk again, or one from further on, does not fit the end.
  absl::StatusOr<int64_t> again = slave.AppendRaw(0, chunk->data);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  EXPECT_EQ(slave.MaxOffset(), static_cast<int64_t>(chunk->data.size()));
  absl::StatusOr<LogChunk> next = master.ReadChunk(slave.MaxOffset(), 1);
  ASSERT_TRUE(next.ok());
  absl::StatusOr<LogChunk> after_next =
      master.ReadChunk(next->offset + static_cast<int64_t>(next->data.size()), 1);
  ASSERT_TRUE(after_next.ok());
  EXPECT_EQ(slave.AppendRaw(after_next->offset, after_next->data).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(slave.AppendRaw(next->offset, next->data).ok());
  EXPECT_EQ(slave.AppendRaw(slave.MaxOffset(), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(slave.AppendRaw(kFileSize - 4, std::string(8, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CommitLogReplicationTest, CorruptChunkIsRefusedWhole) {
  CommitLog master(Options(testing::MakeTempDir()));
  CommitLog slave(Options(testing::MakeTempDir()));
  ASSERT_TRUE(master.Load().ok());
  ASSERT_TRUE(slave.Load().ok());
  std::vector<AppendResult> results = AppendMany(master, 10, 100);
  absl::StatusOr<LogChunk> chunk = master.ReadChunk(0, 1_MiB);
  ASSERT_TRUE(chunk.ok());
  const std::string good(chunk->data);

  // A flipped byte in the third record: not even the first two are written.
  std::string flipped = good;
  flipped[results[2].physical_offset.value() + 50] ^= 0x01;
  absl::StatusOr<int64_t> refused = slave.AppendRaw(0, flipped);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  EXPECT_EQ(slave.MaxOffset(), 0);

  // Cut in the middle of a record.
  refused = slave.AppendRaw(
      0, absl::string_view(good).substr(0, results[1].physical_offset.value() + 10));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();

  // Valid records placed at another offset than their own.
  ASSERT_TRUE(slave.AppendRaw(0, good.substr(0, results[1].physical_offset.value())).ok());
  refused = slave.AppendRaw(slave.MaxOffset(), good.substr(0, results[1].physical_offset.value()));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();

  // A blank marker that does not close its file.
  char blank[format::kBlankMarkerMinBytes];
  format::EncodeBlankMarker(format::kBlankMarkerMinBytes, blank);
  refused = slave.AppendRaw(slave.MaxOffset(), absl::string_view(blank, sizeof(blank)));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();

  EXPECT_EQ(slave.MaxOffset(), results[1].physical_offset.value());
  ASSERT_TRUE(
      slave.AppendRaw(slave.MaxOffset(), good.substr(results[1].physical_offset.value())).ok());
  EXPECT_EQ(ReadAll(slave), ReadAll(master));
}

TEST(CommitLogReplicationTest, RefusedWhileAppendsAreRefused) {
  CommitLog master(Options(testing::MakeTempDir()));
  CommitLog slave(Options(testing::MakeTempDir()));
  ASSERT_TRUE(master.Load().ok());
  ASSERT_TRUE(slave.Load().ok());
  AppendMany(master, 2, 100);
  absl::StatusOr<LogChunk> chunk = master.ReadChunk(0, 1_MiB);
  ASSERT_TRUE(chunk.ok());
  slave.RefuseAppends("disk full");
  EXPECT_EQ(slave.AppendRaw(0, chunk->data).status().code(), absl::StatusCode::kUnavailable);
  slave.AcceptAppends();
  EXPECT_TRUE(slave.AppendRaw(0, chunk->data).ok());
}

TEST(CommitLogReplicationTest, RangeCrcComparesLogs) {
  CommitLog a(Options(testing::MakeTempDir()));
  CommitLog b(Options(testing::MakeTempDir()));
  CommitLog c(Options(testing::MakeTempDir()));
  for (CommitLog* log : {&a, &b, &c}) ASSERT_TRUE(log->Load().ok());
  AppendMany(a, 100, 1000);
  Replicate(a, b, 8192);
  AppendMany(c, 100, 1000, "other");
  int64_t end = a.MaxOffset();
  int64_t begin = end - 4096;
  absl::StatusOr<uint32_t> crc_a = a.RangeCrc(begin, end);
  ASSERT_TRUE(crc_a.ok()) << crc_a.status();
  EXPECT_EQ(*b.RangeCrc(begin, end), *crc_a);
  EXPECT_NE(*c.RangeCrc(begin, end), *crc_a);
  EXPECT_EQ(a.RangeCrc(kFileSize - 10, kFileSize + 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.RangeCrc(end - 10, end + 10).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*a.RangeCrc(5, 5), 0u);
}

}  // namespace
}  // namespace mq::store
