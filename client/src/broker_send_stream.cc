#include "client/src/broker_send_stream.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "glog/logging.h"

namespace mq::client_internal {
namespace {

// After cancelling, Close() logs every this often until the call has ended.
constexpr absl::Duration kCancelWait = absl::Seconds(10);

absl::StatusOr<broker::v1::SendStreamResponse> Outcome(broker::v1::SendStreamResponse* answer) {
  if (answer->has_response() || answer->has_batch_response()) return std::move(*answer);
  return FromSendError(answer->error());
}

}  // namespace

std::shared_ptr<BrokerSendStream> BrokerSendStream::Open(broker::v1::Broker::Stub& stub,
                                                         std::string address,
                                                         SendCoalescing coalescing) {
  std::shared_ptr<BrokerSendStream> stream(new BrokerSendStream(std::move(address), coalescing));
  stub.async()->SendMessageStream(&stream->context_, stream.get());
  // Writes start from any thread, outside reactions: the hold keeps the call
  // from ending until no more will start.
  stream->AddHold();
  stream->StartRead(&stream->incoming_);
  stream->StartCall();
  return stream;
}

BrokerSendStream::BrokerSendStream(std::string address, SendCoalescing coalescing)
    : address_(std::move(address)), coalescing_(coalescing) {}

BrokerSendStream::~BrokerSendStream() {
  absl::MutexLock lock(&mu_);
  ReleaseCoalescedLocked();
}

uint64_t BrokerSendStream::Send(std::shared_ptr<broker::v1::SendStreamRequest> request,
                                absl::Time deadline, Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (!failed_ && !closing_) {
      const uint64_t id = next_id_++;
      request->set_request_id(id);
      outgoing_.push_back(std::move(request));
      pending_.emplace(id, Pending{deadline, std::move(done)});
      if (MayWriteLocked()) StartNextWriteLocked();
      return id;
    }
  }
  absl::Status refusal;
  {
    absl::MutexLock lock(&mu_);
    refusal = refusal_;
  }
  // A stream access control refused: its sends are refused alike.
  done(!refusal.ok() ? refusal
                     : absl::UnavailableError(
                           absl::StrCat("the send stream to ", address_, " is closed; try again")));
  return 0;
}

void BrokerSendStream::Expire(uint64_t id) {
  Done done;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    done = std::move(it->second.done);
    pending_.erase(it);
    ForgetExpiredFramesLocked();
  }
  done(absl::DeadlineExceededError("no answer from the broker before the send's deadline"));
}

void BrokerSendStream::ExpireOverdue(absl::Time now) {
  std::vector<Done> overdue;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      overdue.push_back(std::move(it->second.done));
      pending_.erase(it++);
    }
    if (!overdue.empty()) ForgetExpiredFramesLocked();
  }
  for (Done& done : overdue) {
    done(absl::DeadlineExceededError("no answer from the broker before the send's deadline"));
  }
}

bool BrokerSendStream::usable() const {
  absl::MutexLock lock(&mu_);
  return !failed_ && !closing_;
}

void BrokerSendStream::Close(absl::Duration grace) {
  bool release = false;
  bool half_close = false;
  {
    absl::MutexLock lock(&mu_);
    if (!closing_) {
      closing_ = true;
      release = ReleaseHoldIfDoneWritingLocked(&half_close);
    }
  }
  if (release) FinishWriting(half_close);
  absl::MutexLock lock(&mu_);
  // Once no send awaits an answer there is nothing to wait for: a broker
  // still holding sends given up on (expired) would keep the stream open.
  auto ended_or_idle = [this]()
                           ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ || pending_.empty(); };
  mu_.AwaitWithTimeout(absl::Condition(&ended_or_idle), grace);
  if (done_) return;
  cancelled_by_close_ = true;
  mu_.Unlock();
  context_.TryCancel();
  mu_.Lock();
  // gRPC ends a cancelled call; the object must not go before it has.
  while (!mu_.AwaitWithTimeout(absl::Condition(&done_), kCancelWait)) {
    LOG(ERROR) << "the send stream to " << address_ << " has not ended "
               << absl::FormatDuration(kCancelWait) << " after being cancelled";
  }
}

