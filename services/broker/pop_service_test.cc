#include "services/broker/pop_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/testing/fake_clock.h"
#include "services/broker/send_message_processor.h"
#include "testing/fake_store.h"

namespace mq::broker {
namespace {

class PopServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topics_ = std::make_unique<TopicConfigManager>(&store_, TopicConfigOptions());
    ASSERT_TRUE(topics_->Load().ok());
    common::v1::TopicConfig orders;
    orders.set_topic_name("orders");
    orders.set_read_queue_nums(2);
    orders.set_write_queue_nums(2);
    orders.set_perm(kPermReadWrite);
    ASSERT_TRUE(topics_->CreateOrUpdate(orders).ok());
    SubscriptionGroupOptions group_options;
    group_options.auto_create_subscription_group = false;
    groups_ = std::make_unique<SubscriptionGroupManager>(&store_, group_options);
    ASSERT_TRUE(groups_->Load().ok());
    broker::v1::SubscriptionGroupConfig group = DefaultSubscriptionGroupConfig("G");
    group.set_retry_max_times(2);
    ASSERT_TRUE(groups_->CreateOrUpdate(group).ok());
    ASSERT_TRUE(PrepareConsumerGroup(groups_.get(), topics_.get(), "G").ok());
    offsets_ = std::make_unique<ConsumerOffsetManager>(&store_);
    SendOptions send_options;
    send_options.broker_name = "broker-a";
    send_options.store_host = "127.0.0.1:10911";
    send_ = std::make_unique<SendMessageProcessor>(&store_, topics_.get(), groups_.get(), &hooks_,
                                                   send_options);
    SendBackOptions back_options;
    back_options.broker_name = "broker-a";
    send_back_ = std::make_unique<ConsumerSendBackProcessor>(&store_, topics_.get(), groups_.get(),
                                                             send_.get(), back_options);
    pop_ = NewService();
  }

  // A service over the fixture's parts whose runner runs work inline.
  std::unique_ptr<PopService> NewService() {
    PopOptions options;
    options.broker_name = "broker-a";
    return std::make_unique<PopService>(
        &store_, topics_.get(), groups_.get(), offsets_.get(), send_back_.get(), &clock_,
        [](std::function<void()> work, std::function<void()>) { work(); }, options);
  }

  void Produce(const std::string& id, int32_t queue_id = 0, const std::string& tag = "") {
    broker::v1::SendMessageRequest request;
    request.set_producer_group("P");
    request.set_queue_id(queue_id);
    common::v1::Message& message = *request.mutable_message();
    message.set_topic("orders");
    message.set_body("body-" + id);
    (*message.mutable_properties())["UNIQ_KEY"] = id;
    if (!tag.empty()) (*message.mutable_properties())["TAGS"] = tag;
    absl::StatusOr<broker::v1::SendMessageResponse> sent = send_->Send(request, "10.0.0.9:5555");
    ASSERT_TRUE(sent.ok()) << sent.status();
  }

  broker::v1::PopMessageRequest Request(int32_t max = 32, int64_t invisible_ms = 10000) {
    broker::v1::PopMessageRequest request;
    request.set_consumer_group("G");
    request.set_topic("orders");
    request.set_queue_id(-1);
    request.set_max_msg_nums(max);
    request.set_invisible_time_ms(invisible_ms);
    return request;
  }

  absl::StatusOr<broker::v1::PopMessageResponse> Pop(const broker::v1::PopMessageRequest& request) {
    absl::StatusOr<broker::v1::PopMessageResponse> result = absl::UnknownError("not answered");
    pop_->Pop(
        request, absl::InfiniteFuture(),
        [&result](absl::StatusOr<broker::v1::PopMessageResponse> r) { result = std::move(r); });
    return result;
  }

