#include "benchmarks/suite/broker_load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/src/pulled_message.h"
#include "client/src/subscription.h"
#include "common/grpc_options.h"
#include "common/units.h"
#include "mq/push_consumer.h"

namespace mq::bench {
namespace {

using broker::v1::Broker;
using Clock = std::chrono::steady_clock;

constexpr absl::Duration kCallDeadline = absl::Seconds(10);

std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration deadline = kCallDeadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return context;
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Writes the current monotonic time into the first 8 bytes of `body`.
void StampNow(std::string* body) {
  int64_t now = NowNanos();
  std::memcpy(body->data(), &now, sizeof(now));
}

double MillisSinceStamp(const std::string& body) {
  int64_t sent = 0;
  if (body.size() < sizeof(sent)) return 0;
  std::memcpy(&sent, body.data(), sizeof(sent));
  return static_cast<double>(NowNanos() - sent) / 1e6;
}

// Waits, bounded, until `*count` reaches zero.
bool AwaitZero(absl::Mutex* mu, int64_t* count, absl::Duration timeout)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
  return mu->AwaitWithTimeout(absl::Condition(
                                  +[](int64_t* c) { return *c == 0; }, count),
                              timeout);
}

absl::Status QueueMaxOffset(const BrokerStubs& stubs, const std::string& topic, int queue,
                            int64_t* max_offset) {
  broker::v1::GetQueueOffsetsRequest request;
  request.set_topic(topic);
  request.set_queue_id(queue);
  broker::v1::GetQueueOffsetsResponse response;
  auto context = NewContext();
  grpc::Status status = stubs.For(0)->GetQueueOffsets(context.get(), request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("queue offsets: ", status.error_message()));
  }
  *max_offset = response.max_offset();
  return absl::OkStatus();
}

LoadResult Failed() {
  LoadResult result;
  result.failures = 1;
  return result;
}

}  // namespace

BrokerStubs::BrokerStubs(const std::string& address, int channels, const ClientTls& tls,
                         const acl::Credentials& credentials) {
  for (int i = 0; i < channels; ++i) {
    stubs_.push_back(Broker::NewStub(CreateDedicatedChannel(address, tls, credentials)));
  }
}

absl::Status CreateTopic(const BrokerStubs& stubs, const std::string& topic, int queues) {
  broker::v1::CreateOrUpdateTopicRequest request;
  request.mutable_config()->set_topic_name(topic);
  request.mutable_config()->set_read_queue_nums(queues);
  request.mutable_config()->set_write_queue_nums(queues);
  request.mutable_config()->set_perm(6);
  broker::v1::CreateOrUpdateTopicResponse response;
  auto context = NewContext();
  grpc::Status status = stubs.For(0)->CreateOrUpdateTopic(context.get(), request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("create topic ", topic, ": ", status.error_message()));
  }
  return absl::OkStatus();
}

SendLoad::SendLoad(const BrokerStubs* stubs, std::string topic, int queues, int slots, int batch,
                   int body_bytes)
    : stubs_(stubs), batch_(batch), slots_(slots) {
  const std::string body(std::max<int>(body_bytes, sizeof(int64_t)), 'm');
  for (int i = 0; i < slots; ++i) {
    Slot& slot = slots_[i];
    slot.single.set_producer_group("bench");
    slot.single.set_queue_id(-1);
    slot.single.mutable_message()->set_topic(topic);
    slot.single.mutable_message()->set_body(body);
    slot.batch.set_producer_group("bench");
    slot.batch.set_topic(topic);
    slot.batch.set_queue_id(i % queues);
    for (int m = 0; m < batch; ++m) {
      common::v1::Message* message = slot.batch.add_messages();
      message->set_topic(topic);
      message->set_body(body);
    }
  }
}

