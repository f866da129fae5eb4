// Sending through mq::Producer against fake name server and brokers: routes,
// queue rotation, retries, the timeout budget, async, oneway, batch, ordered
// sends, compression, hooks and latency-fault tolerance.
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/src/compression.h"
#include "client/src/message_id_generator.h"
#include "client/src/producer_impl.h"
#include "common/status.h"
#include "common/testing/fake_clock.h"
#include "common/units.h"
#include "gtest/gtest.h"
#include "mq/producer.h"
#include "testing/producer_fixture.h"
#include "testing/wait.h"

namespace mq::client_internal {
namespace {

using ::mq::testing::FakeBroker;
using ::mq::testing::FakeReply;
using ::mq::testing::MakeRoute;
using ::mq::testing::ProducerFixture;
using ::mq::testing::WaitUntil;

using ProducerSendTest = ProducerFixture;

FakeReply Unavailable() {
  return FakeReply::Fail(grpc::StatusCode::UNAVAILABLE, common::v1::SERVICE_NOT_AVAILABLE);
}

// Waits for an async outcome.
class AsyncResult {
 public:
  SendCallback Callback() {
    return [this](absl::StatusOr<SendResult> result) {
      ++calls_;
      result_ = std::move(result);
      done_.Notify();
    };
  }
  absl::StatusOr<SendResult> Wait() {
    EXPECT_TRUE(done_.WaitForNotificationWithTimeout(absl::Seconds(10)));
    return result_;
  }
  int calls() const { return calls_.load(); }

 private:
  std::atomic<int> calls_{0};
  absl::Notification done_;
  absl::StatusOr<SendResult> result_ = absl::UnknownError("no result");
};

TEST_F(ProducerSendTest, RoundRobinsOverTheQueuesOfBothBrokers) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  absl::StatusOr<std::vector<MessageQueue>> order = producer.FetchPublishQueues("T");
  ASSERT_TRUE(order.ok()) << order.status();
  ASSERT_EQ(order->size(), 8u);
  auto position = [&](const MessageQueue& queue) {
    for (size_t i = 0; i < order->size(); ++i) {
      if ((*order)[i].broker_name == queue.broker_name && (*order)[i].queue_id == queue.queue_id) {
        return static_cast<int>(i);
      }
    }
    return -1;
  };
  int previous = -1;
  for (int i = 0; i < 16; ++i) {
    absl::StatusOr<SendResult> result = producer.Send(Message("T", "TagA", "body"));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->status, SendStatus::kSendOk);
    EXPECT_EQ(result->msg_id.size(), 32u);
    EXPECT_EQ(result->message_queue.topic, "T");
    int current = position(result->message_queue);
    ASSERT_GE(current, 0) << result->message_queue.broker_name << "#"
                          << result->message_queue.queue_id;
    // Strict rotation: each send takes the queue after the previous one's.
    if (previous >= 0) EXPECT_EQ(current, (previous + 1) % 8) << "send " << i;
    previous = current;
  }
  EXPECT_EQ(broker_a_.StoredSends().size(), 8u);
  EXPECT_EQ(broker_b_.StoredSends().size(), 8u);
  // The first send asks the name server; later ones use the local table (the
  // scheduled refresh right after start may add one query).
  EXPECT_LE(namesrv_.RouteQueries("T"), 2);
}

TEST_F(ProducerSendTest, RequestCarriesTheMessageAndProducerFields) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  Message message("T", "TagA", "key1 key2", "hello");
  message.set_flag(7);
  message.SetProperty("custom", "v");
  const int64_t before_ms = absl::ToUnixMillis(absl::Now());
  absl::StatusOr<SendResult> result = producer.Send(message);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<broker::v1::SendMessageRequest> sends = broker_a_.StoredSends();
  for (const auto& r : broker_b_.StoredSends()) sends.push_back(r);
  ASSERT_EQ(sends.size(), 1u);
  const broker::v1::SendMessageRequest& request = sends[0];
  EXPECT_EQ(request.producer_group(), "G");
  EXPECT_EQ(request.default_topic(), "TBW102");
  EXPECT_EQ(request.default_topic_queue_nums(), 4);
  EXPECT_EQ(request.sys_flag(), 0);
  EXPECT_GE(request.born_timestamp_ms(), before_ms);
  EXPECT_EQ(request.broker_name(), result->message_queue.broker_name);
  EXPECT_EQ(request.queue_id(), result->message_queue.queue_id);
  EXPECT_EQ(request.message().topic(), "T");
  EXPECT_EQ(request.message().flag(), 7);
  EXPECT_EQ(request.message().body(), "hello");
  const auto& properties = request.message().properties();
  EXPECT_EQ(properties.at("TAGS"), "TagA");
  EXPECT_EQ(properties.at("KEYS"), "key1 key2");
  EXPECT_EQ(properties.at("custom"), "v");
  EXPECT_EQ(properties.at("UNIQ_KEY"), result->msg_id);
  // The application's message is not modified.
  EXPECT_TRUE(message.unique_id().empty());
}

