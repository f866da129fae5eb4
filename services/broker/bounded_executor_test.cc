#include "services/broker/bounded_executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "absl/synchronization/notification.h"
#include "common/status.h"
#include "services/store/test_util.h"

namespace mq::broker {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

// Records how a task ended.
struct Outcome {
  absl::Mutex mu;
  bool ran ABSL_GUARDED_BY(mu) = false;
  absl::optional<absl::Status> rejected ABSL_GUARDED_BY(mu);

  bool done() {
    absl::MutexLock lock(&mu);
    return ran || rejected.has_value();
  }
  absl::optional<absl::Status> rejection() {
    absl::MutexLock lock(&mu);
    return rejected;
  }
  bool has_run() {
    absl::MutexLock lock(&mu);
    return ran;
  }
};

absl::Status SubmitRecording(
    BoundedExecutor* executor, Outcome* outcome, std::function<void()> body = [] {}) {
  return executor->Submit(
      [outcome, body] {
        body();
        absl::MutexLock lock(&outcome->mu);
        outcome->ran = true;
      },
      [outcome](absl::Status status) {
        absl::MutexLock lock(&outcome->mu);
        outcome->rejected = status;
      });
}

BoundedExecutorOptions Options(int threads, size_t capacity, absl::Duration wait) {
  BoundedExecutorOptions options;
  options.name = "send";
  options.threads = threads;
  options.capacity = capacity;
  options.max_queue_wait = wait;
  return options;
}

TEST(BoundedExecutorTest, RunsTasks) {
  BoundedExecutor executor(Options(2, 100, absl::Seconds(10)));
  executor.Start();
  std::atomic<int> count{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(executor.Submit([&count] { ++count; }, [](absl::Status) {}).ok());
  }
  EXPECT_TRUE(store::WaitFor([&] { return count.load() == 50; }));
}

TEST(BoundedExecutorTest, FullQueueIsBusyAtOnce) {
  BoundedExecutor executor(Options(1, 2, absl::Seconds(10)));
  executor.Start();
  absl::Notification release;
  Outcome blocker, a, b, c;
  ASSERT_TRUE(SubmitRecording(&executor, &blocker, [&] { release.WaitForNotification(); }).ok());
  ASSERT_TRUE(store::WaitFor([&] { return executor.queue_size() == 0; }));
  ASSERT_TRUE(SubmitRecording(&executor, &a).ok());
  ASSERT_TRUE(SubmitRecording(&executor, &b).ok());
  absl::Status full = SubmitRecording(&executor, &c);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(GetResponseCode(full), Optional(common::v1::SYSTEM_BUSY));
  release.Notify();
  EXPECT_TRUE(store::WaitFor([&] { return a.has_run() && b.has_run(); }));
  EXPECT_FALSE(c.done());
}

TEST(BoundedExecutorTest, TaskThatWaitedTooLongIsAnsweredBusy) {
  BoundedExecutor executor(Options(1, 100, absl::Milliseconds(50)));
  executor.Start();
  absl::Notification release;
  Outcome blocker, queued;
  ASSERT_TRUE(SubmitRecording(&executor, &blocker, [&] { release.WaitForNotification(); }).ok());
  ASSERT_TRUE(SubmitRecording(&executor, &queued).ok());
  // The sweeper answers while the only thread is still busy.
  ASSERT_TRUE(store::WaitFor([&] { return queued.done(); }, absl::Seconds(5)));
  absl::optional<absl::Status> rejection = queued.rejection();
  ASSERT_TRUE(rejection.has_value());
  EXPECT_EQ(rejection->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(GetResponseCode(*rejection), Optional(common::v1::SYSTEM_BUSY));
  EXPECT_THAT(std::string(rejection->message()), HasSubstr("[TIMEOUT_CLEAN_QUEUE]"));
  EXPECT_FALSE(queued.has_run());
  EXPECT_EQ(executor.timed_out_count(), 1);
  release.Notify();
  EXPECT_TRUE(store::WaitFor([&] { return blocker.has_run(); }));
}

TEST(BoundedExecutorTest, StopRejectsQueuedTasksAndRefusesNewOnes) {
  BoundedExecutor executor(Options(1, 100, absl::Seconds(10)));
  Outcome queued, late;
  ASSERT_TRUE(SubmitRecording(&executor, &queued).ok());  // not started: stays queued
  executor.Stop();
  absl::optional<absl::Status> rejection = queued.rejection();
  ASSERT_TRUE(rejection.has_value());
  EXPECT_EQ(rejection->code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(GetResponseCode(*rejection), Optional(common::v1::SERVICE_NOT_AVAILABLE));
  EXPECT_EQ(SubmitRecording(&executor, &late).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace mq::broker