void SendLoad::Start(int index, std::function<void(bool ok)> done) {
  Slot& slot = slots_[index];
  slot.context = NewContext();
  Broker::Stub* stub = stubs_->For(index);
  if (batch_ == 1) {
    StampNow(slot.single.mutable_message()->mutable_body());
    stub->async()->SendMessage(
        slot.context.get(), &slot.single, &slot.single_response,
        [this, &slot, done = std::move(done)](grpc::Status status) {
          Finish(status.ok() && slot.single_response.status() == broker::v1::SEND_OK, done);
        });
    return;
  }
  for (common::v1::Message& message : *slot.batch.mutable_messages()) {
    StampNow(message.mutable_body());
  }
  stub->async()->SendBatch(
      slot.context.get(), &slot.batch, &slot.batch_response,
      [this, &slot, done = std::move(done)](grpc::Status status) {
        Finish(status.ok() && slot.batch_response.status() == broker::v1::SEND_OK, done);
      });
}

void SendLoad::Finish(bool ok, const std::function<void(bool ok)>& done) {
  if (ok) succeeded_.fetch_add(1);
  done(ok);
}

absl::Status Fill(const BrokerStubs& stubs, const std::string& topic, int queues, int64_t count,
                  int body_bytes) {
  constexpr int kBatch = 32;
  constexpr int kInFlight = 8;
  SendLoad load(&stubs, topic, queues, kInFlight, kBatch, body_bytes);
  std::atomic<int64_t> batches_left{(count + kBatch - 1) / kBatch};
  std::atomic<int64_t> failures{0};
  absl::Mutex mu;
  int64_t active = kInFlight;
  std::function<void(int)> issue = [&](int slot) {
    if (batches_left.fetch_sub(1) <= 0 || failures.load() > 0) {
      absl::MutexLock lock(&mu);
      --active;
      return;
    }
    load.Start(slot, [&, slot](bool ok) {
      if (!ok) failures.fetch_add(1);
      issue(slot);
    });
  };
  for (int slot = 0; slot < kInFlight; ++slot) issue(slot);
  absl::MutexLock lock(&mu);
  if (!AwaitZero(&mu, &active, absl::Minutes(10))) {
    return absl::DeadlineExceededError("filling the topic took over 10 minutes");
  }
  if (failures.load() > 0) return absl::InternalError("a batch send failed while filling");
  return absl::OkStatus();
}

namespace {

// Pull chains over parts of queues; each chain pulls its range to the end.
// Every answer becomes the client's MessageExt values, as a consumer's would
// (client_internal::MatchingMessages, the C++ client's code).
class PullChains {
 public:
  struct Range {
    int queue;
    int64_t from;
    int64_t to;  // exclusive; -1: until stopped (long polling)
  };

  PullChains(const BrokerStubs* stubs, std::string topic, std::vector<Range> ranges, int batch,
             bool long_poll, bool stored_records)
      : stubs_(stubs),
        topic_(std::move(topic)),
        subscription_(client_internal::ParseSubscription(topic_, "*")),
        batch_(batch),
        long_poll_(long_poll),
        stored_records_(stored_records),
        chains_(ranges.size()) {
    for (size_t i = 0; i < ranges.size(); ++i) chains_[i].range = ranges[i];
    absl::MutexLock lock(&mu_);
    active_ = static_cast<int64_t>(chains_.size());
  }

  void Start() {
    for (size_t i = 0; i < chains_.size(); ++i) Pull(static_cast<int>(i), chains_[i].range.from);
  }

  // Stops long-polling chains after their current pull.
  void Stop() { stopping_.store(true); }

  // Waits until every chain has ended.
  bool AwaitEnd(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return AwaitZero(&mu_, &active_, timeout);
  }

  // Waits until `count` messages arrived.
  bool AwaitMessages(int64_t count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return messages_ >= count || active_ == 0;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout) && messages_ >= count;
  }

  // Per-pull latencies (catch-up) or per-message delivery latencies (long poll).
  LoadResult Result(absl::Duration elapsed) {
    absl::MutexLock lock(&mu_);
    LoadResult result;
    result.calls = pulls_;
    result.failures = failures_;
    result.per_second = static_cast<double>(messages_) / absl::ToDoubleSeconds(elapsed);
    FillPercentiles(latencies_, &result);
    return result;
  }

 private:
  struct Chain {
    Range range;
    std::unique_ptr<grpc::ClientContext> context;
    broker::v1::PullMessageRequest request;
    broker::v1::PullMessageResponse response;
    Clock::time_point begin;
  };