  std::vector<std::string> Ids(const broker::v1::PopMessageResponse& response) {
    std::vector<std::string> ids;
    for (const auto& m : response.messages()) ids.push_back(m.message().msg_id());
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  broker::v1::AckMessageResponse Ack(const std::vector<std::string>& handles) {
    broker::v1::AckMessageRequest request;
    request.set_consumer_group("G");
    request.set_topic("orders");
    for (const std::string& h : handles) request.add_receipt_handles(h);
    absl::StatusOr<broker::v1::AckMessageResponse> acked = pop_->Ack(request);
    EXPECT_TRUE(acked.ok()) << acked.status();
    return acked.value_or(broker::v1::AckMessageResponse());
  }

  std::vector<common::v1::MessageExt> Read(const std::string& topic) {
    store::v1::GetMessagesRequest get;
    get.set_topic(topic);
    get.set_queue_id(0);
    get.set_max_count(100);
    absl::StatusOr<store::v1::GetMessagesResponse> got = store_.GetMessages(get);
    if (!got.ok()) return {};
    return {got->messages().begin(), got->messages().end()};
  }

  int64_t Committed(int32_t queue_id) {
    return offsets_->Query("G", "orders", queue_id).value_or(-1);
  }

  // The ids of one pop of up to 32 (invisible 10 s), sorted.
  std::vector<std::string> PopIds() {
    absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request(32, 10000));
    EXPECT_TRUE(popped.ok()) << popped.status();
    return popped.ok() ? Ids(*popped) : std::vector<std::string>();
  }

  // The POP log's end (its next offset).
  int64_t LogEnd() {
    store::v1::GetQueueOffsetsRequest request;
    request.set_topic(std::string(kPopLogTopic));
    request.set_queue_id(0);
    absl::StatusOr<store::v1::GetQueueOffsetsResponse> offsets = store_.GetQueueOffsets(request);
    EXPECT_TRUE(offsets.ok());
    return offsets.ok() ? offsets->max_offset() : -1;
  }

  // A crash: a new service (and offset manager, the committed offsets lost)
  // recovers from the same store while the old one never stops; it becomes
  // pop_, the old one is returned.
  std::unique_ptr<PopService> CrashAndRecover() {
    std::unique_ptr<PopService> old = std::move(pop_);
    offsets_ = std::make_unique<ConsumerOffsetManager>(&store_);
    pop_ = NewService();
    EXPECT_TRUE(pop_->Recover().ok());
    return old;
  }

  FakeClock clock_;
  testing::FakeStore store_;
  std::unique_ptr<TopicConfigManager> topics_;
  std::unique_ptr<SubscriptionGroupManager> groups_;
  std::unique_ptr<ConsumerOffsetManager> offsets_;
  BrokerSendHookRegistry hooks_;
  std::unique_ptr<SendMessageProcessor> send_;
  std::unique_ptr<ConsumerSendBackProcessor> send_back_;
  std::unique_ptr<PopService> pop_;
};

TEST_F(PopServiceTest, HandsOutEachMessageOnceAndAckAdvancesTheCommittedOffset) {
  Produce("a");
  Produce("b");
  Produce("c");
  Produce("d", 1);
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request());
  ASSERT_TRUE(popped.ok()) << popped.status();
  EXPECT_EQ(Ids(*popped), (std::vector<std::string>{"a", "b", "c", "d"}));
  std::map<std::string, std::string> handles;
  for (const auto& m : popped->messages()) {
    EXPECT_EQ(m.delivery_attempt(), 1);
    EXPECT_EQ(m.message().topic(), "orders");
    EXPECT_EQ(m.invisible_until_ms(), absl::ToUnixMillis(clock_.Now() + absl::Seconds(10)));
    handles[m.message().msg_id()] = m.receipt_handle();
  }
  EXPECT_EQ(pop_->in_flight_count(), 4);
  // In flight: not handed out again.
  popped = Pop(Request());
  ASSERT_TRUE(popped.ok());
  EXPECT_EQ(popped->messages_size(), 0);

  // The committed offset is the lowest unsettled one: acking b (offset 1)
  // leaves it at 0; acking a moves it past both.
  broker::v1::AckMessageResponse acked = Ack({handles["b"]});
  ASSERT_EQ(acked.results_size(), 1);
  EXPECT_EQ(acked.results(0).code(), common::v1::SUCCESS);
  EXPECT_EQ(Committed(0), 0);
  Ack({handles["a"]});
  EXPECT_EQ(Committed(0), 2);
  Ack({handles["c"], handles["d"]});
  EXPECT_EQ(Committed(0), 3);
  EXPECT_EQ(Committed(1), 1);
  EXPECT_EQ(pop_->in_flight_count(), 0);
  // An acked message's handle is spent.
  acked = Ack({handles["a"]});
  EXPECT_EQ(acked.results(0).code(), common::v1::INVALID_RECEIPT_HANDLE);
}

