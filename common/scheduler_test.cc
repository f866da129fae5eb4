#include "common/scheduler.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/wait.h"

namespace mq {
namespace {

using ::mq::testing::WaitUntil;

TEST(SchedulerTest, RunsTasksPeriodically) {
  Scheduler scheduler;
  std::atomic<int> fast{0}, slow{0};
  scheduler.Schedule("fast", absl::ZeroDuration(), absl::Milliseconds(10), [&] { ++fast; });
  scheduler.Schedule("slow", absl::Hours(1), absl::Hours(1), [&] { ++slow; });
  scheduler.Start();
  EXPECT_TRUE(WaitUntil([&] { return fast.load() >= 5; }));
  scheduler.Stop();
  EXPECT_EQ(slow.load(), 0);
}

TEST(SchedulerTest, TaskScheduledAfterStartRuns) {
  Scheduler scheduler;
  scheduler.Start();
  std::atomic<int> runs{0};
  scheduler.Schedule("late", absl::Milliseconds(1), absl::Hours(1), [&] { ++runs; });
  EXPECT_TRUE(WaitUntil([&] { return runs.load() == 1; }));
}

TEST(SchedulerTest, InitialDelayCountsFromStart) {
  Scheduler scheduler;
  std::atomic<int> runs{0};
  scheduler.Schedule("t", absl::Milliseconds(100), absl::Hours(1), [&] { ++runs; });
  absl::SleepFor(absl::Milliseconds(150));
  const absl::Time start = absl::Now();
  scheduler.Start();
  ASSERT_TRUE(WaitUntil([&] { return runs.load() == 1; }));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
}

TEST(SchedulerTest, NoRunAfterStop) {
  Scheduler scheduler;
  std::atomic<int> runs{0};
  scheduler.Schedule("tick", absl::ZeroDuration(), absl::Milliseconds(1), [&] { ++runs; });
  scheduler.Start();
  ASSERT_TRUE(WaitUntil([&] { return runs.load() > 0; }));
  scheduler.Stop();
  const int after_stop = runs.load();
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(runs.load(), after_stop);
  // Idempotent.
  scheduler.Stop();
}

TEST(SchedulerTest, StopWaitsForARunningTask) {
  Scheduler scheduler;
  std::atomic<bool> inside{false}, finished{false};
  scheduler.Schedule("long", absl::ZeroDuration(), absl::Hours(1), [&] {
    inside = true;
    absl::SleepFor(absl::Milliseconds(50));
    finished = true;
  });
  scheduler.Start();
  ASSERT_TRUE(WaitUntil([&] { return inside.load(); }));
  scheduler.Stop();
  EXPECT_TRUE(finished.load());
}

TEST(SchedulerTest, StopWithoutStartIsSafe) {
  Scheduler scheduler;
  std::atomic<int> runs{0};
  scheduler.Schedule("t", absl::ZeroDuration(), absl::Hours(1), [&] { ++runs; });
  scheduler.Stop();
  scheduler.Start();  // does nothing after Stop()
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(runs.load(), 0);
}

TEST(SchedulerTest, TriggerNowSkipsTheWait) {
  Scheduler scheduler;
  absl::Notification ran;
  std::atomic<int> other{0};
  scheduler.Schedule("t", absl::Hours(1), absl::Hours(1), [&] {
    if (!ran.HasBeenNotified()) ran.Notify();
  });
  scheduler.Schedule("other", absl::Hours(1), absl::Hours(1), [&] { ++other; });
  scheduler.Start();
  scheduler.TriggerNow("t");
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(other.load(), 0);
}

TEST(SchedulerTest, TriggerBeforeStartRunsAtStart) {
  Scheduler scheduler;
  absl::Notification ran;
  scheduler.Schedule("t", absl::Hours(1), absl::Hours(1), [&] {
    if (!ran.HasBeenNotified()) ran.Notify();
  });
  scheduler.TriggerNow("t");
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(ran.HasBeenNotified());
  scheduler.Start();
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST(SchedulerTest, TriggerDuringARunRunsAgainRightAfter) {
  Scheduler scheduler;
  absl::Notification inside, release;
  std::atomic<int> runs{0};
  scheduler.Schedule("t", absl::ZeroDuration(), absl::Hours(1), [&] {
    if (++runs == 1) {
      inside.Notify();
      release.WaitForNotification();
    }
  });
  scheduler.Start();
  inside.WaitForNotification();
  scheduler.TriggerNow("t");
  release.Notify();
  EXPECT_TRUE(WaitUntil([&] { return runs.load() == 2; }));
}

TEST(SchedulerTest, DedicatedSchedulerRunsItsTask) {
  std::atomic<int> runs{0};
  std::unique_ptr<Scheduler> scheduler =
      StartDedicatedScheduler("t", absl::ZeroDuration(), absl::Milliseconds(5), [&] { ++runs; });
  EXPECT_TRUE(WaitUntil([&] { return runs.load() >= 3; }));
  scheduler->Stop();
}

}  // namespace
}  // namespace mq
