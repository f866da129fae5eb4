#include "services/broker/pop_log_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq::broker {
namespace {

internal::PopLogRecord Record(int64_t offset) {
  internal::PopLogRecord record;
  internal::PopLogOp* op = record.add_ops();
  op->set_group("g");
  op->set_topic("t");
  op->set_queue_offset(offset);
  return record;
}

// The store: records each append's offsets; an append can be held until
// released, and made to fail.
class FakeLog {
 public:
  absl::Status Append(const std::vector<internal::PopLogRecord>& records) {
    absl::MutexLock lock(&mu_);
    ++entered_;
    mu_.Await(absl::Condition(
        +[](FakeLog* log) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !log->held_; }, this));
    std::vector<int64_t> offsets;
    for (const internal::PopLogRecord& record : records) {
      offsets.push_back(record.ops(0).queue_offset());
    }
    appends_.push_back(offsets);
    return failure_;
  }

  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  void Fail(absl::Status status) {
    absl::MutexLock lock(&mu_);
    failure_ = std::move(status);
  }
  // Waits until `n` appends have started.
  void AwaitEntered(int n) {
    absl::MutexLock lock(&mu_);
    auto entered = [this, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return entered_ >= n; };
    ASSERT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&entered), absl::Seconds(10)));
  }
  std::vector<std::vector<int64_t>> appends() {
    absl::MutexLock lock(&mu_);
    return appends_;
  }

 private:
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int entered_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<int64_t>> appends_ ABSL_GUARDED_BY(mu_);
};

// Runs each task on a thread of its own, joined at the end of the test.
class ThreadRunner {
 public:
  ~ThreadRunner() { Join(); }
  PopLogWriter::Runner runner() {
    return [this](std::function<void()> work, std::function<void()>) {
      absl::MutexLock lock(&mu_);
      threads_.emplace_back(std::move(work));
    };
  }
  void Join() {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

class PopLogWriterTest : public ::testing::Test {
 protected:
  PopLogWriter::Append append() {
    return
        [this](const std::vector<internal::PopLogRecord>& records) { return log_.Append(records); };
  }

  FakeLog log_;
  ThreadRunner threads_;
};

TEST_F(PopLogWriterTest, WriteReturnsOnceAppended) {
  PopLogWriter writer(append(), threads_.runner(), 1 << 20);
  EXPECT_TRUE(writer.Write(Record(1)).ok());
  EXPECT_EQ(log_.appends(), (std::vector<std::vector<int64_t>>{{1}}));
}

TEST_F(PopLogWriterTest, RecordsQueuedDuringAnAppendGoTogetherInOrder) {
  PopLogWriter writer(append(), threads_.runner(), 1 << 20);
  log_.Hold();
  std::thread first([&] { EXPECT_TRUE(writer.Write(Record(1)).ok()); });
  log_.AwaitEntered(1);
  writer.Queue(Record(2));
  std::thread third([&] { EXPECT_TRUE(writer.Write(Record(3)).ok()); });
  writer.Queue(Record(4));
  // Record 3 waits before the release, or it is not the point of the test.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (writer.pending_count() < 3 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(writer.pending_count(), 3u);
  log_.Release();
  first.join();
  third.join();
  writer.Drain();
  const std::vector<std::vector<int64_t>> appends = log_.appends();
  std::vector<int64_t> order;
  for (const auto& append : appends) order.insert(order.end(), append.begin(), append.end());
  // Every record once, in hand-over order (3 queued before 4 or after it,
  // depending on the thread), the three that waited in one append.
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], 1);
  EXPECT_EQ(order[1], 2);
  EXPECT_EQ(appends.size(), 2u);
  EXPECT_EQ(writer.appends(), static_cast<int64_t>(appends.size()));
}

TEST_F(PopLogWriterTest, QueuedRecordsAloneAreWrittenByTheRunner) {
  PopLogWriter writer(append(), threads_.runner(), 1 << 20);
  writer.Queue(Record(7));
  writer.Queue(Record(8));
  threads_.Join();
  writer.Drain();
  std::vector<int64_t> order;
  for (const auto& append : log_.appends()) order.insert(order.end(), append.begin(), append.end());
  EXPECT_EQ(order, (std::vector<int64_t>{7, 8}));
}

TEST_F(PopLogWriterTest, AFailedAppendFailsEachWaiterOfItsBatch) {
  PopLogWriter writer(append(), threads_.runner(), 1 << 20);
  log_.Fail(absl::UnavailableError("store down"));
  absl::Status status = writer.Write(Record(1));
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  writer.Queue(Record(2));
  writer.Drain();
  log_.Fail(absl::OkStatus());
  EXPECT_TRUE(writer.Write(Record(3)).ok());
}

TEST_F(PopLogWriterTest, AnAppendTakesNoMoreThanTheByteCap) {
  const size_t one = Record(1).ByteSizeLong();
  // Two records fit, a third does not.
  PopLogWriter writer(append(), threads_.runner(), 2 * one + one / 2);
  log_.Hold();
  std::thread first([&] { EXPECT_TRUE(writer.Write(Record(1)).ok()); });
  log_.AwaitEntered(1);
  for (int64_t offset = 2; offset <= 6; ++offset) writer.Queue(Record(offset));
  log_.Release();
  first.join();
  writer.Drain();
  EXPECT_EQ(log_.appends(), (std::vector<std::vector<int64_t>>{{1}, {2, 3}, {4, 5}, {6}}));
}

TEST_F(PopLogWriterTest, DrainWaitsForQueuedRecords) {
  PopLogWriter writer(append(), threads_.runner(), 1 << 20);
  log_.Hold();
  writer.Queue(Record(1));
  log_.AwaitEntered(1);
  writer.Queue(Record(2));
  std::thread release([&] { log_.Release(); });
  writer.Drain();
  std::vector<int64_t> order;
  for (const auto& append : log_.appends()) order.insert(order.end(), append.begin(), append.end());
  EXPECT_EQ(order, (std::vector<int64_t>{1, 2}));
  release.join();
}

}  // namespace
}  // namespace mq::broker