TEST_F(PopServiceTest, BatchSizeAndTagFilter) {
  Produce("a", 0, "TagA");
  Produce("b", 0, "TagB");
  Produce("c", 0, "TagA");
  broker::v1::PopMessageRequest request = Request(1);
  request.set_subscription("TagA");
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(request);
  ASSERT_TRUE(popped.ok());
  EXPECT_EQ(Ids(*popped), std::vector<std::string>{"a"});
  popped = Pop(request);
  ASSERT_TRUE(popped.ok());
  EXPECT_EQ(Ids(*popped), std::vector<std::string>{"c"});
  popped = Pop(request);
  ASSERT_TRUE(popped.ok());
  EXPECT_EQ(popped->messages_size(), 0);
}

TEST_F(PopServiceTest, ExpiredMessageIsRedeliveredThroughRetryWithTheAttemptCounted) {
  Produce("a");
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request(32, 5000));
  ASSERT_TRUE(popped.ok());
  ASSERT_EQ(popped->messages_size(), 1);
  const std::string first_handle = popped->messages(0).receipt_handle();
  clock_.Advance(absl::Milliseconds(4999));
  EXPECT_EQ(pop_->ReviveDue(), 0);
  clock_.Advance(absl::Milliseconds(1));
  // From the deadline on the handle is refused, before and after the revive.
  EXPECT_EQ(Ack({first_handle}).results(0).code(), common::v1::INVALID_RECEIPT_HANDLE);
  EXPECT_EQ(pop_->ReviveDue(), 1);
  EXPECT_EQ(pop_->in_flight_count(), 0);
  EXPECT_EQ(Committed(0), 1);
  ASSERT_EQ(Read("%RETRY%G").size(), 1u);
  EXPECT_EQ(Read("%RETRY%G")[0].properties().count("DELAY"), 0u);

  popped = Pop(Request());
  ASSERT_TRUE(popped.ok());
  ASSERT_EQ(popped->messages_size(), 1);
  const broker::v1::PoppedMessage& again = popped->messages(0);
  EXPECT_EQ(again.message().msg_id(), "a");
  EXPECT_EQ(again.message().topic(), "orders");
  EXPECT_EQ(again.message().body(), "body-a");
  EXPECT_EQ(again.delivery_attempt(), 2);
  EXPECT_EQ(Ack({first_handle}).results(0).code(), common::v1::INVALID_RECEIPT_HANDLE);
  EXPECT_EQ(Ack({again.receipt_handle()}).results(0).code(), common::v1::SUCCESS);
  EXPECT_EQ(offsets_->Query("G", "%RETRY%G", 0).value_or(-1), 1);
}

TEST_F(PopServiceTest, DeadLetteredAfterTheGroupsRetryMaxTimes) {
  Produce("a");
  // retry_max_times 2: attempts 1, 2 and 3, then the DLQ.
  for (int attempt = 1; attempt <= 3; ++attempt) {
    absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request(32, 1000));
    ASSERT_TRUE(popped.ok());
    ASSERT_EQ(popped->messages_size(), 1) << attempt;
    EXPECT_EQ(popped->messages(0).delivery_attempt(), attempt);
    clock_.Advance(absl::Seconds(1));
    EXPECT_EQ(pop_->ReviveDue(), 1);
  }
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request());
  ASSERT_TRUE(popped.ok());
  EXPECT_EQ(popped->messages_size(), 0);
  std::vector<common::v1::MessageExt> dead = Read("%DLQ%G");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].msg_id(), "a");
  EXPECT_EQ(dead[0].reconsume_times(), 3);
}