  void Pull(int index, int64_t offset) {
    Chain& chain = chains_[index];
    if (stopping_.load() || (chain.range.to >= 0 && offset >= chain.range.to)) {
      absl::MutexLock lock(&mu_);
      --active_;
      return;
    }
    chain.request.set_consumer_group("bench_consumer");
    chain.request.set_topic(topic_);
    chain.request.set_queue_id(chain.range.queue);
    chain.request.set_queue_offset(offset);
    int64_t want =
        chain.range.to >= 0 ? std::min<int64_t>(batch_, chain.range.to - offset) : batch_;
    chain.request.set_max_msg_nums(static_cast<int32_t>(want));
    chain.request.set_suspend(long_poll_);
    chain.request.set_suspend_timeout_ms(1000);
    chain.request.set_stored_records(stored_records_);
    chain.context = NewContext();
    chain.response.Clear();
    chain.begin = Clock::now();
    stubs_->For(index)->async()->PullMessage(
        chain.context.get(), &chain.request, &chain.response,
        [this, index](grpc::Status status) { OnPulled(index, status); });
  }

  void OnPulled(int index, const grpc::Status& status) {
    Chain& chain = chains_[index];
    const double pull_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - chain.begin).count();
    absl::StatusOr<std::vector<MessageExt>> messages = client_internal::MatchingMessages(
        chain.response, subscription_, "bench", /*max_body_size_bytes=*/4_MiB);
    const bool ok = status.ok() && messages.ok() &&
                    (chain.response.status() == broker::v1::FOUND ||
                     (long_poll_ && chain.response.status() == broker::v1::NO_NEW_MSG));
    {
      absl::MutexLock lock(&mu_);
      ++pulls_;
      if (!ok) {
        ++failures_;
        --active_;
        return;
      }
      messages_ += static_cast<int64_t>(messages->size());
      if (long_poll_) {
        for (const MessageExt& message : *messages) {
          latencies_.push_back(MillisSinceStamp(message.message.body()));
        }
      } else {
        latencies_.push_back(pull_ms);
      }
    }
    Pull(index, chain.response.next_begin_offset());
  }

  const BrokerStubs* stubs_;
  const std::string topic_;
  const broker::v1::SubscriptionData subscription_;
  const int batch_;
  const bool long_poll_;
  const bool stored_records_;
  std::vector<Chain> chains_;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  int64_t active_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t pulls_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t messages_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<double> latencies_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

LoadResult CatchUp(const BrokerStubs& stubs, const std::string& topic, int queues, int64_t stored,
                   int pull_batch, int chains_per_queue, bool stored_records) {
  // Acknowledged messages reach their queues once dispatched: wait (bounded)
  // until the queues hold all `stored`, so the read covers every message.
  std::vector<int64_t> ends(queues, 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (true) {
    int64_t total = 0;
    for (int queue = 0; queue < queues; ++queue) {
      if (!QueueMaxOffset(stubs, topic, queue, &ends[queue]).ok()) return Failed();
      total += ends[queue];
    }
    if (total >= stored) break;
    if (absl::Now() > deadline) return Failed();
    absl::SleepFor(absl::Milliseconds(10));
  }
  std::vector<PullChains::Range> ranges;
  for (int queue = 0; queue < queues; ++queue) {
    const int64_t end = ends[queue];
    for (int k = 0; k < chains_per_queue; ++k) {
      ranges.push_back({queue, end * k / chains_per_queue, end * (k + 1) / chains_per_queue});
    }
  }
  PullChains chains(&stubs, topic, std::move(ranges), pull_batch, /*long_poll=*/false,
                    stored_records);
  absl::Time begin = absl::Now();
  chains.Start();
  if (!chains.AwaitEnd(absl::Minutes(10))) return Failed();
  return chains.Result(absl::Now() - begin);
}

EndToEndResult EndToEnd(const BrokerStubs& stubs, const std::string& topic, int queues, double rate,
                        absl::Duration duration, int body_bytes) {
  std::vector<PullChains::Range> ranges;
  for (int queue = 0; queue < queues; ++queue) ranges.push_back({queue, 0, -1});
  PullChains consumers(&stubs, topic, std::move(ranges), PushConsumerOptions().pull_batch_size,
                       /*long_poll=*/true, /*stored_records=*/true);
  consumers.Start();
  constexpr int kMaxInFlight = 256;
  SendLoad load(&stubs, topic, queues, kMaxInFlight, /*batch=*/1, body_bytes);
  absl::Time begin = absl::Now();
  EndToEndResult result;
  result.send = RunPaced(rate, kMaxInFlight, duration, load.AsStartCall());
  // Every message sent (warm-up included) is awaited before stopping.
  consumers.AwaitMessages(load.succeeded(), absl::Seconds(30));
  absl::Duration elapsed = absl::Now() - begin;
  consumers.Stop();
  consumers.AwaitEnd(absl::Seconds(10));
  result.delivery = consumers.Result(elapsed);
  return result;
}

namespace {

// One blocking PopMessage of every queue of `topic`.
absl::StatusOr<broker::v1::PopMessageResponse> Pop(Broker::Stub* stub, const std::string& topic,
                                                   const std::string& group,
                                                   absl::Duration invisible, absl::Duration poll,
                                                   bool stored_records) {
  broker::v1::PopMessageRequest request;
  request.set_consumer_group(group);
  request.set_topic(topic);
  request.set_queue_id(-1);
  request.set_max_msg_nums(32);
  request.set_stored_records(stored_records);
  request.set_invisible_time_ms(absl::ToInt64Milliseconds(invisible));
  request.set_poll_timeout_ms(absl::ToInt64Milliseconds(poll));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10) +
                       absl::ToChronoMilliseconds(poll));
  broker::v1::PopMessageResponse response;
  grpc::Status status = stub->PopMessage(&context, request, &response);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  return response;
}

