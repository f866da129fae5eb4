#include "common/periodic_task.h"

#include <gtest/gtest.h>

#include <atomic>

#include "absl/synchronization/notification.h"

namespace mq {
namespace {

TEST(PeriodicTaskTest, RunsRepeatedlyUntilStopped) {
  std::atomic<int> runs{0};
  absl::Notification three;
  PeriodicTask task("t", absl::ZeroDuration(), absl::Milliseconds(5), [&] {
    if (++runs == 3) three.Notify();
  });
  task.Start();
  ASSERT_TRUE(three.WaitForNotificationWithTimeout(absl::Seconds(10)));
  task.Stop();
  int after_stop = runs.load();
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(runs.load(), after_stop);
}

TEST(PeriodicTaskTest, TriggerNowSkipsTheWait) {
  absl::Notification ran;
  PeriodicTask task("t", absl::Hours(1), absl::Hours(1), [&] {
    if (!ran.HasBeenNotified()) ran.Notify();
  });
  task.Start();
  task.TriggerNow();
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST(PeriodicTaskTest, StopWithoutStartIsSafe) {
  PeriodicTask task("t", absl::Hours(1), absl::Hours(1), [] {});
  task.Stop();
}

}  // namespace
}  // namespace mq