TEST_F(ProducerSendTest, ApplicationSetUniqueIdIsKept) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  Message message("T", "x");
  message.set_unique_id("MY-ID");
  absl::StatusOr<SendResult> result = producer.Send(message);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->msg_id, "MY-ID");
}

TEST_F(ProducerSendTest, UnknownTopicBorrowsTheDefaultTopicRoute) {
  namesrv_.SetRoute("TBW102", MakeRoute({{&broker_a_, 8}}));
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  // The producer fetches the default topic's route right after start.
  ASSERT_TRUE(WaitUntil([&] { return namesrv_.RouteQueries("TBW102") >= 1; }));
  absl::StatusOr<std::vector<MessageQueue>> queues = producer.FetchPublishQueues("NewTopic");
  ASSERT_TRUE(queues.ok()) << queues.status();
  // min(default_topic_queue_nums = 4, TBW102's 8 queues).
  EXPECT_EQ(queues->size(), 4u);
  const int default_route_queries = namesrv_.RouteQueries("TBW102");
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<SendResult> result = producer.Send(Message("NewTopic", "x"));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_LT(result->message_queue.queue_id, 4);
  }
  for (const auto& request : broker_a_.StoredSends()) {
    EXPECT_EQ(request.message().topic(), "NewTopic");
    EXPECT_EQ(request.default_topic(), "TBW102");
  }
  // The sends use the borrowed route from the local table.
  EXPECT_EQ(namesrv_.RouteQueries("TBW102"), default_route_queries);
}

TEST_F(ProducerSendTest, NoRouteAndNoDefaultTopicIsNotFound) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  absl::StatusOr<SendResult> result = producer.Send(Message("Nowhere", "x"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(result.status().message().find("TBW102"), absl::string_view::npos);
}

TEST_F(ProducerSendTest, NameServerDownIsUnavailable) {
  namesrv_.Stop();
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ProducerSendTest, RetryGoesToTheOtherBroker) {
  broker_a_.SetDefaultSendReply(Unavailable());
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  int tried_a = 0;
  for (int i = 0; i < 10; ++i) {
    const int calls_before = broker_a_.SendCalls();
    absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->message_queue.broker_name, "broker-b");
    // A send that failed on broker-a retries on broker-b, never on broker-a.
    const int calls = broker_a_.SendCalls() - calls_before;
    EXPECT_LE(calls, 1) << "send " << i << " tried broker-a " << calls << " times";
    tried_a += calls;
  }
  EXPECT_EQ(broker_b_.StoredSends().size(), 10u);
  // The rotation does reach broker-a, so the retries above were exercised.
  EXPECT_GE(tried_a, 1);
}

TEST_F(ProducerSendTest, GivesUpAfterOnePlusRetryTimesAttempts) {
  const FakeReply error = FakeReply::Fail(grpc::StatusCode::INTERNAL, common::v1::SYSTEM_ERROR);
  broker_a_.SetDefaultSendReply(error);
  broker_b_.SetDefaultSendReply(error);
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(GetResponseCode(result.status()), common::v1::SYSTEM_ERROR);
  EXPECT_NE(result.status().message().find("3 attempt(s)"), absl::string_view::npos);
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 3);
  // Attempts alternate between the brokers.
  EXPECT_GE(broker_a_.SendCalls(), 1);
  EXPECT_GE(broker_b_.SendCalls(), 1);
}

