#include "client/src/task_executor.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/wait.h"

namespace mq {
namespace client_internal {
namespace {

using ::mq::testing::WaitUntil;

TEST(TaskExecutorTest, RunsReadyTasksInOrderOnOneThread) {
  TaskExecutor executor("test", 1);
  absl::Mutex mu;
  std::vector<int> order;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(executor.Submit([&, i] {
      absl::MutexLock lock(&mu);
      order.push_back(i);
    }));
  }
  ASSERT_TRUE(WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return order.size() == 10;
  }));
  absl::MutexLock lock(&mu);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(order[i], i);
}

TEST(TaskExecutorTest, DelayedTasksRunAtTheirDueTimeInDueOrder) {
  TaskExecutor executor("test", 2);
  absl::Mutex mu;
  std::vector<int> order;
  const absl::Time start = absl::Now();
  absl::Time late_ran;
  executor.SubmitAfter(absl::Milliseconds(200), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(2);
    late_ran = absl::Now();
  });
  executor.SubmitAfter(absl::Milliseconds(50), [&] {
    absl::MutexLock lock(&mu);
    order.push_back(1);
  });
  ASSERT_TRUE(WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return order.size() == 2;
  }));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_GE(late_ran - start, absl::Milliseconds(200));
}

TEST(TaskExecutorTest, TasksRunInParallel) {
  TaskExecutor executor("test", 2);
  absl::Notification release;
  std::atomic<int> running{0};
  for (int i = 0; i < 2; ++i) {
    executor.Submit([&] {
      ++running;
      release.WaitForNotification();
    });
  }
  EXPECT_TRUE(WaitUntil([&] { return running.load() == 2; }));
  release.Notify();
}

TEST(TaskExecutorTest, ShutdownWaitsForRunningAndDropsPendingTasks) {
  TaskExecutor executor("test", 1);
  absl::Notification started;
  std::atomic<bool> finished{false};
  std::atomic<int> dropped_runs{0};
  executor.Submit([&] {
    started.Notify();
    absl::SleepFor(absl::Milliseconds(100));
    finished = true;
  });
  executor.Submit([&] { ++dropped_runs; });
  executor.SubmitAfter(absl::Milliseconds(1), [&] { ++dropped_runs; });
  started.WaitForNotification();
  EXPECT_EQ(executor.pending(), 2u);
  executor.Shutdown();
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(dropped_runs.load(), 0);
  EXPECT_FALSE(executor.Submit([] {}));
  EXPECT_EQ(executor.pending(), 0u);
}

}  // namespace
}  // namespace client_internal
}  // namespace mq
