#include "client/src/broker_send_stream.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "testing/fake_servers.h"
#include "testing/wait.h"

namespace mq::client_internal {
namespace {

using ::mq::testing::FakeBroker;
using ::mq::testing::FakeReply;
using ::mq::testing::WaitUntil;

using broker::v1::SendMessageResponse;
using broker::v1::SendStreamRequest;
using broker::v1::SendStreamResponse;

std::shared_ptr<SendStreamRequest> Request(const std::string& key, int32_t queue_id = 0) {
  auto stream_request = std::make_shared<SendStreamRequest>();
  broker::v1::SendMessageRequest& request = *stream_request->mutable_send();
  request.set_producer_group("G");
  request.set_queue_id(queue_id);
  request.mutable_message()->set_topic("T");
  request.mutable_message()->set_body(absl::StrCat("body of ", key));
  (*request.mutable_message()->mutable_properties())["UNIQ_KEY"] = key;
  return stream_request;
}

// One send's outcome, filled by the stream on whichever thread answers.
struct Outcome {
  absl::Notification done;
  absl::StatusOr<SendMessageResponse> response;

  BrokerSendStream::Done Callback() {
    return [this](absl::StatusOr<SendStreamResponse> r) {
      if (r.ok()) {
        response = std::move(*r->mutable_response());
      } else {
        response = r.status();
      }
      done.Notify();
    };
  }
  bool Wait() { return done.WaitForNotificationWithTimeout(absl::Seconds(10)); }
};

class BrokerSendStreamTest : public ::testing::Test {
 protected:
  BrokerSendStreamTest()
      : stub_(broker::v1::Broker::NewStub(
            grpc::CreateChannel(broker_.address(), grpc::InsecureChannelCredentials()))) {}

  std::shared_ptr<BrokerSendStream> Open(SendCoalescing coalescing = SendCoalescing()) {
    return BrokerSendStream::Open(*stub_, broker_.address(), coalescing);
  }

  // Coalescing without a limit on frames in flight: a send is held back only
  // while a write is in progress, never behind an unanswered frame.
  static SendCoalescing Unlimited() {
    SendCoalescing coalescing;
    coalescing.max_frames_in_flight = 0;
    return coalescing;
  }

  absl::Time Later() { return absl::Now() + absl::Seconds(10); }

