#include "common/executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "testing/wait.h"

namespace mq {
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
    Executor* executor, Outcome* outcome, std::function<void()> body = [] {}) {
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

ExecutorOptions Options(int threads, size_t capacity, absl::Duration wait) {
  ExecutorOptions options;
  options.name = "send";
  options.threads = threads;
  options.capacity = capacity;
  options.max_queue_wait = wait;
  return options;
}

TEST(ExecutorTest, RunsTasks) {
  Executor executor(Options(2, 100, absl::Seconds(10)));
  executor.Start();
  std::atomic<int> count{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(executor.Submit([&count] { ++count; }, [](absl::Status) {}).ok());
  }
  EXPECT_TRUE(testing::WaitUntil([&] { return count.load() == 50; }));
}

// One task at a time runs on the thread that went idle last, so a light load
// keeps one thread warm instead of rotating through the pool.
TEST(ExecutorTest, OneTaskAtATimeRunsOnTheSameThread) {
  Executor executor(Options(8, 100, absl::Seconds(10)));
  executor.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return executor.idle_threads() == 8; }));
  std::set<std::thread::id> threads;
  for (int i = 0; i < 40; ++i) {
    absl::Notification ran;
    ASSERT_TRUE(executor
                    .Submit(
                        [&] {
                          threads.insert(std::this_thread::get_id());
                          ran.Notify();
                        },
                        [](absl::Status) {})
                    .ok());
    ASSERT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
    ASSERT_TRUE(testing::WaitUntil([&] { return executor.idle_threads() == 8; }));
  }
  EXPECT_EQ(threads.size(), 1u);
}

// Tasks that block get a thread each, up to the pool size, woken one by one.
TEST(ExecutorTest, BlockingTasksSpreadOverThePool) {
  Executor executor(Options(4, 100, absl::Seconds(10)));
  executor.Start();
  absl::Notification release;
  absl::Mutex mu;
  int running = 0;
  std::set<std::thread::id> threads;
  std::atomic<int> finished{0};
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(executor
                    .Submit(
                        [&] {
                          {
                            absl::MutexLock lock(&mu);
                            ++running;
                            threads.insert(std::this_thread::get_id());
                          }
                          release.WaitForNotification();
                          ++finished;
                        },
                        [](absl::Status) {})
                    .ok());
  }
  ASSERT_TRUE(testing::WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return running == 4;
  }));
  EXPECT_EQ(executor.queue_size(), 8u);
  EXPECT_EQ(executor.idle_threads(), 0u);
  release.Notify();
  EXPECT_TRUE(testing::WaitUntil([&] { return finished.load() == 12; }));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(threads.size(), 4u);
}

TEST(ExecutorTest, FullQueueIsBusyAtOnce) {
  Executor executor(Options(1, 2, absl::Seconds(10)));
  executor.Start();
  absl::Notification release;
  Outcome blocker, a, b, c;
  ASSERT_TRUE(SubmitRecording(&executor, &blocker, [&] { release.WaitForNotification(); }).ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return executor.queue_size() == 0; }));
  ASSERT_TRUE(SubmitRecording(&executor, &a).ok());
  ASSERT_TRUE(SubmitRecording(&executor, &b).ok());
  absl::Status full = SubmitRecording(&executor, &c);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(GetResponseCode(full), Optional(common::v1::SYSTEM_BUSY));
  release.Notify();
  EXPECT_TRUE(testing::WaitUntil([&] { return a.has_run() && b.has_run(); }));
  EXPECT_FALSE(c.done());
}