// POP receivers as the official clients run them: each pops again while its
// acks are on their way (up to `acks_in_flight` of them).
class PopReceivers {
 public:
  // `on_popped` sees each answer before its messages are acked and returns
  // whether this receiver should go on.
  using OnPopped = std::function<bool(const broker::v1::PopMessageResponse&)>;

  PopReceivers(const BrokerStubs& stubs, std::string topic, std::string group,
               const PopReceiverOptions& options)
      : stubs_(stubs), topic_(std::move(topic)), group_(std::move(group)), options_(options) {}

  // Runs the receivers until each one's `on_popped` says stop or `deadline`
  // passes, then waits for every ack. Latencies are per pop.
  LoadResult Run(absl::Duration invisible, absl::Duration poll, absl::Time deadline,
                 const OnPopped& on_popped) {
    const int receivers = options_.receivers;
    {
      absl::MutexLock lock(&mu_);
      acks_by_receiver_.assign(receivers, 0);
    }
    std::vector<std::thread> threads;
    for (int r = 0; r < receivers; ++r) {
      threads.emplace_back([&, r] { Receive(r, invisible, poll, deadline, on_popped); });
    }
    for (std::thread& t : threads) t.join();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* pending) { return *pending == 0; }, &acks_pending_));
    LoadResult result;
    result.calls = static_cast<int64_t>(latencies_ms_.size());
    result.failures = failures_;
    FillPercentiles(std::move(latencies_ms_), &result);
    return result;
  }

 private:
  struct AckCall {
    grpc::ClientContext context;
    broker::v1::AckMessageRequest request;
    broker::v1::AckMessageResponse response;
  };

  void Receive(int r, absl::Duration invisible, absl::Duration poll, absl::Time deadline,
               const OnPopped& on_popped) {
    std::vector<double> mine;
    int failures = 0;
    bool go_on = true;
    while (go_on && absl::Now() < deadline) {
      const absl::Time start = absl::Now();
      absl::StatusOr<broker::v1::PopMessageResponse> popped =
          Pop(stubs_.For(r), topic_, group_, invisible, poll, options_.stored_records);
      if (!popped.ok()) {
        ++failures;
        continue;
      }
      // Turned into the client's messages, as the C++ SimpleConsumer does
      // (and the catch-up read with the pull's answers).
      absl::StatusOr<std::vector<MessageExt>> messages =
          client_internal::PoppedMessages(*popped, "bench", /*max_body_size_bytes=*/4_MiB);
      if (!messages.ok()) {
        ++failures;
        continue;
      }
      mine.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      go_on = on_popped(*popped);
      if (popped->messages_size() == 0) continue;
      auto call = std::make_shared<AckCall>();
      call->request.set_consumer_group(group_);
      call->request.set_topic(topic_);
      for (const broker::v1::PoppedMessage& m : popped->messages()) {
        call->request.add_receipt_handles(m.receipt_handle());
      }
      call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      {
        absl::MutexLock lock(&mu_);
        auto room = [this, r]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return acks_by_receiver_[r] < options_.acks_in_flight;
        };
        mu_.Await(absl::Condition(&room));
        ++acks_pending_;
        ++acks_by_receiver_[r];
      }
      stubs_.For(r)->async()->AckMessage(&call->context, &call->request, &call->response,
                                         [this, call, r](grpc::Status status) {
                                           absl::MutexLock lock(&mu_);
                                           if (!status.ok()) ++failures_;
                                           --acks_pending_;
                                           --acks_by_receiver_[r];
                                         });
    }
    absl::MutexLock lock(&mu_);
    failures_ += failures;
    latencies_ms_.insert(latencies_ms_.end(), mine.begin(), mine.end());
  }

  const BrokerStubs& stubs_;
  const std::string topic_;
  const std::string group_;
  const PopReceiverOptions options_;
  absl::Mutex mu_;
  int acks_pending_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int> acks_by_receiver_ ABSL_GUARDED_BY(mu_);
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<double> latencies_ms_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