void BrokerSendStream::CloseBy(absl::Time deadline) {
  Close(std::max(absl::ZeroDuration(), deadline - absl::Now()));
}

bool BrokerSendStream::ended() const {
  absl::MutexLock lock(&mu_);
  return done_;
}

bool BrokerSendStream::MayWriteLocked() const {
  if (writing_ || outgoing_.empty()) return false;
  return !LimitsFramesInFlight() ||
         frames_in_flight_.size() < static_cast<size_t>(coalescing_.max_frames_in_flight);
}

void BrokerSendStream::ForgetExpiredFramesLocked() {
  if (!LimitsFramesInFlight()) return;
  for (auto it = frames_in_flight_.begin(); it != frames_in_flight_.end();) {
    const std::vector<uint64_t>& ids = it->second;
    const bool awaited = std::any_of(
        ids.begin(), ids.end(),
        [this](uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_.contains(id); });
    if (awaited) {
      ++it;
    } else {
      frames_in_flight_.erase(it++);
    }
  }
  if (!failed_ && MayWriteLocked()) StartNextWriteLocked();
}

void BrokerSendStream::StartNextWriteLocked() {
  writing_ = true;
  size_t count = 1;
  if (coalescing_.enabled && outgoing_.size() > 1) {
    int64_t bytes = static_cast<int64_t>(outgoing_.front()->ByteSizeLong());
    while (count < outgoing_.size()) {
      bytes += static_cast<int64_t>(outgoing_[count]->ByteSizeLong());
      if (bytes > coalescing_.max_bytes) break;
      ++count;
    }
  }
  written_ = count;
  if (LimitsFramesInFlight()) {
    std::vector<uint64_t>& ids =
        frames_in_flight_[count == 1 ? outgoing_.front()->request_id() : next_id_];
    for (size_t i = 0; i < count; ++i) ids.push_back(outgoing_[i]->request_id());
  }
  // Another write follows this one at once: let gRPC put them into one
  // socket write. (A buffered frame waits for the next write, so not when
  // the next must wait for an answer.)
  grpc::WriteOptions options;
  if (outgoing_.size() > count &&
      (!LimitsFramesInFlight() ||
       frames_in_flight_.size() < static_cast<size_t>(coalescing_.max_frames_in_flight))) {
    options.set_buffer_hint();
  }
  if (count == 1) {
    StartWrite(outgoing_.front().get(), options);
    return;
  }
  // The frame borrows the requests: released in OnWriteDone, before
  // outgoing_ lets them go.
  // The frame's own id: answered with it, matched with no send.
  coalesced_.set_request_id(next_id_++);
  google::protobuf::RepeatedPtrField<broker::v1::SendStreamRequest>* sends =
      coalesced_.mutable_coalesced()->mutable_sends();
  for (size_t i = 0; i < count; ++i) sends->AddAllocated(outgoing_[i].get());
  StartWrite(&coalesced_, options);
}

void BrokerSendStream::ReleaseCoalescedLocked() {
  if (!coalesced_.has_coalesced()) return;
  google::protobuf::RepeatedPtrField<broker::v1::SendStreamRequest>* sends =
      coalesced_.mutable_coalesced()->mutable_sends();
  // Not on an arena: ReleaseLast hands back the borrowed object itself.
  while (!sends->empty()) sends->ReleaseLast();
}

bool BrokerSendStream::ReleaseHoldIfDoneWritingLocked(bool* half_close) {
  if (hold_released_ || writing_) return false;
  if (failed_) {
    *half_close = false;
  } else if (closing_ && outgoing_.empty()) {
    *half_close = true;
  } else {
    return false;
  }
  hold_released_ = true;
  return true;
}

