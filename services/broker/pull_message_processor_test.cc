#include "services/broker/pull_message_processor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/status.h"
#include "testing/fake_store.h"
#include "testing/small_store.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq::broker {
namespace {

using ::testing::Optional;

// Collects the single answer of a pull.
class PullAnswer {
 public:
  PullMessageProcessor::Callback callback() {
    return [this](absl::StatusOr<broker::v1::PullMessageResponse> result) {
      absl::MutexLock lock(&mu_);
      ++answers_;
      result_ = std::move(result);
      answered_at_ = absl::Now();
    };
  }
  bool answered() const {
    absl::MutexLock lock(&mu_);
    return answers_ > 0;
  }
  bool WaitAnswered(absl::Duration timeout = absl::Seconds(10)) const {
    return testing::WaitUntil([this] { return answered(); }, timeout);
  }
  absl::StatusOr<broker::v1::PullMessageResponse> result() const {
    absl::MutexLock lock(&mu_);
    return result_;
  }
  absl::Time answered_at() const {
    absl::MutexLock lock(&mu_);
    return answered_at_;
  }
  int answers() const {
    absl::MutexLock lock(&mu_);
    return answers_;
  }

 private:
  mutable absl::Mutex mu_;
  int answers_ ABSL_GUARDED_BY(mu_) = 0;
  absl::StatusOr<broker::v1::PullMessageResponse> result_ ABSL_GUARDED_BY(mu_) =
      absl::UnknownError("no answer");
  absl::Time answered_at_ ABSL_GUARDED_BY(mu_);
};

common::v1::TopicConfig Topic(const std::string& name, int queues, uint32_t perm = 6) {
  common::v1::TopicConfig config;
  config.set_topic_name(name);
  config.set_read_queue_nums(queues);
  config.set_write_queue_nums(queues);
  config.set_perm(perm);
  return config;
}

broker::v1::PullMessageRequest PullRequest(int64_t offset, const std::string& sub = "*",
                                           bool suspend = false, int64_t suspend_ms = 0) {
  broker::v1::PullMessageRequest request;
  request.set_consumer_group("cg");
  request.set_topic("orders");
  request.set_queue_id(0);
  request.set_queue_offset(offset);
  request.set_max_msg_nums(32);
  request.set_commit_offset(-1);
  request.set_suspend(suspend);
  request.set_suspend_timeout_ms(suspend_ms);
  request.set_subscription(sub);
  return request;
}

// The processor and its hold service over a store the subclass provides.
class PullTestBase : public ::testing::Test {
 protected:
  void Init(store::StoreApi* store, absl::Duration check_interval = absl::Seconds(5),
            PullOptions pull_options = {}) {
    store_ = store;
    pull_.reset();
    hold_.reset();
    offsets_ = std::make_unique<ConsumerOffsetManager>(store_);
    topics_ = std::make_unique<TopicConfigManager>(store_, TopicConfigOptions{});
    ASSERT_TRUE(topics_->Load().ok());
    ASSERT_TRUE(topics_->CreateOrUpdate(Topic("orders", 2)).ok());
    PullHoldOptions hold_options;
    hold_options.check_interval = check_interval;
    hold_ = std::make_unique<PullRequestHoldService>(
        store_,
        [this](const broker::v1::PullMessageRequest& request, const std::vector<int64_t>& codes,
               PullRequestHoldService::Callback done) {
          pull_->Execute(request, codes, std::move(done));
        },
        hold_options);
    groups_ = std::make_unique<SubscriptionGroupManager>(store_, SubscriptionGroupOptions());
    ASSERT_TRUE(groups_->Load().ok());
    pull_ = std::make_unique<PullMessageProcessor>(
        store_, topics_.get(), groups_.get(), offsets_.get(), hold_.get(), &stats_, pull_options);
    hold_->Start();
  }

  void TearDown() override {
    if (hold_ != nullptr) hold_->Stop();
  }