TEST_F(PopServiceTest, ChangeInvisibleTimeMovesTheDeadlineAndReplacesTheHandle) {
  Produce("a");
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request(32, 2000));
  ASSERT_TRUE(popped.ok());
  ASSERT_EQ(popped->messages_size(), 1);
  broker::v1::ChangeInvisibleTimeRequest change;
  change.set_consumer_group("G");
  change.set_topic("orders");
  change.set_receipt_handle(popped->messages(0).receipt_handle());
  change.set_invisible_time_ms(60000);
  absl::StatusOr<broker::v1::ChangeInvisibleTimeResponse> changed =
      pop_->ChangeInvisibleTime(change);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_NE(changed->receipt_handle(), change.receipt_handle());
  EXPECT_EQ(changed->invisible_until_ms(), absl::ToUnixMillis(clock_.Now() + absl::Minutes(1)));
  // The old handle is spent, for a second change too.
  EXPECT_EQ(Ack({change.receipt_handle()}).results(0).code(), common::v1::INVALID_RECEIPT_HANDLE);
  absl::StatusOr<broker::v1::ChangeInvisibleTimeResponse> again = pop_->ChangeInvisibleTime(change);
  EXPECT_EQ(GetResponseCode(again.status()), common::v1::INVALID_RECEIPT_HANDLE);
  // The old deadline passes without a redelivery; the new one does not.
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(pop_->ReviveDue(), 0);
  EXPECT_EQ(Ack({changed->receipt_handle()}).results(0).code(), common::v1::SUCCESS);
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(pop_->ReviveDue(), 0);
  EXPECT_TRUE(Read("%RETRY%G").empty());
}

TEST_F(PopServiceTest, ForwardToDeadLetterSettlesAtOnce) {
  Produce("a");
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request());
  ASSERT_TRUE(popped.ok());
  ASSERT_EQ(popped->messages_size(), 1);
  broker::v1::ForwardToDeadLetterRequest forward;
  forward.set_consumer_group("G");
  forward.set_topic("orders");
  forward.set_receipt_handle(popped->messages(0).receipt_handle());
  absl::StatusOr<broker::v1::ForwardToDeadLetterResponse> moved =
      pop_->ForwardToDeadLetter(forward);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->topic(), "%DLQ%G");
  EXPECT_EQ(moved->msg_id(), "a");
  EXPECT_EQ(Read("%DLQ%G").size(), 1u);
  EXPECT_EQ(Committed(0), 1);
  EXPECT_EQ(GetResponseCode(pop_->ForwardToDeadLetter(forward).status()),
            common::v1::INVALID_RECEIPT_HANDLE);
}

TEST_F(PopServiceTest, BadRequestsAreRefusedAndChangeNothing) {
  Produce("a");
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request());
  ASSERT_TRUE(popped.ok());
  ASSERT_EQ(popped->messages_size(), 1);
  const std::string handle = popped->messages(0).receipt_handle();
  ReceiptHandle other = *DecodeReceiptHandle(handle);
  other.broker_name = "broker-b";
  ReceiptHandle stale = *DecodeReceiptHandle(handle);
  stale.delivery_id += 1000;
  broker::v1::AckMessageResponse acked =
      Ack({"garbage", EncodeReceiptHandle(other), EncodeReceiptHandle(stale), ""});
  ASSERT_EQ(acked.results_size(), 4);
  for (const broker::v1::AckResult& result : acked.results()) {
    EXPECT_EQ(result.code(), common::v1::INVALID_RECEIPT_HANDLE) << result.receipt_handle();
    EXPECT_FALSE(result.error_message().empty());
  }
  EXPECT_EQ(pop_->in_flight_count(), 1);
  EXPECT_EQ(Committed(0), 0);

  // A handle of another group is not this group's.
  broker::v1::AckMessageRequest wrong_group;
  wrong_group.set_consumer_group("H");
  wrong_group.set_topic("orders");
  wrong_group.add_receipt_handles(handle);
  EXPECT_EQ(pop_->Ack(wrong_group)->results(0).code(), common::v1::INVALID_RECEIPT_HANDLE);

  broker::v1::PopMessageRequest unknown_group = Request();
  unknown_group.set_consumer_group("nobody");
  EXPECT_EQ(GetResponseCode(Pop(unknown_group).status()), common::v1::SUBSCRIPTION_GROUP_NOT_EXIST);
  broker::v1::PopMessageRequest too_long = Request(32, 12 * 3600 * 1000 + 1);
  EXPECT_TRUE(absl::IsInvalidArgument(Pop(too_long).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Pop(Request(33)).status()));
  broker::v1::ChangeInvisibleTimeRequest change;
  change.set_consumer_group("G");
  change.set_topic("orders");
  change.set_receipt_handle(handle);
  change.set_invisible_time_ms(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(pop_->ChangeInvisibleTime(change).status()));
  broker::v1::AckMessageRequest empty;
  empty.set_consumer_group("G");
  empty.set_topic("orders");
  EXPECT_TRUE(absl::IsInvalidArgument(pop_->Ack(empty).status()));
  // The message is still in flight under its handle.
  EXPECT_EQ(Ack({handle}).results(0).code(), common::v1::SUCCESS);
}