TEST_F(ProducerSendTest, NonRetryableCodeFailsAtOnce) {
  const FakeReply illegal =
      FakeReply::Fail(grpc::StatusCode::INVALID_ARGUMENT, common::v1::MESSAGE_ILLEGAL);
  broker_a_.SetDefaultSendReply(illegal);
  broker_b_.SetDefaultSendReply(illegal);
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetResponseCode(result.status()), common::v1::MESSAGE_ILLEGAL);
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 1);
}

TEST_F(ProducerSendTest, SystemBusyIsRetriedUnlessRemovedFromTheCodes) {
  const FakeReply busy =
      FakeReply::Fail(grpc::StatusCode::RESOURCE_EXHAUSTED, common::v1::SYSTEM_BUSY);
  broker_a_.SetDefaultSendReply(busy);
  broker_b_.SetDefaultSendReply(busy);
  {
    Producer producer("G", Options());
    ASSERT_TRUE(producer.Start().ok());
    EXPECT_EQ(producer.Send(Message("T", "x")).status().code(),
              absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 3);
  }
  ProducerOptions options = Options();
  options.retry_response_codes = {ResponseCode::kSystemError};  // RocketMQ 4.x behaviour.
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  EXPECT_FALSE(producer.Send(Message("T", "x")).ok());
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 4);
}

TEST_F(ProducerSendTest, StoppedBrokerIsRetriedElsewhere) {
  broker_a_.Stop();
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  for (int i = 0; i < 6; ++i) {
    absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->message_queue.broker_name, "broker-b");
  }
}

TEST_F(ProducerSendTest, HungBrokerDoesNotStarveTheRetry) {
  broker_a_.SetDefaultSendReply(FakeReply::Hang());
  ProducerOptions options = Options();             // 3 s budget,
  options.max_attempt_timeout = absl::Seconds(1);  // 1 s per attempt.
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  bool tried_hung_broker_first = false;
  for (int i = 0; i < 10 && !tried_hung_broker_first; ++i) {
    const int before = broker_a_.SendCalls();
    const absl::Time start = absl::Now();
    absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"));
    const absl::Duration elapsed = absl::Now() - start;
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->message_queue.broker_name, "broker-b");
    if (broker_a_.SendCalls() > before) {
      tried_hung_broker_first = true;
      EXPECT_GE(elapsed, absl::Milliseconds(950));
      EXPECT_LT(elapsed, absl::Milliseconds(2500));
    }
  }
  EXPECT_TRUE(tried_hung_broker_first);
}

// RocketMQ's default: no cap per attempt, so an attempt that a broker answers
// late (waiting for its slave or its flush) is never abandoned and retried
// elsewhere while the first broker stores it.
TEST_F(ProducerSendTest, ByDefaultAnAttemptMayUseTheWholeBudget) {
  EXPECT_EQ(ProducerOptions().max_attempt_timeout, absl::InfiniteDuration());
  broker_a_.SetDefaultSendReply(FakeReply::Hang());
  ProducerOptions options = Options();
  options.send_timeout = absl::Milliseconds(400);
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  bool saw_budget_spent = false;
  for (int i = 0; i < 10 && !saw_budget_spent; ++i) {
    const int before = broker_a_.SendCalls();
    absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"));
    if (broker_a_.SendCalls() > before) {
      saw_budget_spent = true;
      EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
    }
  }
  EXPECT_TRUE(saw_budget_spent);
}

// RocketMQ's budget covers the route lookup: a hung name server cannot make a
// send take the lookup's own timeout (api_timeout, 3 s) plus the send timeout.
TEST_F(ProducerSendTest, TheSendTimeoutCoversTheRouteLookup) {
  namesrv_.SetReply(FakeReply::Hang());
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  const absl::Time start = absl::Now();
  absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"), absl::Milliseconds(500));
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_GE(elapsed, absl::Milliseconds(450));
  EXPECT_LT(elapsed, absl::Milliseconds(1500));
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 0);

  AsyncResult outcome;
  const absl::Time async_start = absl::Now();
  producer.SendAsync(Message("T", "x"), outcome.Callback(), absl::Milliseconds(500));
  EXPECT_EQ(outcome.Wait().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - async_start, absl::Milliseconds(1500));
}

