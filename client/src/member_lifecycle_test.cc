#include "client/src/member_lifecycle.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace mq::client_internal {
namespace {

std::shared_ptr<ClientInstance> Instance() {
  ClientOptions options;
  options.name_server_addresses = {"127.0.0.1:1"};
  return std::make_shared<ClientInstance>("127.0.0.1@lifecycle", options);
}

TEST(MemberLifecycleTest, StartsOnceAndRunsUntilShutdown) {
  MemberLifecycle lifecycle("producer group G");
  EXPECT_EQ(lifecycle.state(), ServiceState::kCreateJust);
  EXPECT_EQ(lifecycle.Running().status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(lifecycle.BeginStart().ok());
  EXPECT_EQ(lifecycle.BeginStart().code(), absl::StatusCode::kFailedPrecondition);
  std::shared_ptr<ClientInstance> instance = Instance();
  lifecycle.Started(instance);
  EXPECT_EQ(lifecycle.state(), ServiceState::kRunning);
  EXPECT_EQ(lifecycle.client_id(), "127.0.0.1@lifecycle");
  EXPECT_EQ(*lifecycle.Running(), instance);
  EXPECT_EQ(lifecycle.Shutdown(), instance);
  EXPECT_EQ(lifecycle.state(), ServiceState::kShutdownAlready);
  EXPECT_EQ(lifecycle.instance(), instance) << "kept until ShutdownDone()";
  lifecycle.ShutdownDone();
  EXPECT_EQ(lifecycle.instance(), nullptr);
  EXPECT_EQ(lifecycle.Shutdown(), nullptr);
  absl::Status refused = lifecycle.Enter().status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(), "producer group G is not running (state SHUTDOWN_ALREADY)");
}

TEST(MemberLifecycleTest, ATakenGroupLeavesTheMemberStartable) {
  MemberLifecycle lifecycle("consumer group G");
  ASSERT_TRUE(lifecycle.BeginStart().ok());
  EXPECT_EQ(lifecycle.StartFailed(absl::FailedPreconditionError("taken")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(lifecycle.state(), ServiceState::kCreateJust);
  ASSERT_TRUE(lifecycle.BeginStart().ok());
  lifecycle.StartFailed(absl::InvalidArgumentError("bad options"));
  EXPECT_EQ(lifecycle.state(), ServiceState::kStartFailed);
  EXPECT_FALSE(lifecycle.BeginStart().ok());
}

TEST(MemberLifecycleTest, ShutdownWaitsForCallsInFlight) {
  MemberLifecycle lifecycle("producer group G");
  ASSERT_TRUE(lifecycle.BeginStart().ok());
  lifecycle.Started(Instance());
  ASSERT_TRUE(lifecycle.Enter().ok());
  absl::Notification shut_down;
  std::thread stopper([&] {
    lifecycle.Shutdown();
    shut_down.Notify();
  });
  EXPECT_FALSE(shut_down.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  lifecycle.Leave();
  EXPECT_TRUE(shut_down.WaitForNotificationWithTimeout(absl::Seconds(10)));
  stopper.join();
  lifecycle.ShutdownDone();
}

}  // namespace
}  // namespace mq::client_internal