TEST(ExecutorTest, TaskThatWaitedTooLongIsAnsweredBusy) {
  Executor executor(Options(1, 100, absl::Milliseconds(50)));
  executor.Start();
  absl::Notification release;
  Outcome blocker, queued;
  ASSERT_TRUE(SubmitRecording(&executor, &blocker, [&] { release.WaitForNotification(); }).ok());
  ASSERT_TRUE(SubmitRecording(&executor, &queued).ok());
  // The sweeper answers while the only thread is still busy.
  ASSERT_TRUE(testing::WaitUntil([&] { return queued.done(); }, absl::Seconds(5)));
  absl::optional<absl::Status> rejection = queued.rejection();
  ASSERT_TRUE(rejection.has_value());
  EXPECT_EQ(rejection->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(GetResponseCode(*rejection), Optional(common::v1::SYSTEM_BUSY));
  EXPECT_THAT(std::string(rejection->message()), HasSubstr("[TIMEOUT_CLEAN_QUEUE]"));
  EXPECT_FALSE(queued.has_run());
  EXPECT_EQ(executor.timed_out_count(), 1);
  release.Notify();
  EXPECT_TRUE(testing::WaitUntil([&] { return blocker.has_run(); }));
}

TEST(ExecutorTest, StopRejectsQueuedTasksAndRefusesNewOnes) {
  Executor executor(Options(1, 100, absl::Seconds(10)));
  Outcome queued, late;
  ASSERT_TRUE(SubmitRecording(&executor, &queued).ok());  // not started: stays queued
  executor.Stop();
  absl::optional<absl::Status> rejection = queued.rejection();
  ASSERT_TRUE(rejection.has_value());
  EXPECT_EQ(rejection->code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(GetResponseCode(*rejection), Optional(common::v1::SERVICE_NOT_AVAILABLE));
  EXPECT_EQ(SubmitRecording(&executor, &late).code(), absl::StatusCode::kUnavailable);
}

// Unbounded, with delayed tasks (the push consumer's pools).

ExecutorOptions Unbounded(int threads) {
  ExecutorOptions options;
  options.name = "test";
  options.threads = threads;
  return options;
}

TEST(ExecutorTest, RunsReadyTasksInOrderOnOneThread) {
  Executor executor(Unbounded(1));
  executor.Start();
  absl::Mutex mu;
  std::vector<int> order;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(executor
                    .Submit([&, i] {
                      absl::MutexLock lock(&mu);
                      order.push_back(i);
                    })
                    .ok());
  }
  ASSERT_TRUE(testing::WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return order.size() == 10;
  }));
  absl::MutexLock lock(&mu);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(order[i], i);
}

TEST(ExecutorTest, DelayedTasksRunAtTheirDueTimeInDueOrder) {
  Executor executor(Unbounded(2));
  executor.Start();
  absl::Mutex mu;
  std::vector<int> order;
  const absl::Time start = absl::Now();
  absl::Time late_ran;
  ASSERT_TRUE(executor
                  .SubmitAfter(absl::Milliseconds(200),
                               [&] {
                                 absl::MutexLock lock(&mu);
                                 order.push_back(2);
                                 late_ran = absl::Now();
                               })
                  .ok());
  ASSERT_TRUE(executor
                  .SubmitAfter(absl::Milliseconds(50),
                               [&] {
                                 absl::MutexLock lock(&mu);
                                 order.push_back(1);
                               })
                  .ok());
  ASSERT_TRUE(testing::WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return order.size() == 2;
  }));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_GE(late_ran - start, absl::Milliseconds(200));
}

TEST(ExecutorTest, TasksRunInParallel) {
  Executor executor(Unbounded(2));
  executor.Start();
  absl::Notification release;
  std::atomic<int> running{0};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(executor
                    .Submit([&] {
                      ++running;
                      release.WaitForNotification();
                    })
                    .ok());
  }
  EXPECT_TRUE(testing::WaitUntil([&] { return running.load() == 2; }));
  release.Notify();
}

TEST(ExecutorTest, StopWaitsForRunningAndDropsPendingTasks) {
  Executor executor(Unbounded(1));
  executor.Start();
  absl::Notification started;
  std::atomic<bool> finished{false};
  std::atomic<int> dropped_runs{0};
  ASSERT_TRUE(executor
                  .Submit([&] {
                    started.Notify();
                    absl::SleepFor(absl::Milliseconds(100));
                    finished = true;
                  })
                  .ok());
  ASSERT_TRUE(executor.Submit([&] { ++dropped_runs; }).ok());
  ASSERT_TRUE(executor.SubmitAfter(absl::Milliseconds(1), [&] { ++dropped_runs; }).ok());
  started.WaitForNotification();
  EXPECT_EQ(executor.queue_size(), 2u);
  executor.Stop();
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(dropped_runs.load(), 0);
  EXPECT_FALSE(executor.Submit([] {}).ok());
  EXPECT_EQ(executor.queue_size(), 0u);
}

TEST(ExecutorTest, StopRejectsDelayedTasks) {
  Executor executor(Unbounded(1));
  executor.Start();
  Outcome delayed;
  ASSERT_TRUE(executor
                  .SubmitAfter(
                      absl::Hours(1), [&delayed] { absl::MutexLock lock(&delayed.mu); },
                      [&delayed](absl::Status status) {
                        absl::MutexLock lock(&delayed.mu);
                        delayed.rejected = status;
                      })
                  .ok());
  executor.Stop();
  absl::optional<absl::Status> rejection = delayed.rejection();
  ASSERT_TRUE(rejection.has_value());
  EXPECT_EQ(rejection->code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace mq