TEST_F(PopServiceTest, LongPollIsAnsweredWhenAMessageArrivesOrTheHoldEnds) {
  broker::v1::PopMessageRequest request = Request();
  request.set_poll_timeout_ms(20000);
  int answers = 0;
  absl::StatusOr<broker::v1::PopMessageResponse> result;
  auto done = [&](absl::StatusOr<broker::v1::PopMessageResponse> r) {
    ++answers;
    result = std::move(r);
  };
  pop_->Pop(request, absl::InfiniteFuture(), done);
  EXPECT_EQ(answers, 0);
  EXPECT_EQ(pop_->held_count(), 1u);
  Produce("a", 1);
  store::v1::QueueAdvance advance;
  advance.set_topic("orders");
  advance.set_queue_id(1);
  advance.set_max_offset(1);
  pop_->NotifyMessageArriving(advance);
  ASSERT_EQ(answers, 1);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(Ids(*result), std::vector<std::string>{"a"});
  EXPECT_EQ(pop_->held_count(), 0u);

  // Nothing arrives: answered empty when the poll time ends.
  pop_->Pop(request, absl::InfiniteFuture(), done);
  EXPECT_EQ(pop_->held_count(), 1u);
  clock_.Advance(absl::Seconds(19));
  pop_->EndExpiredPolls();
  EXPECT_EQ(answers, 1);
  clock_.Advance(absl::Seconds(1));
  pop_->EndExpiredPolls();
  ASSERT_EQ(answers, 2);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->messages_size(), 0);
}

TEST_F(PopServiceTest, RecoverRebuildsTheInFlightStateFromTheLog) {
  Produce("a");
  Produce("b");
  Produce("c");
  Produce("d");
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request(3, 10000));
  ASSERT_TRUE(popped.ok());
  ASSERT_EQ(Ids(*popped), (std::vector<std::string>{"a", "b", "c"}));
  std::map<std::string, std::string> handles;
  for (const auto& m : popped->messages()) handles[m.message().msg_id()] = m.receipt_handle();
  Ack({handles["b"]});
  broker::v1::ChangeInvisibleTimeRequest change;
  change.set_consumer_group("G");
  change.set_topic("orders");
  change.set_receipt_handle(handles["c"]);
  change.set_invisible_time_ms(60000);
  absl::StatusOr<broker::v1::ChangeInvisibleTimeResponse> changed =
      pop_->ChangeInvisibleTime(change);
  ASSERT_TRUE(changed.ok());

  // A restart: the service and the committed offsets are gone; the store
  // stays. (The old service stops first and writes a checkpoint; recovery
  // from a crash is CrashAndRecover's.)
  pop_.reset();
  offsets_ = std::make_unique<ConsumerOffsetManager>(&store_);
  pop_ = NewService();
  ASSERT_TRUE(pop_->Recover().ok());
  EXPECT_EQ(pop_->in_flight_count(), 2);
  EXPECT_EQ(Committed(0), 0);
  // a and c are still in flight, b settled: only d is handed out.
  popped = Pop(Request(32, 60000));
  ASSERT_TRUE(popped.ok());
  EXPECT_EQ(Ids(*popped), std::vector<std::string>{"d"});
  // The handles survive too: c's changed one is current, its first is not.
  EXPECT_EQ(Ack({handles["c"]}).results(0).code(), common::v1::INVALID_RECEIPT_HANDLE);
  // a's deadline passes: redelivered; b (acked) and c (later deadline) not.
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(pop_->ReviveDue(), 1);
  std::vector<common::v1::MessageExt> retried = Read("%RETRY%G");
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].msg_id(), "a");
  EXPECT_EQ(Ack({changed->receipt_handle()}).results(0).code(), common::v1::SUCCESS);
  // Recovered again: nothing of orders is in flight but d.
  pop_.reset();
  pop_ = NewService();
  ASSERT_TRUE(pop_->Recover().ok());
  EXPECT_EQ(pop_->in_flight_count(), 1);
  EXPECT_EQ(Committed(0), 3);
}