  void Put(const std::string& tag, int32_t queue_id = 0) {
    store::v1::AppendBatchRequest request;
    store::v1::AppendEntry* entry = request.add_entries();
    entry->mutable_message()->set_topic("orders");
    entry->mutable_message()->set_body("body-" + tag);
    (*entry->mutable_message()->mutable_properties())["TAGS"] = tag;
    entry->set_queue_id(queue_id);
    entry->set_store_host("127.0.0.1:10911");
    entry->set_born_host("127.0.0.1:1");
    absl::StatusOr<store::v1::AppendBatchResponse> response = store_->AppendBatch(request);
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->results(0).status(), store::v1::PUT_OK);
  }

  // A processor for which more than `max_in_memory_bytes` behind the log's
  // end is far behind, over 20 stored messages (about 2.5 KiB of records).
  void InitWithTwentyMessages(store::StoreApi* store, int64_t max_in_memory_bytes) {
    PullOptions options;
    options.max_in_memory_bytes = max_in_memory_bytes;
    Init(store, absl::Seconds(5), options);
    for (int i = 0; i < 20; ++i) Put("TagA");
  }

  absl::StatusOr<broker::v1::PullMessageResponse> PullNow(
      const broker::v1::PullMessageRequest& request) {
    PullAnswer answer;
    pull_->Pull(request, absl::InfiniteFuture(), answer.callback());
    EXPECT_TRUE(answer.answered()) << "a pull without suspend must answer at once";
    return answer.result();
  }

  store::StoreApi* store_ = nullptr;
  std::unique_ptr<TopicConfigManager> topics_;
  std::unique_ptr<SubscriptionGroupManager> groups_;
  std::unique_ptr<ConsumerOffsetManager> offsets_;
  BrokerStats stats_;
  std::unique_ptr<PullRequestHoldService> hold_;
  std::unique_ptr<PullMessageProcessor> pull_;
};

// Over the real in-process store: its dispatch, filtering and watch events.
class PullMessageProcessorTest : public PullTestBase {
 protected:
  void SetUp() override {
    message_store_ = testing::OpenSmallStore(testing::MakeTempDir());
    ASSERT_NE(message_store_, nullptr);
    Init(message_store_.get());
  }
  void TearDown() override {
    PullTestBase::TearDown();
    pull_.reset();
    hold_.reset();
  }

  void Dispatched() { ASSERT_TRUE(testing::WaitForDispatch(*message_store_)); }

  std::unique_ptr<store::MessageStore> message_store_;
};

// Over the fake store, for what the real one cannot be made to do.
class PullWithFakeStoreTest : public PullTestBase {
 protected:
  void SetUp() override { Init(&fake_); }

  testing::FakeStore fake_;
};

TEST(MapGetStatusTest, MapsLikeRocketMq) {
  EXPECT_EQ(MapGetStatus(store::v1::FOUND, 5), broker::v1::FOUND);
  EXPECT_EQ(MapGetStatus(store::v1::OFFSET_OVERFLOW_ONE, 5), broker::v1::NO_NEW_MSG);
  EXPECT_EQ(MapGetStatus(store::v1::OFFSET_FOUND_NULL, 5), broker::v1::NO_NEW_MSG);
  EXPECT_EQ(MapGetStatus(store::v1::NO_MESSAGE_IN_QUEUE, 0), broker::v1::NO_NEW_MSG);
  EXPECT_EQ(MapGetStatus(store::v1::NO_MESSAGE_IN_QUEUE, 5), broker::v1::OFFSET_ILLEGAL);
  EXPECT_EQ(MapGetStatus(store::v1::NO_MATCHED_MESSAGE, 5), broker::v1::NO_MATCHED_MSG);
  EXPECT_EQ(MapGetStatus(store::v1::MESSAGE_WAS_REMOVING, 5), broker::v1::NO_MATCHED_MSG);
  EXPECT_EQ(MapGetStatus(store::v1::OFFSET_TOO_SMALL, 5), broker::v1::OFFSET_ILLEGAL);
  EXPECT_EQ(MapGetStatus(store::v1::OFFSET_OVERFLOW_BADLY, 5), broker::v1::OFFSET_ILLEGAL);
}