  FakeBroker broker_{"broker-a"};
  std::unique_ptr<broker::v1::Broker::Stub> stub_;
};

// A batch rides the same stream and is answered with a batch response.
TEST_F(BrokerSendStreamTest, BatchIsAnsweredWithABatchResponse) {
  std::shared_ptr<BrokerSendStream> stream = Open();
  auto request = std::make_shared<SendStreamRequest>();
  broker::v1::SendBatchRequest* batch = request->mutable_batch();
  batch->set_topic("T");
  for (const std::string key : {"x", "y"}) {
    common::v1::Message* message = batch->add_messages();
    message->set_topic("T");
    message->set_body(key);
    (*message->mutable_properties())["UNIQ_KEY"] = key;
  }
  absl::Notification done;
  absl::StatusOr<SendStreamResponse> answer;
  stream->Send(request, Later(), [&](absl::StatusOr<SendStreamResponse> r) {
    answer = std::move(r);
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_TRUE(answer->has_batch_response());
  EXPECT_EQ(answer->batch_response().msg_ids_size(), 2);
  EXPECT_EQ(broker_.StoredBatches().size(), 1u);
  stream->Close(absl::Seconds(5));
}

TEST_F(BrokerSendStreamTest, ConcurrentSendsAreEachAnsweredWithTheirOwnResult) {
  std::shared_ptr<BrokerSendStream> stream = Open();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = absl::StrCat("m-", t, "-", i);
        Outcome outcome;
        stream->Send(Request(key, t), Later(), outcome.Callback());
        if (!outcome.Wait()) {
          errors[t] = "no answer";
        } else if (!outcome.response.ok()) {
          errors[t] = std::string(outcome.response.status().message());
        } else if (outcome.response->msg_id() != key || outcome.response->queue_id() != t) {
          errors[t] = absl::StrCat(key, " answered as ", outcome.response->msg_id(), " queue ",
                                   outcome.response->queue_id());
        }
        if (!errors[t].empty()) return;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& error : errors) EXPECT_EQ(error, "");
  EXPECT_EQ(broker_.StoredSends().size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_TRUE(stream->usable());
  stream->Close(absl::Seconds(5));
  EXPECT_TRUE(stream->ended());
}

TEST_F(BrokerSendStreamTest, AFailedSendFailsAloneWithItsCodeAndResponseCode) {
  broker_.ScriptSends(
      {FakeReply::Ok(),
       FakeReply::Fail(grpc::StatusCode::RESOURCE_EXHAUSTED, common::v1::SYSTEM_BUSY),
       FakeReply::Ok()});
  std::shared_ptr<BrokerSendStream> stream = Open();
  Outcome first, second, third;
  stream->Send(Request("a"), Later(), first.Callback());
  stream->Send(Request("b"), Later(), second.Callback());
  stream->Send(Request("c"), Later(), third.Callback());
  ASSERT_TRUE(first.Wait() && second.Wait() && third.Wait());
  ASSERT_TRUE(first.response.ok()) << first.response.status();
  EXPECT_EQ(first.response->msg_id(), "a");
  EXPECT_EQ(second.response.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(GetResponseCode(second.response.status()), common::v1::SYSTEM_BUSY);
  ASSERT_TRUE(third.response.ok()) << third.response.status();
  EXPECT_EQ(third.response->msg_id(), "c");
  EXPECT_TRUE(stream->usable());
  stream->Close(absl::Seconds(5));
}

TEST_F(BrokerSendStreamTest, UnansweredSendsExpireAndTheStreamGoesOn) {
  broker_.ScriptSends({FakeReply::Hang(), FakeReply::Hang()});
  // Both sends reach the broker: no frame waits behind the hung one.
  std::shared_ptr<BrokerSendStream> stream = Open(Unlimited());
  Outcome by_id, by_sweep, after;
  const uint64_t id = stream->Send(Request("hung-1"), Later(), by_id.Callback());
  stream->Send(Request("hung-2"), absl::Now() + absl::Milliseconds(50), by_sweep.Callback());
  // Both reached the broker (and were left unanswered).
  ASSERT_TRUE(WaitUntil([&] { return broker_.SendCalls() == 2; }));
  EXPECT_FALSE(by_id.done.HasBeenNotified());
  stream->ExpireOverdue(absl::Now() - absl::Seconds(1));
  EXPECT_FALSE(by_sweep.done.HasBeenNotified()) << "expired before its deadline";
  stream->Expire(id);
  ASSERT_TRUE(by_id.Wait());
  EXPECT_EQ(by_id.response.status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(WaitUntil([&] {
    stream->ExpireOverdue(absl::Now());
    return by_sweep.done.HasBeenNotified();
  }));
  EXPECT_EQ(by_sweep.response.status().code(), absl::StatusCode::kDeadlineExceeded);
  // Expiring again, or after the answer, changes nothing.
  stream->Expire(id);
  stream->Send(Request("after"), Later(), after.Callback());
  ASSERT_TRUE(after.Wait());
  ASSERT_TRUE(after.response.ok()) << after.response.status();
  EXPECT_EQ(after.response->msg_id(), "after");
  EXPECT_TRUE(stream->usable());
  stream->Close(absl::Seconds(5));
}

TEST_F(BrokerSendStreamTest, BrokerGoingAwayFailsWhatIsPendingAsUnavailable) {
  broker_.SetDefaultSendReply(FakeReply::Hang());
  std::shared_ptr<BrokerSendStream> stream = Open();
  Outcome pending;
  stream->Send(Request("pending"), Later(), pending.Callback());
  broker_.Stop();
  ASSERT_TRUE(pending.Wait());
  EXPECT_FALSE(pending.response.ok());
  EXPECT_TRUE(WaitUntil([&] { return stream->ended(); }));
  EXPECT_FALSE(stream->usable());
  // A failed stream refuses at once, with a retryable code.
  Outcome refused;
  EXPECT_EQ(stream->Send(Request("late"), Later(), refused.Callback()), 0u);
  ASSERT_TRUE(refused.done.HasBeenNotified());
  EXPECT_EQ(refused.response.status().code(), absl::StatusCode::kUnavailable);
}

// A broker that cancels the stream (as one does while it stops) leaves its
// sends to be retried elsewhere: UNAVAILABLE, not CANCELLED.
TEST_F(BrokerSendStreamTest, StreamCancelledByTheBrokerFailsItsSendsAsUnavailable) {
  broker_.ScriptSends({FakeReply::Hang(), FakeReply::EndStream(grpc::StatusCode::CANCELLED)});
  std::shared_ptr<BrokerSendStream> stream = Open(Unlimited());
  Outcome pending, ending;
  stream->Send(Request("pending"), Later(), pending.Callback());
  stream->Send(Request("ending"), Later(), ending.Callback());
  ASSERT_TRUE(pending.Wait() && ending.Wait());
  EXPECT_EQ(pending.response.status().code(), absl::StatusCode::kUnavailable)
      << pending.response.status();
  EXPECT_EQ(ending.response.status().code(), absl::StatusCode::kUnavailable)
      << ending.response.status();
  EXPECT_TRUE(WaitUntil([&] { return stream->ended(); }));
  EXPECT_FALSE(stream->usable());
}

TEST_F(BrokerSendStreamTest, CloseWaitsForAnswersThenCancelsWhatIsLeft) {
  std::shared_ptr<BrokerSendStream> stream = Open();
  Outcome answered;
  stream->Send(Request("answered"), Later(), answered.Callback());
  stream->Close(absl::Seconds(5));
  ASSERT_TRUE(answered.done.HasBeenNotified());
  EXPECT_TRUE(answered.response.ok()) << answered.response.status();
  EXPECT_TRUE(stream->ended());

  broker_.SetDefaultSendReply(FakeReply::Hang());
  std::shared_ptr<BrokerSendStream> second = Open();
  Outcome hung;
  second->Send(Request("hung"), Later(), hung.Callback());
  ASSERT_TRUE(WaitUntil([&] { return broker_.SendCalls() == 2; }));
  const absl::Time start = absl::Now();
  second->Close(absl::Milliseconds(200));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(second->ended());
  ASSERT_TRUE(hung.done.HasBeenNotified());
  EXPECT_EQ(hung.response.status().code(), absl::StatusCode::kCancelled);
  Outcome refused;
  second->Send(Request("after close"), Later(), refused.Callback());
  EXPECT_EQ(refused.response.status().code(), absl::StatusCode::kUnavailable);
}

// Coalescing (issue 33). The first send goes at once to the idle stream and
// the broker holds it; the sends queued behind that unanswered frame travel
// together in one frame once it stops counting (here: it expired), and each
// keeps its own outcome: answer, error with its codes, or its own expiry.
TEST_F(BrokerSendStreamTest, SendsQueuedBehindAFrameInFlightTravelAsOneFrameAnsweredEach) {
  broker_.ScriptSends(
      {FakeReply::Hang(), FakeReply::Ok(),
       FakeReply::Fail(grpc::StatusCode::RESOURCE_EXHAUSTED, common::v1::SYSTEM_BUSY),
       FakeReply::Hang(), FakeReply::Ok(broker::v1::FLUSH_DISK_TIMEOUT)});
  std::shared_ptr<BrokerSendStream> stream = Open();
  Outcome first, ok, busy, hung, not_flushed;
  const uint64_t first_id = stream->Send(Request("first", 0), Later(), first.Callback());
  ASSERT_TRUE(WaitUntil([&] { return broker_.SendCalls() == 1; }));
  stream->Send(Request("ok", 1), Later(), ok.Callback());
  stream->Send(Request("busy", 2), Later(), busy.Callback());
  const uint64_t hung_id = stream->Send(Request("hung", 3), Later(), hung.Callback());
  stream->Send(Request("not-flushed", 4), Later(), not_flushed.Callback());
  // Held behind the unanswered frame (the frames below show they were not
  // written one by one) until it stops counting.
  stream->Expire(first_id);
  ASSERT_TRUE(first.Wait());
  EXPECT_EQ(first.response.status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(ok.Wait() && busy.Wait() && not_flushed.Wait());
  EXPECT_EQ(broker_.SendStreamFrames(), (std::vector<int>{1, 4}));
  ASSERT_TRUE(ok.response.ok()) << ok.response.status();
  EXPECT_EQ(ok.response->msg_id(), "ok");
  EXPECT_EQ(ok.response->queue_id(), 1);
  EXPECT_EQ(busy.response.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(GetResponseCode(busy.response.status()), common::v1::SYSTEM_BUSY);
  ASSERT_TRUE(not_flushed.response.ok()) << not_flushed.response.status();
  EXPECT_EQ(not_flushed.response->msg_id(), "not-flushed");
  EXPECT_EQ(not_flushed.response->status(), broker::v1::FLUSH_DISK_TIMEOUT);
  // The one the broker left unanswered expires alone.
  EXPECT_FALSE(hung.done.HasBeenNotified());
  stream->Expire(hung_id);
  ASSERT_TRUE(hung.Wait());
  EXPECT_EQ(hung.response.status().code(), absl::StatusCode::kDeadlineExceeded);
  stream->Close(absl::Seconds(5));
}

// A frame holds at most max_bytes of sends; a bigger send still goes alone.
TEST_F(BrokerSendStreamTest, ACoalescedFrameStaysUnderItsByteCap) {
  broker_.ScriptSends({FakeReply::Hang()});
  SendCoalescing coalescing;
  coalescing.max_bytes = static_cast<int64_t>(Request("m-0")->ByteSizeLong() * 5 / 2);
  std::shared_ptr<BrokerSendStream> stream = Open(coalescing);
  Outcome first;
  const uint64_t first_id = stream->Send(Request("first"), Later(), first.Callback());
  ASSERT_TRUE(WaitUntil([&] { return broker_.SendCalls() == 1; }));
  std::vector<std::unique_ptr<Outcome>> outcomes;
  for (int i = 0; i < 5; ++i) {
    outcomes.push_back(std::make_unique<Outcome>());
    stream->Send(Request(absl::StrCat("m-", i)), Later(), outcomes.back()->Callback());
  }
  stream->Expire(first_id);
  for (auto& outcome : outcomes) {
    ASSERT_TRUE(outcome->Wait());
    EXPECT_TRUE(outcome->response.ok()) << outcome->response.status();
  }
  EXPECT_EQ(broker_.SendStreamFrames(), (std::vector<int>{1, 2, 2, 1}));
  stream->Close(absl::Seconds(5));
}

// Switched off, every send is a frame of its own, never held back.
TEST_F(BrokerSendStreamTest, WithoutCoalescingEverySendIsAFrameOfItsOwn) {
  broker_.ScriptSends({FakeReply::Hang()});
  SendCoalescing off;
  off.enabled = false;
  std::shared_ptr<BrokerSendStream> stream = Open(off);
  Outcome first;
  const uint64_t first_id = stream->Send(Request("first"), Later(), first.Callback());
  std::vector<std::unique_ptr<Outcome>> outcomes;
  for (int i = 0; i < 20; ++i) {
    outcomes.push_back(std::make_unique<Outcome>());
    stream->Send(Request(absl::StrCat("m-", i)), Later(), outcomes.back()->Callback());
  }
  for (auto& outcome : outcomes) {
    ASSERT_TRUE(outcome->Wait());
    EXPECT_TRUE(outcome->response.ok()) << outcome->response.status();
  }
  EXPECT_EQ(broker_.SendStreamFrames(), std::vector<int>(21, 1));
  stream->Expire(first_id);
  stream->Close(absl::Seconds(5));
}

}  // namespace
}  // namespace mq::client_internal
