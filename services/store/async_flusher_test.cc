#include "services/store/async_flusher.h"

#include <atomic>
#include <string>

#include "absl/time/clock.h"
#include "common/units.h"
#include "gtest/gtest.h"
#include "testing/mapped_files.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq::store {
namespace {

constexpr int64_t kFileSize = 64_KiB;

class AsyncFlusherTest : public ::testing::Test {
 protected:
  AsyncFlusherTest() : queue_(MakeOptions()) {}

  static MappedFileQueueOptions MakeOptions() {
    MappedFileQueueOptions options;
    options.dir = testing::MakeTempDir();
    options.file_size = kFileSize;
    return options;
  }

  void SetUp() override { ASSERT_TRUE(queue_.Load().ok()); }

  void Write(int64_t bytes) { testing::AppendAcrossFiles(queue_, bytes, 'w'); }

  MappedFileQueue queue_;
};

TEST_F(AsyncFlusherTest, FlushesOnceEnoughPagesAreDirty) {
  AsyncFlusherOptions options;
  options.interval = absl::Milliseconds(5);
  options.least_pages = 4;
  options.thorough_interval = absl::Hours(1);
  std::atomic<int64_t> reported{0};
  AsyncFlusher flusher(&queue_, options, [&](int64_t offset) { reported = offset; });
  flusher.Start();
  Write(3 * kOsPageSizeBytes);
  // Three dirty pages stay below the threshold through many intervals.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(queue_.FlushedOffset(), 0);
  Write(kOsPageSizeBytes);
  ASSERT_TRUE(testing::WaitUntil([&] { return queue_.FlushedOffset() == 4 * kOsPageSizeBytes; }));
  ASSERT_TRUE(testing::WaitUntil([&] { return reported.load() == 4 * kOsPageSizeBytes; }));
}

TEST_F(AsyncFlusherTest, ThoroughFlushTakesAnyDirtyByte) {
  AsyncFlusherOptions options;
  options.interval = absl::Milliseconds(5);
  options.thorough_interval = absl::Milliseconds(20);
  AsyncFlusher flusher(&queue_, options);
  flusher.Start();
  Write(100);
  ASSERT_TRUE(testing::WaitUntil([&] { return queue_.FlushedOffset() == 100; }));
}

TEST_F(AsyncFlusherTest, FollowsTheLogAcrossFiles) {
  AsyncFlusherOptions options;
  options.interval = absl::Milliseconds(5);
  AsyncFlusher flusher(&queue_, options);
  flusher.Start();
  Write(2 * kFileSize + 5 * kOsPageSizeBytes);
  ASSERT_TRUE(testing::WaitUntil([&] { return queue_.FlushedOffset() == queue_.MaxOffset(); }));
}

TEST_F(AsyncFlusherTest, PeriodicFlushesLeaveThePageBeingFilledUntilStop) {
  AsyncFlusherOptions options;
  options.interval = absl::Milliseconds(5);
  options.least_pages = 1;
  options.thorough_interval = absl::Hours(1);
  AsyncFlusher flusher(&queue_, options);
  flusher.Start();
  Write(2 * kOsPageSizeBytes + 100);
  ASSERT_TRUE(testing::WaitUntil([&] { return queue_.FlushedOffset() == 2 * kOsPageSizeBytes; }));
  ASSERT_TRUE(flusher.Stop().ok());
  EXPECT_EQ(queue_.FlushedOffset(), 2 * kOsPageSizeBytes + 100);
}

TEST_F(AsyncFlusherTest, StopFlushesEverything) {
  AsyncFlusherOptions options;
  options.interval = absl::Hours(1);
  int64_t reported = 0;
  AsyncFlusher flusher(&queue_, options, [&](int64_t offset) { reported = offset; });
  flusher.Start();
  Write(kFileSize + 10);
  EXPECT_EQ(queue_.FlushedOffset(), 0);
  ASSERT_TRUE(flusher.Stop().ok());
  EXPECT_EQ(queue_.FlushedOffset(), kFileSize + 10);
  EXPECT_EQ(reported, kFileSize + 10);
  EXPECT_TRUE(flusher.Stop().ok());
}

}  // namespace
}  // namespace mq::store