TEST_F(ProducerSendTest, BudgetIsSharedByAllAttempts) {
  broker_a_.SetDefaultSendReply(FakeReply::Hang());
  broker_b_.SetDefaultSendReply(FakeReply::Hang());
  ProducerOptions options = Options();
  options.send_timeout = absl::Milliseconds(600);
  options.max_attempt_timeout = absl::Milliseconds(200);
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  const absl::Time start = absl::Now();
  absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"));
  const absl::Duration elapsed = absl::Now() - start;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(elapsed, absl::Milliseconds(550));
  EXPECT_LT(elapsed, absl::Milliseconds(1500));
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 3);
}

TEST_F(ProducerSendTest, NotStoredOkIsReturnedUnlessRetryAnotherBrokerIsOn) {
  namesrv_.SetRoute("OnlyA", MakeRoute({{&broker_a_}}));
  broker_a_.SetDefaultSendReply(FakeReply::Ok(broker::v1::FLUSH_SLAVE_TIMEOUT));
  {
    Producer producer("G", Options());
    ASSERT_TRUE(producer.Start().ok());
    absl::StatusOr<SendResult> result = producer.Send(Message("OnlyA", "x"));
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->status, SendStatus::kFlushSlaveTimeout);
    EXPECT_EQ(broker_a_.SendCalls(), 1);
  }
  ProducerOptions options = Options();
  options.retry_another_broker_when_not_store_ok = true;
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  // Only one broker: every attempt is stored without a slave ack; the last result is returned.
  absl::StatusOr<SendResult> result = producer.Send(Message("OnlyA", "x"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->status, SendStatus::kFlushSlaveTimeout);
  EXPECT_EQ(broker_a_.SendCalls(), 4);
  // With broker-b healthy, the send ends SEND_OK there.
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<SendResult> r = producer.Send(Message("T", "x"));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, SendStatus::kSendOk);
    EXPECT_EQ(r->message_queue.broker_name, "broker-b");
  }
}

TEST_F(ProducerSendTest, AsyncSendReportsOnce) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  AsyncResult outcome;
  producer.SendAsync(Message("T", "x"), outcome.Callback());
  absl::StatusOr<SendResult> result = outcome.Wait();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->status, SendStatus::kSendOk);
  EXPECT_EQ(outcome.calls(), 1);
}

// No answer: the stream to broker-a ends with the send unanswered.
FakeReply NoAnswer() { return FakeReply::EndStream(grpc::StatusCode::UNAVAILABLE); }

TEST_F(ProducerSendTest, AsyncSendRetriesOnTheOtherBrokerWhenNoAnswerCame) {
  broker_a_.SetDefaultSendReply(NoAnswer());
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  for (int i = 0; i < 6; ++i) {
    AsyncResult outcome;
    producer.SendAsync(Message("T", "x"), outcome.Callback());
    absl::StatusOr<SendResult> result = outcome.Wait();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->message_queue.broker_name, "broker-b");
    EXPECT_EQ(outcome.calls(), 1);
  }
}

// RocketMQ retries an async send only when no answer came: an error answer
// (here SERVICE_NOT_AVAILABLE, which a sync send would retry) goes to the
// callback after one attempt.
TEST_F(ProducerSendTest, AsyncSendDoesNotRetryABrokerErrorAnswer) {
  broker_a_.SetDefaultSendReply(Unavailable());
  broker_b_.SetDefaultSendReply(Unavailable());
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  for (int i = 0; i < 4; ++i) {
    AsyncResult outcome;
    const int calls_before = broker_a_.SendCalls() + broker_b_.SendCalls();
    producer.SendAsync(Message("T", "x"), outcome.Callback());
    absl::StatusOr<SendResult> result = outcome.Wait();
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(GetResponseCode(result.status()), common::v1::SERVICE_NOT_AVAILABLE);
    EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), calls_before + 1);
  }
}

TEST_F(ProducerSendTest, AsyncSendHasItsOwnRetryCount) {
  broker_a_.SetDefaultSendReply(NoAnswer());
  broker_b_.SetDefaultSendReply(NoAnswer());
  ProducerOptions options = Options();
  options.retry_times_when_send_failed = 0;
  options.retry_times_when_send_async_failed = 3;
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  AsyncResult outcome;
  producer.SendAsync(Message("T", "x"), outcome.Callback());
  absl::StatusOr<SendResult> result = outcome.Wait();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 4);
  EXPECT_EQ(outcome.calls(), 1);
}