LoadResult PopCatchUp(const BrokerStubs& stubs, const std::string& topic, const std::string& group,
                      int64_t stored, const PopReceiverOptions& options) {
  std::atomic<int64_t> received{0};
  const absl::Time begin = absl::Now();
  LoadResult result =
      PopReceivers(stubs, topic, group, options)
          .Run(absl::Seconds(60), absl::Milliseconds(200), begin + absl::Minutes(10),
               [&](const broker::v1::PopMessageResponse& popped) {
                 return (received += popped.messages_size()) < stored;
               });
  if (received.load() < stored) return Failed();
  result.per_second =
      static_cast<double>(received.load()) / absl::ToDoubleSeconds(absl::Now() - begin);
  return result;
}

LoadResult PopRedelivery(const BrokerStubs& stubs, const std::string& topic,
                         const std::string& group, int64_t in_flight,
                         const PopReceiverOptions& options, absl::Duration invisible) {
  // The fill's messages carry no msgId: the i-th redelivery is matched with
  // the i-th earliest end of an invisible time.
  std::vector<absl::Time> ends;
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (static_cast<int64_t>(ends.size()) < in_flight) {
    // Long polling: the fill may still be dispatching.
    absl::StatusOr<broker::v1::PopMessageResponse> popped =
        Pop(stubs.For(0), topic, group, invisible, absl::Seconds(1), options.stored_records);
    if (!popped.ok() || absl::Now() > deadline) return Failed();
    for (const broker::v1::PoppedMessage& m : popped->messages()) {
      if (m.delivery_attempt() == 1) ends.push_back(absl::FromUnixMillis(m.invisible_until_ms()));
    }
  }
  std::sort(ends.begin(), ends.end());
  absl::Mutex mu;
  std::vector<double> late_ms;
  PopReceivers(stubs, topic, group, options)
      .Run(absl::Seconds(60), absl::Seconds(1), deadline,
           [&](const broker::v1::PopMessageResponse& popped) {
             const absl::Time now = absl::Now();
             absl::MutexLock lock(&mu);
             for (const broker::v1::PoppedMessage& m : popped.messages()) {
               if (m.delivery_attempt() < 2 || late_ms.size() >= ends.size()) continue;
               late_ms.push_back(
                   std::max(0.0, absl::ToDoubleMilliseconds(now - ends[late_ms.size()])));
             }
             return late_ms.size() < ends.size();
           });
  absl::MutexLock lock(&mu);
  if (late_ms.size() < ends.size()) return Failed();
  LoadResult result;
  // From the first end of an invisible time to the last redelivery.
  result.per_second = static_cast<double>(in_flight) /
                      std::max(1e-3, absl::ToDoubleSeconds(absl::Now() - ends.front()));
  result.calls = in_flight;
  FillPercentiles(std::move(late_ms), &result);
  return result;
}

}  // namespace mq::bench
