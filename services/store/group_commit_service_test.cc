#include "services/store/group_commit_service.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/units.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq::store {
namespace {

constexpr int64_t kFileSize = 64_KiB;

class GroupCommitServiceTest : public ::testing::Test {
 protected:
  GroupCommitServiceTest() : queue_(MakeOptions()) {}

  static MappedFileQueueOptions MakeOptions() {
    MappedFileQueueOptions options;
    options.dir = testing::MakeTempDir();
    options.file_size = kFileSize;
    return options;
  }

  void SetUp() override { ASSERT_TRUE(queue_.Load().ok()); }

  // Returns the end offset of what was written.
  int64_t Write(int64_t bytes) {
    while (bytes > 0) {
      auto file = queue_.GetOrCreateLastFile(queue_.MaxOffset());
      EXPECT_TRUE(file.ok()) << file.status();
      if (!file.ok()) break;
      int64_t n = std::min(bytes, (*file)->remaining());
      EXPECT_TRUE((*file)->Append(std::string(n, 'g')));
      bytes -= n;
    }
    return queue_.MaxOffset();
  }

  MappedFileQueue queue_;
};

TEST_F(GroupCommitServiceTest, WaitReturnsOnceFlushed) {
  std::atomic<int64_t> reported{0};
  GroupCommitService service(&queue_, {}, [&](int64_t offset) { reported = offset; });
  service.Start();
  int64_t end = Write(1000);
  ASSERT_TRUE(service.WaitForFlush(end).ok());
  EXPECT_GE(queue_.FlushedOffset(), end);
  EXPECT_EQ(reported.load(), end);
  // Already flushed: returns at once.
  EXPECT_TRUE(service.WaitForFlush(end).ok());
}

TEST_F(GroupCommitServiceTest, WaitSpanningFiles) {
  GroupCommitService service(&queue_, {});
  service.Start();
  int64_t end = Write(3 * kFileSize + 7);
  ASSERT_TRUE(service.WaitForFlush(end).ok());
  EXPECT_EQ(queue_.FlushedOffset(), end);
}

TEST_F(GroupCommitServiceTest, OneFlushServesManyWaiters) {
  GroupCommitService service(&queue_, {});
  constexpr int kWaiters = 16;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kWaiters; ++i) {
    int64_t end = Write(100);
    threads.emplace_back([&, end] { ok += service.WaitForFlush(end).ok() ? 1 : 0; });
  }
  // Every appender is waiting before the flushing thread starts.
  ASSERT_TRUE(testing::WaitUntil([&] { return service.waiters() == kWaiters; }));
  service.Start();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kWaiters);
  EXPECT_EQ(service.flush_count(), 1);
}

TEST_F(GroupCommitServiceTest, ConcurrentAppendersAllSucceed) {
  GroupCommitService service(&queue_, {});
  service.Start();
  absl::Mutex write_mu;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        int64_t end;
        {
          absl::MutexLock lock(&write_mu);
          end = Write(300);
        }
        ok += service.WaitForFlush(end).ok() ? 1 : 0;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_LE(service.flush_count(), kThreads * kPerThread);
  EXPECT_EQ(queue_.FlushedOffset(), queue_.MaxOffset());
}

TEST_F(GroupCommitServiceTest, TimesOutWithFlushDiskTimeout) {
  GroupCommitOptions options;
  options.sync_flush_timeout = absl::Milliseconds(50);
  // Never started: nothing flushes.
  GroupCommitService service(&queue_, options);
  int64_t end = Write(10);
  absl::Status status = service.WaitForFlush(end);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_NE(status.message().find("flush disk timeout"), std::string::npos) << status;
  EXPECT_EQ(service.waiters(), 0);
}

TEST_F(GroupCommitServiceTest, StopFlushesAndReleasesWaiters) {
  GroupCommitService service(&queue_, {});
  int64_t end = Write(500);
  // A waiter for data never written can only be released by Stop().
  absl::Status unreachable;
  std::thread waiter([&] { unreachable = service.WaitForFlush(end + 1000); });
  ASSERT_TRUE(testing::WaitUntil([&] { return service.waiters() == 1; }));
  ASSERT_TRUE(service.Stop().ok());
  waiter.join();
  EXPECT_EQ(unreachable.code(), absl::StatusCode::kUnavailable) << unreachable;
  EXPECT_EQ(queue_.FlushedOffset(), end);
  EXPECT_TRUE(service.WaitForFlush(end).ok());
  EXPECT_EQ(service.WaitForFlush(end + 1).code(), absl::StatusCode::kUnavailable);
}