TEST_F(ProducerSendTest, AsyncSendDoesNotRetryAFinalCode) {
  const FakeReply illegal =
      FakeReply::Fail(grpc::StatusCode::INVALID_ARGUMENT, common::v1::MESSAGE_ILLEGAL);
  broker_a_.SetDefaultSendReply(illegal);
  broker_b_.SetDefaultSendReply(illegal);
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  AsyncResult outcome;
  producer.SendAsync(Message("T", "x"), outcome.Callback());
  EXPECT_EQ(outcome.Wait().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 1);
}

TEST_F(ProducerSendTest, AsyncHungBrokerIsLeftAfterTheCap) {
  broker_a_.SetDefaultSendReply(FakeReply::Hang());
  broker_b_.SetDefaultSendReply(FakeReply::Hang());
  ProducerOptions options = Options();
  options.send_timeout = absl::Milliseconds(600);
  options.max_attempt_timeout = absl::Milliseconds(200);
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  AsyncResult outcome;
  const absl::Time start = absl::Now();
  producer.SendAsync(Message("T", "x"), outcome.Callback());
  EXPECT_EQ(outcome.Wait().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1500));
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 3);
}

TEST_F(ProducerSendTest, ManyConcurrentAsyncSends) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  constexpr int kSends = 200;
  std::atomic<int> ok{0}, done{0};
  for (int i = 0; i < kSends; ++i) {
    producer.SendAsync(Message("T", "x"), [&](absl::StatusOr<SendResult> r) {
      if (r.ok()) ++ok;
      ++done;
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return done.load() == kSends; }));
  EXPECT_EQ(ok.load(), kSends);
  EXPECT_EQ(broker_a_.StoredSends().size() + broker_b_.StoredSends().size(),
            static_cast<size_t>(kSends));
}

TEST_F(ProducerSendTest, OnewayReachesABroker) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.SendOneway(Message("T", "fire")).ok());
  EXPECT_TRUE(WaitUntil(
      [&] { return broker_a_.StoredSends().size() + broker_b_.StoredSends().size() == 1; }));
  // Errors before the RPC are still reported.
  EXPECT_EQ(producer.SendOneway(Message("T", "")).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ProducerSendTest, OnewayMakesOneAttemptOnly) {
  broker_a_.SetDefaultSendReply(Unavailable());
  broker_b_.SetDefaultSendReply(Unavailable());
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.SendOneway(Message("T", "fire")).ok());
  producer.Shutdown();  // Waits for the RPC.
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 1);
}

// A oneway send waits while max_oneway_in_flight sends are unanswered (here
// two sends to hung brokers, expired after send_timeout), so a flood cannot
// queue without bound in front of a slow broker.
TEST_F(ProducerSendTest, OnewaySendsInFlightAreBounded) {
  broker_a_.SetDefaultSendReply(FakeReply::Hang());
  broker_b_.SetDefaultSendReply(FakeReply::Hang());
  ProducerOptions options = Options();
  options.max_oneway_in_flight = 2;
  options.send_timeout = absl::Seconds(1);
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.SendOneway(Message("T", "a")).ok());
  ASSERT_TRUE(producer.SendOneway(Message("T", "b")).ok());
  const absl::Time start = absl::Now();
  absl::Status third = producer.SendOneway(Message("T", "c"));
  // It waited for room: until a hung send expired (and then went out) or
  // until its own send_timeout passed.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));
  EXPECT_TRUE(third.ok() || third.code() == absl::StatusCode::kResourceExhausted) << third;
  EXPECT_LE(broker_a_.SendCalls() + broker_b_.SendCalls(), 3);
}

TEST_F(ProducerSendTest, BatchGoesToOneQueueUncompressed) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  const std::string big(8_KiB, 'z');
  std::vector<Message> batch = {Message("T", "TagA", big), Message("T", "one"),
                                Message("T", "two")};
  absl::StatusOr<SendResult> result = producer.SendBatch(batch);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<broker::v1::SendBatchRequest> batches = broker_a_.StoredBatches();
  for (const auto& b : broker_b_.StoredBatches()) batches.push_back(b);
  ASSERT_EQ(batches.size(), 1u);
  const broker::v1::SendBatchRequest& request = batches[0];
  EXPECT_EQ(request.topic(), "T");
  EXPECT_EQ(request.producer_group(), "G");
  ASSERT_EQ(request.messages_size(), 3);
  EXPECT_EQ(request.messages(0).body(), big);
  EXPECT_EQ(request.messages(0).properties().at("TAGS"), "TagA");
  std::vector<std::string> ids;
  for (const auto& m : request.messages()) ids.push_back(m.properties().at("UNIQ_KEY"));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 3u);
  EXPECT_EQ(result->msg_id, absl::StrJoin(ids, ","));
  EXPECT_EQ(result->queue_offset, 0);
}