TEST_F(PullMessageProcessorTest, FoundReturnsMessagesAndOffsets) {
  Put("TagA");
  Put("TagB");
  Put("TagA");
  Dispatched();
  absl::StatusOr<broker::v1::PullMessageResponse> response = PullNow(PullRequest(0));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status(), broker::v1::FOUND);
  EXPECT_EQ(response->messages_size(), 3);
  EXPECT_EQ(response->next_begin_offset(), 3);
  EXPECT_EQ(response->min_offset(), 0);
  EXPECT_EQ(response->max_offset(), 3);
  EXPECT_EQ(stats_.total_gets(), 3);

  response = PullNow(PullRequest(1));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->messages(0).body(), "body-TagB");
}

TEST_F(PullMessageProcessorTest, ReaderFarBehindIsSentToTheSlaveAndBackWhenCaughtUp) {
  InitWithTwentyMessages(message_store_.get(), 1000);
  Dispatched();
  broker::v1::PullMessageRequest request = PullRequest(0);
  request.set_max_msg_nums(1);
  absl::StatusOr<broker::v1::PullMessageResponse> behind = PullNow(request);
  ASSERT_TRUE(behind.ok()) << behind.status();
  EXPECT_EQ(behind->suggest_which_broker_id(), 1);
  request.set_queue_offset(19);
  absl::StatusOr<broker::v1::PullMessageResponse> caught_up = PullNow(request);
  ASSERT_TRUE(caught_up.ok()) << caught_up.status();
  EXPECT_EQ(caught_up->suggest_which_broker_id(), 0);
}

TEST_F(PullMessageProcessorTest, ReadsFromMemoryOnlyWithinMemoryOfTheLogEnd) {
  InitWithTwentyMessages(message_store_.get(), 1000);
  Dispatched();
  // Far behind: may be on disk, for the pull threads.
  EXPECT_FALSE(pull_->ReadsFromMemory(PullRequest(0)));
  // The newest records, and offsets whose answer reads no record.
  EXPECT_TRUE(pull_->ReadsFromMemory(PullRequest(19)));
  EXPECT_TRUE(pull_->ReadsFromMemory(PullRequest(20)));
  EXPECT_TRUE(pull_->ReadsFromMemory(PullRequest(500)));
  // Either way the answer is the same.
  absl::StatusOr<broker::v1::PullMessageResponse> old = PullNow(PullRequest(0));
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->status(), broker::v1::FOUND);
}

TEST_F(PullMessageProcessorTest, RecentDataIsNotReadInlineWhenTurnedOff) {
  PullOptions options;
  options.read_recent_on_grpc_threads = false;
  Init(message_store_.get(), absl::Seconds(5), options);
  Put("TagA");
  Dispatched();
  EXPECT_FALSE(pull_->ReadsFromMemory(PullRequest(0)));
}

TEST_F(PullWithFakeStoreTest, AStoreThatCannotTellIsNotReadInline) {
  EXPECT_FALSE(pull_->ReadsFromMemory(PullRequest(0)));
}

TEST_F(PullMessageProcessorTest, AReaderWithinMemoryStaysOnTheMaster) {
  Put("TagA");
  Dispatched();
  absl::StatusOr<broker::v1::PullMessageResponse> response = PullNow(PullRequest(0));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->suggest_which_broker_id(), 0);
  EXPECT_GT(PhysicalMemoryPercent(40), 0);
  EXPECT_EQ(PhysicalMemoryPercent(80) / 2, PhysicalMemoryPercent(40));
}