TEST_F(PopServiceTest, ARestartReplaysTheLogFromTheLatestCheckpoint) {
  for (const char* id : {"a", "b", "c", "d", "e"}) Produce(id);
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request(3, 10000));
  ASSERT_TRUE(popped.ok());
  ASSERT_EQ(Ids(*popped), (std::vector<std::string>{"a", "b", "c"}));
  std::map<std::string, std::string> handles;
  for (const auto& m : popped->messages()) handles[m.message().msg_id()] = m.receipt_handle();
  // An ack waits for its record, and so for every record before it.
  Ack({handles["a"]});
  const int64_t checkpoint_at = LogEnd();
  pop_->Checkpoint();
  Ack({handles["b"]});
  // Retention removed everything before the checkpoint.
  store_.RemoveBefore(std::string(kPopLogTopic), 0, checkpoint_at);

  std::unique_ptr<PopService> crashed = CrashAndRecover();
  // c is in flight (with its handle), a and b are settled: only d and e
  // are handed out.
  EXPECT_EQ(pop_->in_flight_count(), 1);
  EXPECT_EQ(PopIds(), (std::vector<std::string>{"d", "e"}));
  EXPECT_EQ(Ack({handles["c"]}).results(0).code(), common::v1::SUCCESS);
}

TEST_F(PopServiceTest, ACheckpointWithoutItsFirstPieceIsPassedOver) {
  for (const char* id : {"a", "b", "c", "d"}) Produce(id);
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request(3, 10000));
  ASSERT_TRUE(popped.ok());
  std::map<std::string, std::string> handles;
  for (const auto& m : popped->messages()) handles[m.message().msg_id()] = m.receipt_handle();
  Ack({handles["a"]});
  const int64_t checkpoint_at = LogEnd();
  pop_->Checkpoint();
  Ack({handles["b"]});
  // The last piece of a checkpoint whose earlier piece is not before it
  // (the record there is b's ack).
  internal::PopLogRecord torn;
  torn.set_checkpoint_id(1);
  torn.set_checkpoint_piece(1);
  torn.set_checkpoint_pieces(2);
  store::v1::AppendBatchRequest append;
  store::v1::AppendEntry* entry = append.add_entries();
  entry->mutable_message()->set_topic(std::string(kPopLogTopic));
  entry->mutable_message()->set_body(torn.SerializeAsString());
  entry->set_queue_id(0);
  ASSERT_TRUE(store_.AppendBatch(append).ok());
  store_.RemoveBefore(std::string(kPopLogTopic), 0, checkpoint_at);

  std::unique_ptr<PopService> crashed = CrashAndRecover();
  // Replayed from the complete checkpoint: c in flight, only d handed out.
  EXPECT_EQ(pop_->in_flight_count(), 1);
  EXPECT_EQ(PopIds(), std::vector<std::string>{"d"});
}

