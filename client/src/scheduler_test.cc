#include "client/src/scheduler.h"

#include <atomic>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/wait.h"

namespace mq {
namespace client_internal {
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

}  // namespace
}  // namespace client_internal
}  // namespace mq