TEST_F(GroupCommitServiceTest, RequestFlushDoesNotWait) {
  GroupCommitService service(&queue_, {});
  service.Start();
  int64_t end = Write(64);
  service.RequestFlush(end);
  ASSERT_TRUE(testing::WaitUntil([&] { return queue_.FlushedOffset() == end; }));
}

// Collects the status a NotifyWhenFlushed callback got.
class FlushOutcome {
 public:
  std::function<void(absl::Status)> Callback() {
    return [this](absl::Status status) {
      status_ = std::move(status);
      answered_.Notify();
    };
  }
  bool answered() const { return answered_.HasBeenNotified(); }
  // The status, once answered within 10 s; UNKNOWN otherwise.
  absl::Status Await() {
    if (!answered_.WaitForNotificationWithTimeout(absl::Seconds(10))) {
      return absl::UnknownError("no answer within 10 s");
    }
    return status_;
  }

 private:
  absl::Notification answered_;
  absl::Status status_;
};

TEST_F(GroupCommitServiceTest, CallbackRunsOnceFlushed) {
  GroupCommitService service(&queue_, {});
  service.Start();
  int64_t end = Write(3 * kFileSize + 5);
  FlushOutcome pending;
  service.NotifyWhenFlushed(end, pending.Callback());
  EXPECT_TRUE(pending.Await().ok());
  EXPECT_GE(queue_.FlushedOffset(), end);
  // Already flushed: answered before the call returns, on this thread.
  FlushOutcome at_once;
  service.NotifyWhenFlushed(end, at_once.Callback());
  EXPECT_TRUE(at_once.answered());
  EXPECT_TRUE(at_once.Await().ok());
}

TEST_F(GroupCommitServiceTest, CallbackTimesOutWithFlushDiskTimeout) {
  GroupCommitOptions options;
  options.sync_flush_timeout = absl::Milliseconds(50);
  GroupCommitService service(&queue_, options);
  service.Start();
  int64_t end = Write(10);
  // Never written, so never flushed.
  FlushOutcome pending;
  service.NotifyWhenFlushed(end + 100, pending.Callback());
  absl::Status status = pending.Await();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_NE(status.message().find("flush disk timeout"), std::string::npos) << status;
}

TEST_F(GroupCommitServiceTest, ASlowCallbackDoesNotHoldUpTheNextFlush) {
  GroupCommitService service(&queue_, {});
  service.Start();
  absl::Notification running;
  absl::Notification release;
  service.NotifyWhenFlushed(Write(100), [&](absl::Status) {
    running.Notify();
    release.WaitForNotification();
  });
  ASSERT_TRUE(running.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // The callback is still running, and a later append is flushed meanwhile
  // (before the timeout, 5 s, would answer DEADLINE_EXCEEDED).
  int64_t end = Write(100);
  absl::Status status = service.WaitForFlush(end);
  release.Notify();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_GE(queue_.FlushedOffset(), end);
}

TEST_F(GroupCommitServiceTest, StopReturnsOnceEveryFlushedCallbackRan) {
  GroupCommitService service(&queue_, {});
  service.Start();
  constexpr int kCallbacks = 200;
  std::atomic<int> ok{0};
  for (int i = 0; i < kCallbacks; ++i) {
    service.NotifyWhenFlushed(Write(10), [&](absl::Status s) { ok += s.ok() ? 1 : 0; });
  }
  ASSERT_TRUE(service.Stop().ok());
  EXPECT_EQ(ok.load(), kCallbacks);
}

TEST_F(GroupCommitServiceTest, StopAnswersPendingCallbacks) {
  GroupCommitService service(&queue_, {});
  int64_t end = Write(500);
  FlushOutcome flushed_by_stop;
  FlushOutcome unreachable;
  service.NotifyWhenFlushed(end, flushed_by_stop.Callback());
  service.NotifyWhenFlushed(end + 1000, unreachable.Callback());
  EXPECT_FALSE(flushed_by_stop.answered());
  ASSERT_TRUE(service.Stop().ok());
  EXPECT_TRUE(flushed_by_stop.Await().ok());
  EXPECT_EQ(unreachable.Await().code(), absl::StatusCode::kUnavailable);
  FlushOutcome after_stop;
  service.NotifyWhenFlushed(end + 1, after_stop.Callback());
  EXPECT_EQ(after_stop.Await().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace mq::store