void BrokerSendStream::FinishWriting(bool half_close) {
  if (half_close) StartWritesDone();
  RemoveHold();
}

void BrokerSendStream::OnWriteDone(bool ok) {
  bool release = false;
  bool half_close = false;
  {
    absl::MutexLock lock(&mu_);
    ReleaseCoalescedLocked();
    outgoing_.erase(outgoing_.begin(), outgoing_.begin() + static_cast<ptrdiff_t>(written_));
    written_ = 0;
    writing_ = false;
    if (!ok) failed_ = true;
    if (!failed_ && MayWriteLocked()) {
      StartNextWriteLocked();
    } else {
      release = ReleaseHoldIfDoneWritingLocked(&half_close);
    }
  }
  if (release) FinishWriting(half_close);
}

void BrokerSendStream::OnReadDone(bool ok) {
  if (!ok) {
    // The broker ended the stream (OnDone follows with its status).
    bool release = false;
    bool half_close = false;
    {
      absl::MutexLock lock(&mu_);
      failed_ = true;
      release = ReleaseHoldIfDoneWritingLocked(&half_close);
    }
    if (release) FinishWriting(half_close);
    return;
  }
  // The answered sends' callbacks and outcomes: one, or every send of a
  // coalesced frame.
  std::vector<std::pair<Done, absl::StatusOr<broker::v1::SendStreamResponse>>> answered;
  // Read before the answers move out of incoming_.
  const uint64_t frame_id = incoming_.request_id();
  {
    absl::MutexLock lock(&mu_);
    auto take = [&](broker::v1::SendStreamResponse* answer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = pending_.find(answer->request_id());
      // Not there: expired, and the late answer is dropped.
      if (it == pending_.end()) return;
      answered.emplace_back(std::move(it->second.done), Outcome(answer));
      pending_.erase(it);
    };
    if (incoming_.has_coalesced()) {
      for (broker::v1::SendStreamResponse& answer :
           *incoming_.mutable_coalesced()->mutable_answers()) {
        take(&answer);
      }
    } else {
      take(&incoming_);
    }
    frames_in_flight_.erase(frame_id);
    if (!failed_ && MayWriteLocked()) StartNextWriteLocked();
  }
  incoming_.Clear();
  StartRead(&incoming_);
  for (auto& [done, outcome] : answered) done(std::move(outcome));
}

void BrokerSendStream::OnDone(const grpc::Status& status) {
  std::vector<Done> unanswered;
  bool cancelled_here = false;
  {
    absl::MutexLock lock(&mu_);
    cancelled_here = cancelled_by_close_;
    failed_ = true;
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      refusal_ = FromGrpcStatus(status, context_);
    }
    for (auto& [id, pending] : pending_) unanswered.push_back(std::move(pending.done));
    pending_.clear();
    ReleaseCoalescedLocked();
    outgoing_.clear();
  }
  if (!unanswered.empty()) {
    // However the broker ended the stream (a clean end, a cancellation of its
    // own when it stops, or a refusal because it is not serving), the sends it
    // left unanswered meet a broker that went away: UNAVAILABLE with no
    // response code, an unanswered send, which the producer retries elsewhere
    // (async sends too: RocketMQ retries them when no answer came).
    absl::Status why = FromGrpcStatus(status, context_);
    if (status.ok() || status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        (status.error_code() == grpc::StatusCode::CANCELLED && !cancelled_here)) {
      why = absl::UnavailableError(absl::StrCat("the broker ended the send stream before answering",
                                                status.ok() ? "" : ": ", why.message()));
    }
    VLOG(1) << "send stream to " << address_ << " ended with " << unanswered.size()
            << " sends unanswered: " << why;
    for (Done& done : unanswered) done(why);
  }
  // The last touch: the owner may destroy this object as soon as it is done.
  absl::MutexLock lock(&mu_);
  done_ = true;
}

}  // namespace mq::client_internal
