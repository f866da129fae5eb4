#include "services/store/pull_record_copier.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/units.h"
#include "gtest/gtest.h"
#include "testing/mapped_files.h"
#include "testing/temp_dir.h"

namespace mq::store {
namespace {

constexpr int64_t kFileSize = 64_KiB;

class PullRecordCopierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CommitLogOptions options;
    options.dir = testing::MakeTempDir();
    options.file_size = kFileSize;
    log_ = std::make_unique<CommitLog>(options);
    ASSERT_TRUE(log_->Load().ok());
  }

  // Appends one message per body in one batch; the units that point at them.
  std::vector<ConsumeQueueUnit> Append(const std::vector<std::string>& bodies) {
    std::vector<format::MessageRecord> records;
    for (const std::string& body : bodies) {
      format::MessageRecord r;
      r.topic = "T";
      r.body = body;
      r.born_host = format::HostAddress{0x0A000001, 4000};
      r.store_host = format::HostAddress{0x7F000001, 10911};
      records.push_back(r);
    }
    std::vector<ConsumeQueueUnit> units;
    for (const AppendResult& result : log_->AppendBatch(records)) {
      EXPECT_EQ(result.status, AppendStatus::kOk) << result.error;
      ConsumeQueueUnit unit;
      unit.queue_offset = result.queue_offset;
      unit.commit_log_offset = result.physical_offset;
      unit.size = result.size;
      units.push_back(unit);
    }
    return units;
  }

  struct Copied {
    std::string bytes;
    std::vector<std::pair<QueueOffset, absl::StatusCode>> outcomes;
  };

  Copied Copy(const std::vector<ConsumeQueueUnit>& units, int64_t min_read_run_bytes) {
    Copied copied;
    auto settle = [&](const ConsumeQueueUnit& unit, const absl::Status& status) {
      copied.outcomes.emplace_back(unit.queue_offset, status.code());
    };
    PullRecordCopier copier(log_.get(), min_read_run_bytes, &copied.bytes, settle);
    for (const ConsumeQueueUnit& unit : units) copier.Add(unit);
    copier.Finish();
    return copied;
  }

  static std::vector<std::string> Bodies(int count, size_t size, const std::string& prefix) {
    std::vector<std::string> bodies;
    for (int i = 0; i < count; ++i) {
      std::string body = absl::StrCat(prefix, "-", i);
      body.resize(size, '.');
      bodies.push_back(body);
    }
    return bodies;
  }

  std::unique_ptr<CommitLog> log_;
};

// Reads as runs (threshold 1 byte) and record by record (threshold past any
// run) give the same bytes and the same outcomes, in queue order, for runs
// and for records apart in the log.
TEST_F(PullRecordCopierTest, RunsAndSingleRecordsCopyTheSameBytes) {
  std::vector<ConsumeQueueUnit> batch = Append(Bodies(8, 500, "a"));
  std::vector<ConsumeQueueUnit> other = Append(Bodies(3, 200, "b"));
  std::vector<ConsumeQueueUnit> more = Append(Bodies(4, 700, "c"));
  // A queue's view: the batch, then every other record of `more` (the rest
  // belongs to other queues), then `other` again out of log order.
  std::vector<ConsumeQueueUnit> units = batch;
  units.push_back(more[0]);
  units.push_back(more[2]);
  units.push_back(more[3]);
  units.push_back(other[1]);

  Copied as_runs = Copy(units, 1);
  Copied one_by_one = Copy(units, int64_t{1} << 40);
  std::string expected;
  for (const ConsumeQueueUnit& unit : units) {
    ASSERT_TRUE(log_->AppendRecordBytes(unit.commit_log_offset.value(), unit.size, &expected).ok());
  }
  EXPECT_EQ(as_runs.bytes, expected);
  EXPECT_EQ(one_by_one.bytes, expected);
  ASSERT_EQ(as_runs.outcomes.size(), units.size());
  for (size_t i = 0; i < units.size(); ++i) {
    EXPECT_EQ(as_runs.outcomes[i].first, units[i].queue_offset);
    EXPECT_EQ(as_runs.outcomes[i].second, absl::StatusCode::kOk);
  }
  EXPECT_EQ(one_by_one.outcomes, as_runs.outcomes);
}

// A run holding a unit that does not match the log is copied record by
// record: the good records are served, the bad one reported alone.
TEST_F(PullRecordCopierTest, ABadUnitInARunFailsAlone) {
  std::vector<ConsumeQueueUnit> units = Append(Bodies(6, 400, "a"));
  std::vector<ConsumeQueueUnit> bad = units;
  bad[2].size += 1;  // and so bad[3] no longer follows it in the log
  Copied copied = Copy(bad, 1);
  std::string expected;
  for (int i : {0, 1, 3, 4, 5}) {
    ASSERT_TRUE(
        log_->AppendRecordBytes(units[i].commit_log_offset.value(), units[i].size, &expected).ok());
  }
  EXPECT_EQ(copied.bytes, expected);
  ASSERT_EQ(copied.outcomes.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(copied.outcomes[i].second,
              i == 2 ? absl::StatusCode::kDataLoss : absl::StatusCode::kOk)
        << i;
  }
}

// Records of a deleted file are NOT_FOUND one by one; the run in the next
// file is still served.
TEST_F(PullRecordCopierTest, RecordsOfADeletedFileAreNotFound) {
  std::vector<ConsumeQueueUnit> old = Append(Bodies(3, 1000, "old"));
  std::vector<ConsumeQueueUnit> filler;
  while (filler.empty() || filler.back().commit_log_offset < PhysicalOffset(kFileSize)) {
    filler = Append(Bodies(1, 1000, "fill"));
  }
  std::vector<ConsumeQueueUnit> fresh = Append(Bodies(3, 1000, "new"));
  ASSERT_EQ(log_->file_queue().DeleteFilesWhile(testing::EndsBy(kFileSize), 1), 1);
  std::vector<ConsumeQueueUnit> units = old;
  units.insert(units.end(), fresh.begin(), fresh.end());
  Copied copied = Copy(units, 1);
  std::string expected;
  for (const ConsumeQueueUnit& unit : fresh) {
    ASSERT_TRUE(log_->AppendRecordBytes(unit.commit_log_offset.value(), unit.size, &expected).ok());
  }
  EXPECT_EQ(copied.bytes, expected);
  ASSERT_EQ(copied.outcomes.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(copied.outcomes[i].second,
              i < 3 ? absl::StatusCode::kNotFound : absl::StatusCode::kOk)
        << i;
  }
}

}  // namespace
}  // namespace mq::store