// A checkpoint taken while an ack's record is being written would show the
// message in flight after that record: it waits for the ack to settle.
TEST_F(PopServiceTest, ACheckpointWaitsForAnAckBetweenItsRecordAndItsSettling) {
  Produce("a");
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request(1, 10000));
  ASSERT_TRUE(popped.ok());
  ASSERT_EQ(popped->messages_size(), 1);
  const int64_t before_ack = LogEnd();
  store_.SetAppendGateOpen(false);
  std::thread ack([&] { Ack({popped->messages(0).receipt_handle()}); });
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (store_.appends_waiting_at_gate() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(store_.appends_waiting_at_gate(), 1);
  std::atomic<bool> checkpointed{false};
  std::thread checkpoint([&] {
    pop_->Checkpoint();
    checkpointed = true;
  });
  // Given time to go ahead (which it must not), the checkpoint is still
  // waiting while the ack's record is held at the gate.
  const absl::Time grace = absl::Now() + absl::Milliseconds(500);
  while (!checkpointed && absl::Now() < grace) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_FALSE(checkpointed);
  store_.SetAppendGateOpen(true);
  ack.join();
  checkpoint.join();
  ASSERT_TRUE(checkpointed);
  // Only the ack's record and the checkpoint are kept.
  store_.RemoveBefore(std::string(kPopLogTopic), 0, before_ack);
  std::unique_ptr<PopService> crashed = CrashAndRecover();
  EXPECT_EQ(pop_->in_flight_count(), 0);
  clock_.Advance(absl::Seconds(20));
  EXPECT_EQ(pop_->ReviveDue(), 0);
}

TEST_F(PopServiceTest, StopWritesACheckpointTheNextStartReplaysFrom) {
  for (const char* id : {"a", "b", "c"}) Produce(id);
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(Request(2, 10000));
  ASSERT_TRUE(popped.ok());
  Ack({popped->messages(0).receipt_handle()});
  const int64_t stop_at = LogEnd();
  pop_->Stop();
  EXPECT_GT(LogEnd(), stop_at);
  store_.RemoveBefore(std::string(kPopLogTopic), 0, stop_at);
  std::unique_ptr<PopService> stopped = CrashAndRecover();
  EXPECT_EQ(pop_->in_flight_count(), 1);
  EXPECT_EQ(PopIds(), std::vector<std::string>{"c"});
}

TEST_F(PopServiceTest, FifoGroupHandsOutAQueuesNextMessageOnlyAfterThePreviousIsSettled) {
  broker::v1::SubscriptionGroupConfig fifo = DefaultSubscriptionGroupConfig("F");
  fifo.set_consume_message_orderly(true);
  fifo.set_retry_max_times(1);
  ASSERT_TRUE(groups_->CreateOrUpdate(fifo).ok());
  Produce("a");
  Produce("b");
  Produce("c");
  broker::v1::PopMessageRequest request = Request(32, 1000);
  request.set_consumer_group("F");
  absl::StatusOr<broker::v1::PopMessageResponse> popped = Pop(request);
  ASSERT_TRUE(popped.ok());
  EXPECT_EQ(Ids(*popped), std::vector<std::string>{"a"});
  EXPECT_EQ(Pop(request)->messages_size(), 0);
  // Expired: a again, in place, attempt 2; then (retry_max_times 1) the DLQ.
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(pop_->ReviveDue(), 1);
  popped = Pop(request);
  ASSERT_TRUE(popped.ok());
  ASSERT_EQ(Ids(*popped), std::vector<std::string>{"a"});
  EXPECT_EQ(popped->messages(0).delivery_attempt(), 2);
  EXPECT_EQ(popped->messages(0).message().reconsume_times(), 1);
  EXPECT_TRUE(Read("%RETRY%F").empty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(pop_->ReviveDue(), 1);
  std::vector<common::v1::MessageExt> dead = Read("%DLQ%F");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].msg_id(), "a");
  popped = Pop(request);
  ASSERT_TRUE(popped.ok());
  ASSERT_EQ(Ids(*popped), std::vector<std::string>{"b"});
  EXPECT_EQ(popped->messages(0).delivery_attempt(), 1);

  // A held pop is answered with c as soon as b is acked.
  request.set_poll_timeout_ms(20000);
  int answers = 0;
  absl::StatusOr<broker::v1::PopMessageResponse> held;
  pop_->Pop(request, absl::InfiniteFuture(), [&](absl::StatusOr<broker::v1::PopMessageResponse> r) {
    ++answers;
    held = std::move(r);
  });
  EXPECT_EQ(answers, 0);
  broker::v1::AckMessageRequest ack;
  ack.set_consumer_group("F");
  ack.set_topic("orders");
  ack.add_receipt_handles(popped->messages(0).receipt_handle());
  ASSERT_EQ(pop_->Ack(ack)->results(0).code(), common::v1::SUCCESS);
  ASSERT_EQ(answers, 1);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(Ids(*held), std::vector<std::string>{"c"});
  EXPECT_EQ(offsets_->Query("F", "orders", 0).value_or(-1), 2);
}