TEST_F(PullMessageProcessorTest, FiltersByTagHash) {
  Put("TagA");
  Put("TagB");
  Put("TagC");
  Dispatched();
  absl::StatusOr<broker::v1::PullMessageResponse> response =
      PullNow(PullRequest(0, "TagB || TagC"));
  ASSERT_TRUE(response.ok());
  ASSERT_EQ(response->messages_size(), 2);
  EXPECT_EQ(response->messages(0).body(), "body-TagB");
  EXPECT_EQ(response->messages(1).body(), "body-TagC");

  response = PullNow(PullRequest(0, "TagZ"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status(), broker::v1::NO_MATCHED_MSG);
  EXPECT_EQ(response->next_begin_offset(), 3);
}

TEST_F(PullMessageProcessorTest, EmptyAndIllegalOffsets) {
  absl::StatusOr<broker::v1::PullMessageResponse> response = PullNow(PullRequest(0));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status(), broker::v1::NO_NEW_MSG);
  Put("TagA");
  Dispatched();
  response = PullNow(PullRequest(1));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status(), broker::v1::NO_NEW_MSG);
  EXPECT_EQ(response->next_begin_offset(), 1);
  response = PullNow(PullRequest(5));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status(), broker::v1::OFFSET_ILLEGAL);
  EXPECT_EQ(response->max_offset(), 1);
}

TEST_F(PullWithFakeStoreTest, OffsetBelowTheQueueStartIsIllegal) {
  Put("TagA");
  fake_.SetMinOffset("orders", 0, 10);
  absl::StatusOr<broker::v1::PullMessageResponse> response = PullNow(PullRequest(2));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status(), broker::v1::OFFSET_ILLEGAL);
  EXPECT_EQ(response->next_begin_offset(), 10);
}

