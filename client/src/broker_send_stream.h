// One Broker.SendMessageStream to one broker, shared by every send (single
// messages and batches) of a client instance to that broker: sends are
// written one after another on the stream and matched with their answers by
// request id, as RocketMQ's remoting matches responses to requests by opaque
// id on one connection. A unary call per message costs a gRPC call setup and
// teardown on both sides; on the stream a send costs one message each way
// (benchmarks/HISTORY.md, issue 9).
#ifndef MQ_CLIENT_SRC_BROKER_SEND_STREAM_H_
#define MQ_CLIENT_SRC_BROKER_SEND_STREAM_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/client_callback.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/broker.grpc.pb.h"

namespace mq::client_internal {

// How a send stream coalesces sends (ClientOptions::coalesce_*).
struct SendCoalescing {
  bool enabled = true;
  int64_t max_bytes = 1 << 20;
  // 0: no limit.
  int max_frames_in_flight = 1;
};

// Coalescing: with `coalescing.enabled`, the sends queued behind a frame
// being written, or behind max_frames_in_flight unanswered frames, go as one
// CoalescedSends frame (up to max_bytes); a send to an idle stream is
// written at once. The frame refers to the queued requests (no copy); each
// send is still matched with its own answer by its request id.
//
// Thread-safe. Every send's `done` runs exactly once: with the broker's
// answer; with its per-send error (the status SendMessage would have
// returned); DEADLINE_EXCEEDED once Expire() or ExpireOverdue() finds it past
// its deadline; or, when the stream fails, the stream's status (UNAVAILABLE
// when the broker went away), so the producer's retry and fault bookkeeping
// treat it as they treat a failed unary call. A failed stream takes no more
// sends (usable() turns false); the owner opens a new one.
class BrokerSendStream final : public grpc::ClientBidiReactor<broker::v1::SendStreamRequest,
                                                              broker::v1::SendStreamResponse> {
 public:
  // The answer: `response` for a single send, `batch_response` for a batch;
  // an error answer comes as its status.
  using Done = std::function<void(absl::StatusOr<broker::v1::SendStreamResponse>)>;

  // Starts the call on `stub`'s channel. The owner must keep the object until
  // ended() and drop it while something else still holds the channel: the
  // call's context refers to the channel, and the last reference to a
  // channel must not go away on a gRPC thread (grpc/grpc#37858).
  static std::shared_ptr<BrokerSendStream> Open(broker::v1::Broker::Stub& stub, std::string address,
                                                SendCoalescing coalescing = SendCoalescing());
  ~BrokerSendStream() override;

  BrokerSendStream(const BrokerSendStream&) = delete;
  BrokerSendStream& operator=(const BrokerSendStream&) = delete;

  const std::string& address() const { return address_; }

  // Sets `request`'s request id, queues it and returns the id (for Expire).
  // The stream holds `request` until it is written: the caller must not
  // change it meanwhile (a retry that needs other fields copies it). `done`
  // runs on a gRPC thread, or on this thread when the stream cannot take
  // sends any more.
  uint64_t Send(std::shared_ptr<broker::v1::SendStreamRequest> request, absl::Time deadline,
                Done done) ABSL_LOCKS_EXCLUDED(mu_);

  // Completes send `id` with DEADLINE_EXCEEDED if it is still unanswered
  // (a late answer is then dropped).
  void Expire(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  // Expires every unanswered send whose deadline is not after `now`.
  void ExpireOverdue(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // False once the stream failed or is closing.
  bool usable() const ABSL_LOCKS_EXCLUDED(mu_);
  // True once the call has ended and every send has been answered.
  bool ended() const ABSL_LOCKS_EXCLUDED(mu_);

  // Half-closes the stream and waits up to `grace` for the answers to what is
  // pending; then cancels the call (failing what is left with CANCELLED) and
  // waits until it has ended. Idempotent. Must not be called on a gRPC
  // thread.
  void Close(absl::Duration grace) ABSL_LOCKS_EXCLUDED(mu_);
  // Close() with the time left until `deadline`, so that a set of streams
  // closes within one grace period.
  void CloseBy(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnReadDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone(const grpc::Status& status) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Pending {
    absl::Time deadline;
    Done done;
  };

  BrokerSendStream(std::string address, SendCoalescing coalescing);

  // Whether a write may start now: nothing is being written, something is
  // queued, and fewer frames than the limit await their answer.
  bool MayWriteLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives the requests the coalesced frame refers to back to outgoing_'s
  // owners (the frame does not own them).
  void ReleaseCoalescedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool LimitsFramesInFlight() const {
    return coalescing_.enabled && coalescing_.max_frames_in_flight > 0;
  }
  // After sends expired: forgets the frames none of whose sends awaits an
  // answer any more, and starts the next write if that frees a slot.
  void ForgetExpiredFramesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the hold that keeps the call open for writes started outside
  // reactions, once no write will start any more: after a failure, or on
  // close once the queue is written. Returns whether to half-close first.
  bool ReleaseHoldIfDoneWritingLocked(bool* half_close) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishWriting(bool half_close);

  const std::string address_;
  const SendCoalescing coalescing_;
  grpc::ClientContext context_;
  broker::v1::SendStreamResponse incoming_;

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<std::shared_ptr<broker::v1::SendStreamRequest>> outgoing_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // The requests at the front of outgoing_ the write in progress carries.
  size_t written_ ABSL_GUARDED_BY(mu_) = 0;
  // The frame of a coalesced write (its sends point into outgoing_).
  broker::v1::SendStreamRequest coalesced_ ABSL_GUARDED_BY(mu_);
  // With a limit on frames in flight: the sends of each frame written and
  // not answered yet, by the frame's request id. A frame stops counting when
  // its answer comes, or once none of its sends awaits an answer (expired).
  absl::flat_hash_map<uint64_t, std::vector<uint64_t>> frames_in_flight_ ABSL_GUARDED_BY(mu_);
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  // Why access control refused the stream (OK: it did not).
  absl::Status refusal_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
  // Close() cancelled the call (a CANCELLED end is then ours, not the broker's).
  bool cancelled_by_close_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_BROKER_SEND_STREAM_H_