TEST_F(PopServiceTest, ALargeReviveRoundRunsInChunksOnTheRunner) {
  for (int i = 0; i < 300; ++i) Produce(absl::StrCat("m", i), i % 2);
  PopOptions options;
  options.broker_name = "broker-a";
  std::atomic<int> ran{0};
  pop_ = std::make_unique<PopService>(
      &store_, topics_.get(), groups_.get(), offsets_.get(), send_back_.get(), &clock_,
      [&ran](std::function<void()> work, std::function<void()>) {
        ++ran;
        std::thread(std::move(work)).detach();
      },
      options);
  int64_t popped = 0;
  while (popped < 300) {
    absl::StatusOr<broker::v1::PopMessageResponse> got = Pop(Request(32, 5000));
    ASSERT_TRUE(got.ok());
    ASSERT_GT(got->messages_size(), 0);
    popped += got->messages_size();
  }
  clock_.Advance(absl::Seconds(5));
  const int before = ran.load();
  const size_t appends_before = store_.append_batch_sizes().size();
  const int lookups_before = store_.get_by_offset_calls();
  EXPECT_EQ(pop_->ReviveDue(), 300);
  // The due messages were read by queue ranges, none by its commit-log offset.
  EXPECT_EQ(store_.get_by_offset_calls(), lookups_before);
  // Each chunk's copies went to %RETRY%G in one append.
  std::vector<int> sizes = store_.append_batch_sizes();
  sizes.erase(sizes.begin(), sizes.begin() + static_cast<std::ptrdiff_t>(appends_before));
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(std::count(sizes.begin(), sizes.end(), 128), 2) << ::testing::PrintToString(sizes);
  EXPECT_EQ(std::count(sizes.begin(), sizes.end(), 44), 1) << ::testing::PrintToString(sizes);
  // Three chunks of 128, and at most one task of the log writer for the
  // round's record.
  EXPECT_GE(ran.load() - before, 3);
  EXPECT_LE(ran.load() - before, 4);
  EXPECT_EQ(pop_->in_flight_count(), 0);
  EXPECT_EQ(Read("%RETRY%G").size(), 100u);  // Read() reads 100 at most
  EXPECT_EQ(Committed(0), 150);
  EXPECT_EQ(Committed(1), 150);
}

TEST(ReceiptHandleTest, RoundTripsAndRefusesGarbage) {
  ReceiptHandle handle{"broker-a", "%RETRY%G", 3, 42, 7};
  absl::StatusOr<ReceiptHandle> decoded = DecodeReceiptHandle(EncodeReceiptHandle(handle));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->broker_name, "broker-a");
  EXPECT_EQ(decoded->topic, "%RETRY%G");
  EXPECT_EQ(decoded->queue_id, 3);
  EXPECT_EQ(decoded->queue_offset, 42);
  EXPECT_EQ(decoded->delivery_id, 7);
  for (const char* bad : {"", "1:a:b:0:0", "2:a:b:0:0:1", "1:a:b:x:0:1", "1:a:b:0:-1:1",
                          "1:a:b:0:0:0", "1:a b:t:0:0:1"}) {
    EXPECT_EQ(GetResponseCode(DecodeReceiptHandle(bad).status()),
              common::v1::INVALID_RECEIPT_HANDLE)
        << bad;
  }
}

}  // namespace
}  // namespace mq::broker
