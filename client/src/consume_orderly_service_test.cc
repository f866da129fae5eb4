#include "client/src/consume_orderly_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/testing/fake_clock.h"
#include "testing/wait.h"

namespace mq::client_internal {
namespace {

MessageQueue Queue() { return MessageQueue{"orders", "broker-a", 0}; }

std::vector<MessageExt> Messages(int64_t first, int64_t count) {
  std::vector<MessageExt> messages;
  for (int64_t offset = first; offset < first + count; ++offset) {
    MessageExt m;
    m.message = Message("orders", "", absl::StrCat("m", offset));
    m.msg_id = absl::StrCat("id", offset);
    m.broker_name = "broker-a";
    m.queue_offset = offset;
    messages.push_back(std::move(m));
  }
  return messages;
}

// One listener call as the test saw it.
struct Delivery {
  int64_t offset;
  int32_t reconsume_times;
  bool operator==(const Delivery& o) const {
    return offset == o.offset && reconsume_times == o.reconsume_times;
  }
};

std::ostream& operator<<(std::ostream& os, const Delivery& d) {
  return os << d.offset << "#" << d.reconsume_times;
}

class ConsumeOrderlyServiceTest : public ::testing::Test {
 protected:
  ~ConsumeOrderlyServiceTest() override { executor_.Stop(); }

  // Starts the service; `decide` picks the listener's answer per message.
  void Start(ConsumeOrderlyOptions options,
             std::function<ConsumeOrderlyStatus(const MessageExt&)> decide) {
    decide_ = std::move(decide);
    executor_.Start();
    service_ = std::make_unique<ConsumeOrderlyService>(
        options,
        [this](const std::vector<MessageExt>& messages, ConsumeOrderlyContext& context) {
          const int inside = ++in_listener_;
          max_in_listener_ = std::max(max_in_listener_.load(), inside);
          EXPECT_EQ(context.queue, Queue());
          context.suspend_time = absl::Milliseconds(20);
          ConsumeOrderlyStatus status = ConsumeOrderlyStatus::kSuccess;
          {
            absl::MutexLock lock(&mu_);
            for (const MessageExt& m : messages) {
              deliveries_.push_back({m.queue_offset, m.reconsume_times});
              if (decide_(m) != ConsumeOrderlyStatus::kSuccess) {
                status = ConsumeOrderlyStatus::kSuspendCurrentQueueAMoment;
              }
            }
          }
          absl::SleepFor(absl::Milliseconds(1));
          --in_listener_;
          return status;
        },
        &executor_,
        [this](const MessageExt& m) {
          absl::MutexLock lock(&mu_);
          if (dead_letter_failures_ > 0) {
            --dead_letter_failures_;
            return absl::UnavailableError("broker down");
          }
          dead_letters_.push_back({m.queue_offset, m.reconsume_times});
          return absl::OkStatus();
        },
        [this](const MessageQueue& queue, int64_t offset) {
          EXPECT_EQ(queue, Queue());
          absl::MutexLock lock(&mu_);
          offsets_.push_back(offset);
        },
        &clock_);
  }

  void Put(std::vector<MessageExt> messages) {
    if (process_queue_->Put(std::move(messages))) service_->Submit(Queue(), process_queue_);
  }

  std::vector<Delivery> deliveries() {
    absl::MutexLock lock(&mu_);
    return deliveries_;
  }
  std::vector<Delivery> dead_letters() {
    absl::MutexLock lock(&mu_);
    return dead_letters_;
  }
  std::vector<int64_t> offsets() {
    absl::MutexLock lock(&mu_);
    return offsets_;
  }
  int64_t last_offset() {
    absl::MutexLock lock(&mu_);
    return offsets_.empty() ? -1 : offsets_.back();
  }

  static ConsumeOrderlyOptions NoLock() {
    ConsumeOrderlyOptions options;
    options.needs_lock = false;
    return options;
  }

  FakeClock clock_;
  Executor executor_{ExecutorOptions{"consume", 4}};
  std::shared_ptr<ProcessQueue> process_queue_ = std::make_shared<ProcessQueue>();
  std::unique_ptr<ConsumeOrderlyService> service_;
  std::function<ConsumeOrderlyStatus(const MessageExt&)> decide_;
  std::atomic<int> in_listener_{0};
  std::atomic<int> max_in_listener_{0};