TEST_F(ProducerSendTest, BatchRejectsMixedTopicsAndEmptyBatches) {
  namesrv_.SetRoute("U", MakeRoute({{&broker_a_}}));
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  EXPECT_EQ(producer.SendBatch({Message("T", "a"), Message("U", "b")}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(producer.SendBatch({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 0);
}

TEST_F(ProducerSendTest, DelayedMessagesAreCheckedAndRefusedInBatches) {
  namesrv_.SetRoute("T", MakeRoute({{&broker_a_}}));
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  Message level("T", "a");
  level.SetDelayTimeLevel(3);
  EXPECT_EQ(level.delay_time_level(), 3);
  EXPECT_EQ(level.GetProperty("DELAY"), "3");
  Message at("T", "b");
  at.SetDeliverTime(absl::FromUnixMillis(1'800'000'000'123));
  EXPECT_EQ(at.GetProperty("TIMER_DELIVER_MS"), "1800000000123");
  EXPECT_EQ(at.deliver_time(), absl::FromUnixMillis(1'800'000'000'123));

  EXPECT_EQ(producer.SendBatch({Message("T", "plain"), level}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(producer.SendBatch({at}).status().code(), absl::StatusCode::kInvalidArgument);
  Message negative("T", "c");
  negative.SetDelayTimeLevel(-1);
  EXPECT_EQ(producer.Send(negative).status().code(), absl::StatusCode::kInvalidArgument);
  Message both = level;
  both.SetDeliverTime(absl::FromUnixMillis(1));
  EXPECT_EQ(producer.Send(both).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_a_.SendCalls(), 0);
  // Cleared, the message is a plain one again.
  level.SetDelayTimeLevel(0);
  at.SetDeliverTime(absl::InfinitePast());
  EXPECT_TRUE(level.properties().count("DELAY") == 0 && !at.deliver_time().has_value());
  EXPECT_TRUE(producer.Send(level).ok());
}

TEST_F(ProducerSendTest, BatchIsRetriedLikeASyncSend) {
  broker_a_.SetDefaultSendReply(Unavailable());
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<SendResult> result = producer.SendBatch({Message("T", "a"), Message("T", "b")});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->message_queue.broker_name, "broker-b");
  }
}

TEST_F(ProducerSendTest, SelectorKeepsAKeyOnOneQueueAndNeverRetries) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  std::set<MessageQueue> used;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<SendResult> result =
        producer.Send(Message("T", "step"), SelectQueueByHash("order-42"));
    ASSERT_TRUE(result.ok()) << result.status();
    used.insert(result->message_queue);
  }
  ASSERT_EQ(used.size(), 1u);
  const MessageQueue queue = *used.begin();
  FakeBroker& owner = queue.broker_name == "broker-a" ? broker_a_ : broker_b_;
  owner.SetDefaultSendReply(Unavailable());
  const int calls_before = broker_a_.SendCalls() + broker_b_.SendCalls();
  absl::StatusOr<SendResult> failed =
      producer.Send(Message("T", "step"), SelectQueueByHash("order-42"));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), calls_before + 1);
  // An index out of range is the application's error.
  auto bad = [](const std::vector<MessageQueue>& queues, const Message&) { return queues.size(); };
  EXPECT_EQ(producer.Send(Message("T", "x"), bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ProducerSendTest, ExplicitQueue) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  const MessageQueue queue{"T", "broker-b", 2};
  absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"), queue);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->message_queue, queue);
  EXPECT_EQ(producer.Send(Message("T", "x"), MessageQueue{"Other", "broker-b", 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(producer.Send(Message("T", "x"), MessageQueue{"T", "broker-z", 0}).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ProducerSendTest, LargeBodiesAreCompressedAndRoundTrip) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  std::string text;
  while (text.size() < 64 * 1024) text += "order 12345 shipped to warehouse 7; ";
  std::string random_bytes(8_KiB, '\0');
  absl::BitGen gen;
  for (char& c : random_bytes) c = static_cast<char>(absl::Uniform<int>(gen, 0, 256));
  std::string small(4095, 'a');
  std::string threshold(4096, 'a');
  for (const std::string* body : {&text, &random_bytes, &small, &threshold}) {
    ASSERT_TRUE(producer.Send(Message("T", *body)).ok());
  }
  std::map<std::string, broker::v1::SendMessageRequest> by_id;
  for (FakeBroker* broker : {&broker_a_, &broker_b_}) {
    for (const auto& r : broker->StoredSends()) by_id[r.message().properties().at("UNIQ_KEY")] = r;
  }
  ASSERT_EQ(by_id.size(), 4u);
  int compressed = 0;
  for (const auto& [id, request] : by_id) {
    std::string body = request.message().body();
    if (request.sys_flag() & kCompressedFlag) {
      ++compressed;
      EXPECT_LT(body.size(), 4096u);
      absl::StatusOr<std::string> restored = ZlibUncompress(body, 4_MiB);
      ASSERT_TRUE(restored.ok());
      body = *restored;
    }
    EXPECT_TRUE(body == text || body == random_bytes || body == small || body == threshold);
    const bool should_compress = body == text || body == threshold;
    EXPECT_EQ(request.sys_flag(), should_compress ? kCompressedFlag : 0);
  }
  EXPECT_EQ(compressed, 2);
}

TEST_F(ProducerSendTest, InvalidMessagesNeverReachABroker) {
  ProducerOptions options = Options();
  options.max_message_size_bytes = 1024;
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  std::vector<Message> bad = {Message("T", ""), Message("T", std::string(1025, 'x')),
                              Message("bad topic", "x"), Message("", "x"),
                              Message("SCHEDULE_TOPIC_XXXX", "x")};
  for (const Message& message : bad) {
    absl::StatusOr<SendResult> result = producer.Send(message);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << message.topic();
    EXPECT_EQ(GetResponseCode(result.status()), common::v1::MESSAGE_ILLEGAL);
  }
  EXPECT_EQ(broker_a_.SendCalls() + broker_b_.SendCalls(), 0);
}

// Records every hook call.
class RecordingHook : public SendHook {
 public:
  struct Call {
    bool before;
    std::string broker;
    int attempt;
    SendMode mode;
    bool ok;
    std::string msg_id;
    std::thread::id thread;
  };

  void BeforeSend(const SendContext& context) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({true, context.queue.broker_name, context.attempt, context.mode, true,
                      context.msg_id, std::this_thread::get_id()});
  }
  void AfterSend(const SendContext& context, const absl::StatusOr<SendResult>& result) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({false, context.queue.broker_name, context.attempt, context.mode, result.ok(),
                      context.msg_id, std::this_thread::get_id()});
  }
  std::vector<Call> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
};

// Makes broker-a fail every send, starts `producer` with `hook`, and sends
// until one sync send hit broker-a first and was retried on broker-b.
void StartAndRetryOneSend(Producer& producer, std::shared_ptr<SendHook> hook,
                          FakeBroker& broker_a) {
  broker_a.SetDefaultSendReply(Unavailable());
  ASSERT_TRUE(producer.AddSendHook(std::move(hook)).ok());
  ASSERT_TRUE(producer.Start().ok());
  for (int i = 0; i < 10 && broker_a.SendCalls() == 0; ++i) {
    ASSERT_TRUE(producer.Send(Message("T", "x")).ok());
  }
  ASSERT_EQ(broker_a.SendCalls(), 1);
}

TEST_F(ProducerSendTest, HooksSeeEveryAttempt) {
  auto hook = std::make_shared<RecordingHook>();
  Producer producer("G", Options());
  ASSERT_NO_FATAL_FAILURE(StartAndRetryOneSend(producer, hook, broker_a_));
  std::vector<RecordingHook::Call> calls = hook->calls();
  size_t retried = 0;
  while (retried < calls.size() &&
         !(calls[retried].before && calls[retried].broker == "broker-a")) {
    ++retried;
  }
  ASSERT_GE(calls.size(), retried + 4);
  EXPECT_EQ(calls[retried].attempt, 0);
  EXPECT_FALSE(calls[retried + 1].before);
  EXPECT_FALSE(calls[retried + 1].ok);
  EXPECT_TRUE(calls[retried + 2].before);
  EXPECT_EQ(calls[retried + 2].broker, "broker-b");
  EXPECT_EQ(calls[retried + 2].attempt, 1);
  EXPECT_TRUE(calls[retried + 3].ok);
  EXPECT_EQ(calls[retried].msg_id, calls[retried + 3].msg_id);

  // Async attempts are seen too.
  AsyncResult outcome;
  producer.SendAsync(Message("T", "x"), outcome.Callback());
  ASSERT_TRUE(outcome.Wait().ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto all = hook->calls();
    return !all.empty() && all.back().mode == SendMode::kAsync && !all.back().before;
  }));
}

