#include "services/proxy/receipt_renewer.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status.h"
#include "common/testing/fake_clock.h"

namespace mq::proxy {
namespace {

constexpr absl::Duration kInvisible = absl::Seconds(30);
constexpr absl::Duration kAhead = absl::Seconds(10);

// A broker that renews by handing out "<handle>+" and remembers the calls.
class ReceiptRenewerTest : public ::testing::Test {
 protected:
  ReceiptRenewerTest()
      : renewer_(
            {kInvisible, kAhead}, &clock_,
            [this](const RenewedMessage& message,
                   absl::Duration invisible) -> absl::StatusOr<ReceiptRenewer::Renewal> {
              absl::MutexLock lock(&mu_);
              renewed_.push_back(message.current.broker_handle);
              if (!result_.ok()) return result_;
              return ReceiptRenewer::Renewal{message.current.broker_handle + "+",
                                             clock_.Now() + invisible};
            },
            [this](const std::string& client_id) {
              absl::MutexLock lock(&mu_);
              return client_id != offline_;
            }) {}

  RenewedMessage Message(const std::string& client_id, const std::string& broker_handle,
                         absl::Duration left) {
    return {client_id, "G", "T", {"broker-a", broker_handle}, clock_.Now() + left};
  }

  std::vector<std::string> Renewed() {
    absl::MutexLock lock(&mu_);
    return renewed_;
  }

  FakeClock clock_;
  absl::Mutex mu_;
  std::vector<std::string> renewed_ ABSL_GUARDED_BY(mu_);
  absl::Status result_ ABSL_GUARDED_BY(mu_);
  std::string offline_ ABSL_GUARDED_BY(mu_);
  ReceiptRenewer renewer_;
};

TEST_F(ReceiptRenewerTest, RenewsOnlyWhenLittleTimeIsLeftAndTracksTheNewHandle) {
  renewer_.Add("broker-a:h1", Message("c1", "h1", kInvisible));
  renewer_.RenewDue();
  EXPECT_TRUE(Renewed().empty());  // 30 s left: not yet
  clock_.Advance(kInvisible - kAhead + absl::Seconds(1));
  renewer_.RenewDue();
  EXPECT_EQ(Renewed(), std::vector<std::string>{"h1"});
  // Renewed for another 30 s: nothing due now.
  renewer_.RenewDue();
  EXPECT_EQ(Renewed().size(), 1u);
  clock_.Advance(kInvisible - kAhead + absl::Seconds(1));
  renewer_.RenewDue();
  EXPECT_EQ(Renewed(), (std::vector<std::string>{"h1", "h1+"}));
  // The client's handle settles the current broker handle.
  std::optional<RenewedMessage> taken = renewer_.Take("broker-a:h1");
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->current.broker_handle, "h1++");
  EXPECT_EQ(taken->current.broker_name, "broker-a");
  EXPECT_EQ(renewer_.size(), 0u);
  EXPECT_FALSE(renewer_.Take("broker-a:h1").has_value());
  // Settled: never renewed again.
  clock_.Advance(kInvisible);
  renewer_.RenewDue();
  EXPECT_EQ(Renewed().size(), 2u);
}

TEST_F(ReceiptRenewerTest, OfflineClientsAreNotRenewedAndLapse) {
  {
    absl::MutexLock lock(&mu_);
    offline_ = "gone";
  }
  renewer_.Add("broker-a:h1", Message("gone", "h1", absl::Seconds(5)));
  renewer_.Add("broker-a:h2", Message("here", "h2", absl::Seconds(5)));
  renewer_.RenewDue();
  EXPECT_EQ(Renewed(), std::vector<std::string>{"h2"});
  EXPECT_EQ(renewer_.size(), 2u);
  // Its invisible time over, the offline client's message is dropped (the
  // broker delivers it again); the other lives on.
  clock_.Advance(absl::Seconds(6));
  renewer_.RenewDue();
  EXPECT_EQ(renewer_.size(), 1u);
  EXPECT_FALSE(renewer_.Take("broker-a:h1").has_value());
  EXPECT_TRUE(renewer_.Take("broker-a:h2").has_value());
}

TEST_F(ReceiptRenewerTest, OverDeliveryIsDroppedOtherFailuresRetried) {
  renewer_.Add("broker-a:h1", Message("c1", "h1", absl::Seconds(5)));
  {
    absl::MutexLock lock(&mu_);
    result_ = absl::UnavailableError("broker down");
  }
  renewer_.RenewDue();
  EXPECT_EQ(renewer_.size(), 1u);  // tried again at the next scan
  renewer_.RenewDue();
  EXPECT_EQ(Renewed().size(), 2u);
  {
    absl::MutexLock lock(&mu_);
    result_ = WithResponseCode(absl::NotFoundError("acked elsewhere"),
                               common::v1::INVALID_RECEIPT_HANDLE);
  }
  renewer_.RenewDue();
  EXPECT_EQ(renewer_.size(), 0u);
}

TEST_F(ReceiptRenewerTest, TakeClientAndRestore) {
  renewer_.Add("broker-a:h1", Message("c1", "h1", kInvisible));
  renewer_.Add("broker-a:h2", Message("c1", "h2", kInvisible));
  renewer_.Add("broker-a:h3", Message("c2", "h3", kInvisible));
  std::vector<RenewedMessage> taken = renewer_.TakeClient("c1");
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(renewer_.size(), 1u);
  renewer_.Restore("broker-a:h1", taken[0]);
  EXPECT_EQ(renewer_.size(), 2u);
  EXPECT_EQ(renewer_.Take("broker-a:h1")->current.broker_handle, taken[0].current.broker_handle);
}

// A renewal in flight and the client's ack never overlap: Take waits for the
// renewal and returns the handle it produced.
TEST(ReceiptRenewerRaceTest, TakeWaitsForTheRenewalInFlight) {
  FakeClock clock;
  absl::Notification renewing;
  absl::Notification finish;
  ReceiptRenewer renewer(
      {kInvisible, kAhead}, &clock,
      [&](const RenewedMessage& message,
          absl::Duration invisible) -> absl::StatusOr<ReceiptRenewer::Renewal> {
        renewing.Notify();
        finish.WaitForNotification();
        return ReceiptRenewer::Renewal{message.current.broker_handle + "+",
                                       clock.Now() + invisible};
      },
      [](const std::string&) { return true; });
  renewer.Add("broker-a:h1", {"c1", "G", "T", {"broker-a", "h1"}, clock.Now() + absl::Seconds(1)});
  std::thread scan([&] { renewer.RenewDue(); });
  renewing.WaitForNotification();
  std::optional<RenewedMessage> taken;
  std::thread ack([&] { taken = renewer.Take("broker-a:h1"); });
  absl::SleepFor(absl::Milliseconds(50));  // Take is (still) waiting
  finish.Notify();
  ack.join();
  scan.join();
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->current.broker_handle, "h1+");
}

}  // namespace
}  // namespace mq::proxy
