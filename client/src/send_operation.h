// The one send engine of the producer: every send (sync, async, oneway,
// batch, to a chosen queue) is a SendOperation. It picks the queue of each
// attempt, writes the attempt on the broker's send stream, runs the hooks,
// updates the fault strategy and decides whether to try again, all in one
// place; a sync send is this plus a bounded wait (as the broker's
// SendMessageProcessor::Send is a wait on SendAsync).
#ifndef MQ_CLIENT_SRC_SEND_OPERATION_H_
#define MQ_CLIENT_SRC_SEND_OPERATION_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "client/src/broker_send_stream.h"
#include "client/src/producer_impl.h"
#include "client/src/send_retry.h"
#include "proto/broker.pb.h"

namespace mq::client_internal {

// Retry rules by mode: a sync send (and a batch) tries again after no answer
// or an answer whose response code is in retry_response_codes, and after a
// stored-but-not-SEND_OK answer when retry_another_broker_when_not_store_ok;
// an async send only after no answer (RocketMQ's rule); a oneway send makes
// one attempt.
//
// Thread-safe. The attempts of a sync send run on the caller's thread, which
// waits in AwaitOnCaller() (so queue rotation is per sending thread, as
// RocketMQ's, and route lookups do not block gRPC's threads); those of an
// async send start on the thread that ended the previous one (a gRPC or the
// deadline sweeper's thread).
class ProducerImpl::SendOperation : public std::enable_shared_from_this<SendOperation> {
 public:
  // `hook_message` must outlive the operation unless `hook_copy` owns it.
  // `fixed_queue`: the one queue of every attempt (a send to a chosen queue).
  SendOperation(ProducerImpl* producer, std::shared_ptr<ClientInstance> instance, TopicEntry entry,
                absl::optional<MessageQueue> fixed_queue, SendPlan plan, absl::Time begin,
                std::shared_ptr<broker::v1::SendStreamRequest> request, std::string msg_id,
                const Message* hook_message, std::unique_ptr<Message> hook_copy, SendDone done);

  // Starts the first attempt. False when the operation ended before any
  // attempt went out; unsent_error() then says why (`done` has run).
  bool Start() ABSL_LOCKS_EXCLUDED(mu_);
  const absl::Status& unsent_error() const { return unsent_error_; }

  // For a sync send, after Start(): runs the further attempts on this thread
  // and expires each at its deadline; returns once `done` has run.
  void AwaitOnCaller() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Starts the next attempt, or finishes when none is left.
  void Next() ABSL_LOCKS_EXCLUDED(mu_);
  void OnAnswer(absl::StatusOr<broker::v1::SendStreamResponse> answer) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the outcome of the attempt that just ended calls for another.
  bool WantsAnotherAttempt(const absl::StatusOr<SendResult>& result);
  absl::StatusOr<SendResult> ResultOf(broker::v1::SendStreamResponse answer) const;
  void Finish(absl::StatusOr<SendResult> result) ABSL_LOCKS_EXCLUDED(mu_);
  SendContext Context() const;

  ProducerImpl* const producer_;
  std::shared_ptr<ClientInstance> instance_;
  const TopicEntry entry_;
  const absl::optional<MessageQueue> fixed_queue_;
  const SendMode mode_;
  const std::string topic_;
  const std::string msg_id_;
  const Message* const hook_message_;
  const std::unique_ptr<Message> hook_copy_;
  SendDone done_;
  // Touched by one attempt at a time (attempts follow one another).
  SendRetryState retry_;
  std::shared_ptr<broker::v1::SendStreamRequest> request_;
  MessageQueue queue_;
  std::string address_;
  absl::Time attempt_start_;
  // Set only when the first attempt never went out, before Start() returns.
  absl::Status unsent_error_;

  // The attempt in flight, and what the caller of a sync send waits for.
  absl::Mutex mu_;
  bool sent_any_ ABSL_GUARDED_BY(mu_) = false;
  int attempts_sent_ ABSL_GUARDED_BY(mu_) = 0;
  bool next_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<BrokerSendStream> stream_ ABSL_GUARDED_BY(mu_);
  uint64_t request_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time attempt_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_SEND_OPERATION_H_