// A sync send's retries run on the sending thread (so its queue rotation is
// that thread's, as in RocketMQ, and a route lookup never blocks a gRPC thread).
TEST_F(ProducerSendTest, SyncRetriesRunOnTheSendingThread) {
  auto hook = std::make_shared<RecordingHook>();
  Producer producer("G", Options());
  ASSERT_NO_FATAL_FAILURE(StartAndRetryOneSend(producer, hook, broker_a_));
  int retries = 0;
  for (const RecordingHook::Call& call : hook->calls()) {
    if (call.before) {
      EXPECT_EQ(call.thread, std::this_thread::get_id()) << "attempt " << call.attempt;
      retries += call.attempt;
    }
  }
  EXPECT_EQ(retries, 1);
}

// Oneway sends and batches use the send stream, as every other send does.
TEST_F(ProducerSendTest, OnewayAndBatchesRideTheSendStream) {
  Producer producer("G", Options());
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.SendBatch({Message("T", "one"), Message("T", "two")}).ok());
  EXPECT_EQ(broker_a_.SendStreamPeers().size() + broker_b_.SendStreamPeers().size(), 1u);
  EXPECT_EQ(broker_a_.StoredBatches().size() + broker_b_.StoredBatches().size(), 1u);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(producer.SendOneway(Message("T", "fire")).ok());
  EXPECT_TRUE(WaitUntil(
      [&] { return broker_a_.StoredSends().size() + broker_b_.StoredSends().size() == 4; }));
  EXPECT_GE(broker_a_.SendStreamPeers().size() + broker_b_.SendStreamPeers().size(), 2u);
}