TEST_F(PullMessageProcessorTest, RefusesBadRequests) {
  auto code_of = [this](const broker::v1::PullMessageRequest& request) {
    return PullNow(request).status();
  };
  broker::v1::PullMessageRequest request = PullRequest(0);
  request.set_topic("missing");
  absl::Status status = code_of(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(GetResponseCode(status), Optional(common::v1::TOPIC_NOT_EXIST));

  ASSERT_TRUE(topics_->CreateOrUpdate(Topic("writeonly", 1, common::v1::PERM_WRITE)).ok());
  request = PullRequest(0);
  request.set_topic("writeonly");
  status = code_of(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(GetResponseCode(status), Optional(common::v1::NO_PERMISSION));

  request = PullRequest(0);
  request.set_queue_id(2);
  EXPECT_EQ(code_of(request).code(), absl::StatusCode::kInvalidArgument);
  request = PullRequest(-1);
  EXPECT_EQ(code_of(request).code(), absl::StatusCode::kInvalidArgument);
  request = PullRequest(0);
  request.set_max_msg_nums(1025);
  EXPECT_EQ(code_of(request).code(), absl::StatusCode::kInvalidArgument);
  request = PullRequest(0);
  request.clear_consumer_group();
  EXPECT_EQ(code_of(request).code(), absl::StatusCode::kInvalidArgument);
  status = code_of(PullRequest(0, "||"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(GetResponseCode(status), Optional(common::v1::SUBSCRIPTION_PARSE_FAILED));
}

TEST_F(PullMessageProcessorTest, CommitsTheCarriedOffset) {
  broker::v1::PullMessageRequest request = PullRequest(0);
  request.set_commit_offset(7);
  ASSERT_TRUE(PullNow(request).ok());
  EXPECT_THAT(offsets_->Query("cg", "orders", 0), Optional(7));
  request.set_commit_offset(-1);
  ASSERT_TRUE(PullNow(request).ok());
  EXPECT_THAT(offsets_->Query("cg", "orders", 0), Optional(7));
}

TEST_F(PullMessageProcessorTest, LongPollWakesWhenAMessageArrives) {
  PullAnswer answer;
  pull_->Pull(PullRequest(0, "*", true, 10000), absl::InfiniteFuture(), answer.callback());
  EXPECT_FALSE(answer.answered());
  EXPECT_EQ(hold_->held_count(), 1u);
  absl::Time sent = absl::Now();
  Put("TagA");
  ASSERT_TRUE(answer.WaitAnswered(absl::Seconds(5)));
  EXPECT_LT(answer.answered_at() - sent, absl::Seconds(2));
  ASSERT_TRUE(answer.result().ok());
  EXPECT_EQ(answer.result()->status(), broker::v1::FOUND);
  EXPECT_EQ(answer.result()->messages_size(), 1);
  EXPECT_EQ(hold_->held_count(), 0u);
}

TEST_F(PullMessageProcessorTest, LongPollAnswersNoNewMessageAtTheSuspendTimeout) {
  Put("TagA");
  Dispatched();
  PullAnswer answer;
  absl::Time start = absl::Now();
  pull_->Pull(PullRequest(1, "*", true, 300), absl::InfiniteFuture(), answer.callback());
  Put("TagA", /*queue_id=*/1);  // another queue: no wake
  ASSERT_TRUE(answer.WaitAnswered(absl::Seconds(5)));
  EXPECT_GE(answer.answered_at() - start, absl::Milliseconds(300));
  ASSERT_TRUE(answer.result().ok());
  EXPECT_EQ(answer.result()->status(), broker::v1::NO_NEW_MSG);
  EXPECT_EQ(answer.result()->next_begin_offset(), 1);
  EXPECT_EQ(answer.answers(), 1);
}

// The hold thread sleeps until the earliest deadline it knows of (or the next
// periodic check, 5 s away here); a pull parked while it sleeps, with an
// earlier deadline, must wake it.
TEST_F(PullMessageProcessorTest, AShortHoldParkedWhileTheThreadSleepsEndsOnTime) {
  PullAnswer first;
  pull_->Pull(PullRequest(0, "*", true, 50), absl::InfiniteFuture(), first.callback());
  ASSERT_TRUE(first.WaitAnswered(absl::Seconds(5)));
  // The thread answered it and went back to sleep until the periodic check.
  PullAnswer second;
  absl::Time start = absl::Now();
  pull_->Pull(PullRequest(0, "*", true, 300), absl::InfiniteFuture(), second.callback());
  ASSERT_TRUE(second.WaitAnswered(absl::Seconds(5)));
  EXPECT_GE(second.answered_at() - start, absl::Milliseconds(300));
  EXPECT_LT(second.answered_at() - start, absl::Seconds(2));
  ASSERT_TRUE(second.result().ok());
  EXPECT_EQ(second.result()->status(), broker::v1::NO_NEW_MSG);
}

TEST_F(PullMessageProcessorTest, HoldEndsBeforeTheClientDeadline) {
  PullAnswer answer;
  absl::Time start = absl::Now();
  pull_->Pull(PullRequest(0, "*", true, 10000), start + absl::Milliseconds(800), answer.callback());
  ASSERT_TRUE(answer.WaitAnswered(absl::Seconds(5)));
  EXPECT_LT(answer.answered_at() - start, absl::Milliseconds(800));
  EXPECT_EQ(answer.result()->status(), broker::v1::NO_NEW_MSG);

  PullAnswer late;
  pull_->Pull(PullRequest(0, "*", true, 10000), absl::Now() + absl::Milliseconds(100),
              late.callback());
  EXPECT_TRUE(late.answered()) << "no time left to hold: answered at once";
}

TEST_F(PullMessageProcessorTest, UnmatchedTagsAreSkippedUntilAMatchArrives) {
  Init(message_store_.get(), absl::Milliseconds(100));
  PullAnswer answer;
  pull_->Pull(PullRequest(0, "TagA", true, 10000), absl::InfiniteFuture(), answer.callback());
  Put("TagB");
  Put("TagC");
  absl::SleepFor(absl::Milliseconds(400));  // several periodic checks
  EXPECT_FALSE(answer.answered());
  absl::Time sent = absl::Now();
  Put("TagA");
  ASSERT_TRUE(answer.WaitAnswered(absl::Seconds(5)));
  EXPECT_LT(answer.answered_at() - sent, absl::Seconds(2));
  ASSERT_TRUE(answer.result().ok());
  EXPECT_EQ(answer.result()->status(), broker::v1::FOUND);
  ASSERT_EQ(answer.result()->messages_size(), 1);
  EXPECT_EQ(answer.result()->messages(0).queue_offset(), 2);
  EXPECT_EQ(answer.result()->next_begin_offset(), 3);
}

TEST_F(PullMessageProcessorTest, UnmatchedTagsAtTheTimeoutMoveTheOffsetOn) {
  PullAnswer answer;
  pull_->Pull(PullRequest(0, "TagA", true, 300), absl::InfiniteFuture(), answer.callback());
  Put("TagB");
  ASSERT_TRUE(answer.WaitAnswered(absl::Seconds(5)));
  ASSERT_TRUE(answer.result().ok());
  EXPECT_NE(answer.result()->status(), broker::v1::FOUND);
  EXPECT_EQ(answer.result()->next_begin_offset(), 1);
}

TEST_F(PullWithFakeStoreTest, PeriodicCheckWakesWhenAnEventIsLost) {
  Init(&fake_, absl::Milliseconds(100));
  PullAnswer answer;
  pull_->Pull(PullRequest(0, "*", true, 10000), absl::InfiniteFuture(), answer.callback());
  fake_.SetWatchEnabled(false);
  absl::Time sent = absl::Now();
  Put("TagA");
  ASSERT_TRUE(answer.WaitAnswered(absl::Seconds(5)));
  EXPECT_LT(answer.answered_at() - sent, absl::Seconds(2));
  EXPECT_EQ(answer.result()->status(), broker::v1::FOUND);
}

TEST_F(PullMessageProcessorTest, StopAnswersHeldPulls) {
  PullAnswer answer;
  pull_->Pull(PullRequest(0, "*", true, 60000), absl::InfiniteFuture(), answer.callback());
  EXPECT_FALSE(answer.answered());
  hold_->Stop();
  EXPECT_TRUE(answer.answered());
  EXPECT_EQ(answer.result()->status(), broker::v1::NO_NEW_MSG);
  // After Stop a pull is answered at once.
  PullAnswer after;
  pull_->Pull(PullRequest(0, "*", true, 60000), absl::InfiniteFuture(), after.callback());
  EXPECT_TRUE(after.answered());
}

TEST(PullRequestHoldServiceTest, ArrivalSeenBeforeTheHoldWakesAtOnce) {
  testing::FakeStore store;
  std::atomic<int> executions{0};
  PullRequestHoldService hold(
      &store,
      [&](const broker::v1::PullMessageRequest&, const std::vector<int64_t>&,
          PullRequestHoldService::Callback done) {
        ++executions;
        broker::v1::PullMessageResponse response;
        response.set_status(broker::v1::FOUND);
        done(response);
      },
      PullHoldOptions{});
  hold.Start();
  store::v1::QueueAdvance advance;
  advance.set_topic("orders");
  advance.set_queue_id(0);
  advance.set_max_offset(1);
  hold.NotifyMessageArriving(advance);
  PullAnswer answer;
  broker::v1::PullMessageRequest request = PullRequest(0);
  ASSERT_TRUE(hold.Hold(request, {}, absl::Now() + absl::Seconds(30), answer.callback()));
  ASSERT_TRUE(answer.WaitAnswered(absl::Seconds(5)));
  EXPECT_EQ(answer.result()->status(), broker::v1::FOUND);
  EXPECT_EQ(executions.load(), 1);
}

// Reads of woken pulls answer in callbacks: a read the store has not answered
// yet (a slow remote store) does not hold up the other woken pulls, and Stop()
// returns only once it has been answered.
TEST(PullRequestHoldServiceTest, ASlowReadDoesNotDelayOtherWokenPulls) {
  testing::FakeStore store;
  absl::Mutex mu;
  std::vector<PullRequestHoldService::Callback> slow_reads;
  PullRequestHoldService hold(
      &store,
      [&](const broker::v1::PullMessageRequest& request, const std::vector<int64_t>&,
          PullRequestHoldService::Callback done) {
        if (request.queue_id() == 0) {
          absl::MutexLock lock(&mu);
          slow_reads.push_back(std::move(done));
          return;
        }
        broker::v1::PullMessageResponse response;
        response.set_status(broker::v1::FOUND);
        done(response);
      },
      PullHoldOptions{});
  hold.Start();
  PullAnswer slow;
  PullAnswer fast;
  ASSERT_TRUE(hold.Hold(PullRequest(0), {}, absl::Now() + absl::Seconds(30), slow.callback()));
  broker::v1::PullMessageRequest other = PullRequest(0);
  other.set_queue_id(1);
  ASSERT_TRUE(hold.Hold(other, {}, absl::Now() + absl::Seconds(30), fast.callback()));
  for (int queue : {0, 1}) {
    store::v1::QueueAdvance advance;
    advance.set_topic(other.topic());
    advance.set_queue_id(queue);
    advance.set_max_offset(1);
    hold.NotifyMessageArriving(advance);
  }
  ASSERT_TRUE(fast.WaitAnswered(absl::Seconds(5)));
  EXPECT_EQ(fast.result()->status(), broker::v1::FOUND);
  ASSERT_TRUE(testing::WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return slow_reads.size() == 1;
  }));
  EXPECT_FALSE(slow.answered());
  EXPECT_EQ(hold.held_count(), 0u);

  // Stop waits for the read still out.
  absl::Notification stopped;
  std::thread stopper([&] {
    hold.Stop();
    stopped.Notify();
  });
  EXPECT_FALSE(stopped.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  PullRequestHoldService::Callback read;
  {
    absl::MutexLock lock(&mu);
    read = std::move(slow_reads.front());
  }
  broker::v1::PullMessageResponse response;
  response.set_status(broker::v1::FOUND);
  read(response);
  EXPECT_TRUE(stopped.WaitForNotificationWithTimeout(absl::Seconds(5)));
  stopper.join();
  ASSERT_TRUE(slow.answered());
  EXPECT_EQ(slow.result()->status(), broker::v1::FOUND);
}

TEST_F(PullWithFakeStoreTest, GroupWithConsumeDisabledAndDlqTopicsAreRefused) {
  broker::v1::SubscriptionGroupConfig group = DefaultSubscriptionGroupConfig("cg");
  group.set_consume_enable(false);
  ASSERT_TRUE(groups_->CreateOrUpdate(group).ok());
  broker::v1::PullMessageRequest request = PullRequest(0);
  absl::StatusOr<broker::v1::PullMessageResponse> refused = PullNow(request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(GetResponseCode(refused.status()), common::v1::NO_PERMISSION);
  EXPECT_NE(refused.status().message().find("does not allow consume"), std::string::npos);

  group.set_consume_enable(true);
  ASSERT_TRUE(groups_->CreateOrUpdate(group).ok());
  EXPECT_TRUE(PullNow(request).ok());

  ASSERT_TRUE(FindOrCreateDlqTopic(topics_.get(), "cg").ok());
  request.set_topic("%DLQ%cg");
  refused = PullNow(request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(GetResponseCode(refused.status()), common::v1::NO_PERMISSION);
}

}  // namespace
}  // namespace mq::broker