  absl::Mutex mu_;
  std::vector<Delivery> deliveries_ ABSL_GUARDED_BY(mu_);
  std::vector<Delivery> dead_letters_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> offsets_ ABSL_GUARDED_BY(mu_);
  int dead_letter_failures_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(ConsumeOrderlyServiceTest, OneMessageAtATimeInQueueOrder) {
  Start(NoLock(), [](const MessageExt&) { return ConsumeOrderlyStatus::kSuccess; });
  // Puts arrive while the queue is being consumed.
  for (int64_t first = 0; first < 60; first += 10) Put(Messages(first, 10));
  ASSERT_TRUE(testing::WaitUntil([&] { return last_offset() == 60; }));
  std::vector<Delivery> expected;
  for (int64_t offset = 0; offset < 60; ++offset) expected.push_back({offset, 0});
  EXPECT_EQ(deliveries(), expected);
  EXPECT_EQ(max_in_listener_.load(), 1);
  const std::vector<int64_t> committed = offsets();
  EXPECT_TRUE(std::is_sorted(committed.begin(), committed.end()));
}

TEST_F(ConsumeOrderlyServiceTest, ASuspendedMessageIsRetriedInPlaceBeforeTheNextOnes) {
  Start(NoLock(), [](const MessageExt& m) {
    return m.queue_offset == 2 && m.reconsume_times < 3
               ? ConsumeOrderlyStatus::kSuspendCurrentQueueAMoment
               : ConsumeOrderlyStatus::kSuccess;
  });
  Put(Messages(0, 5));
  ASSERT_TRUE(testing::WaitUntil([&] { return last_offset() == 5; }));
  EXPECT_EQ(deliveries(), (std::vector<Delivery>{
                              {0, 0}, {1, 0}, {2, 0}, {2, 1}, {2, 2}, {2, 3}, {3, 0}, {4, 0}}));
  // The offset never passed the suspended message before it succeeded.
  EXPECT_EQ(offsets(), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(dead_letters().empty());
  EXPECT_EQ(max_in_listener_.load(), 1);
}

TEST_F(ConsumeOrderlyServiceTest, UsedUpRedeliveriesGoToTheDeadLetterQueueAndTheQueueMovesOn) {
  ConsumeOrderlyOptions options = NoLock();
  options.max_reconsume_times = 2;
  Start(options, [](const MessageExt& m) {
    return m.queue_offset == 1 ? ConsumeOrderlyStatus::kSuspendCurrentQueueAMoment
                               : ConsumeOrderlyStatus::kSuccess;
  });
  Put(Messages(0, 4));
  ASSERT_TRUE(testing::WaitUntil([&] { return last_offset() == 4; }));
  EXPECT_EQ(deliveries(), (std::vector<Delivery>{{0, 0}, {1, 0}, {1, 1}, {1, 2}, {2, 0}, {3, 0}}));
  EXPECT_EQ(dead_letters(), (std::vector<Delivery>{{1, 2}}));
  EXPECT_EQ(offsets(), (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST_F(ConsumeOrderlyServiceTest, AFailedDeadLetterSendKeepsTheQueueSuspended) {
  ConsumeOrderlyOptions options = NoLock();
  options.max_reconsume_times = 1;
  {
    absl::MutexLock lock(&mu_);
    dead_letter_failures_ = 3;
  }
  Start(options, [](const MessageExt& m) {
    return m.queue_offset == 0 ? ConsumeOrderlyStatus::kSuspendCurrentQueueAMoment
                               : ConsumeOrderlyStatus::kSuccess;
  });
  Put(Messages(0, 2));
  ASSERT_TRUE(testing::WaitUntil([&] { return last_offset() == 2; }));
  // Attempts at 1, 2 and 3 redeliveries failed to reach the dead-letter
  // queue; the one at 4 did. Message 1 waited for it.
  EXPECT_EQ(deliveries(), (std::vector<Delivery>{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {1, 0}}));
  EXPECT_EQ(dead_letters(), (std::vector<Delivery>{{0, 4}}));
  EXPECT_EQ(offsets(), (std::vector<int64_t>{1, 2}));
}

TEST_F(ConsumeOrderlyServiceTest, ConsumesOnlyWhileTheQueueLockIsValid) {
  ConsumeOrderlyOptions options;
  options.lock_max_live_time = absl::Seconds(30);
  options.lock_retry_delay = absl::Milliseconds(5);
  Start(options, [](const MessageExt&) { return ConsumeOrderlyStatus::kSuccess; });
  Put(Messages(0, 2));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE(deliveries().empty()) << "consumed without the queue's lock";
  process_queue_->MarkLocked(clock_.Now());
  ASSERT_TRUE(testing::WaitUntil([&] { return last_offset() == 2; }));
  // The lock was not renewed for its max live time: consumption stops.
  clock_.Advance(absl::Seconds(30));
  Put(Messages(2, 1));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(deliveries().size(), 2u);
  process_queue_->MarkLocked(clock_.Now());
  ASSERT_TRUE(testing::WaitUntil([&] { return last_offset() == 3; }));
  process_queue_->MarkUnlocked();
  Put(Messages(3, 1));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(deliveries().size(), 3u);
}

TEST_F(ConsumeOrderlyServiceTest, ADroppedQueueIsNotConsumedFurther) {
  Start(NoLock(),
        [](const MessageExt& m) { return ConsumeOrderlyStatus::kSuspendCurrentQueueAMoment; });
  Put(Messages(0, 2));
  ASSERT_TRUE(testing::WaitUntil([&] { return !deliveries().empty(); }));
  {
    // A member releasing the queue: drop, then wait for the call in flight.
    process_queue_->Drop();
    absl::MutexLock consuming(process_queue_->consume_mutex());
  }
  const size_t seen = deliveries().size();
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(deliveries().size(), seen);
  for (const Delivery& d : deliveries()) EXPECT_EQ(d.offset, 0);
}

}  // namespace
}  // namespace mq::client_internal