TEST_F(ProducerSendTest, LatencyFaultToleranceBenchesAFailedBroker) {
  FakeClock clock;
  ProducerOptions options = Options();
  options.send_latency_fault_enable = true;
  ProducerImpl producer("G", options, &clock);
  ASSERT_TRUE(producer.Start().ok());
  // broker-a fails its first send only.
  broker_a_.ScriptSends({Unavailable()});
  for (int i = 0; i < 10 && broker_a_.SendCalls() == 0; ++i) {
    ASSERT_TRUE(producer.Send(Message("T", "x"), options.send_timeout).ok());
  }
  ASSERT_EQ(broker_a_.SendCalls(), 1);
  // Benched for 600 s: everything goes to broker-b.
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<SendResult> result = producer.Send(Message("T", "x"), options.send_timeout);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->message_queue.broker_name, "broker-b");
  }
  EXPECT_EQ(broker_a_.SendCalls(), 1);
  clock.Advance(absl::Seconds(600));
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(producer.Send(Message("T", "x"), options.send_timeout).ok());
  EXPECT_GE(broker_a_.SendCalls(), 5);
  producer.Shutdown();
}

TEST_F(ProducerSendTest, RouteRefreshFollowsABrokerLeaving) {
  ProducerOptions options = Options();
  options.client.poll_name_server_interval = absl::Milliseconds(30);
  Producer producer("G", options);
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.Send(Message("T", "x")).ok());
  namesrv_.SetRoute("T", MakeRoute({{&broker_b_, 2}}));
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<std::vector<MessageQueue>> queues = producer.FetchPublishQueues("T");
    return queues.ok() && queues->size() == 2;
  }));
  const size_t a_before = broker_a_.StoredSends().size();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(producer.Send(Message("T", "x")).ok());
  EXPECT_EQ(broker_a_.StoredSends().size(), a_before);
}

}  // namespace
}  // namespace mq::client_internal
