// The server side of Broker.SendMessageStream: one producer's sends (single
// messages and batches) over one bidi stream. Each request is handed to the
// SendMessageProcessor as it is read, so many sends of a stream are in flight
// at once; each answer is written as its send completes (a queue of
// responses, one write at a time).
//
// Flow control: at most kMaxStreamSendsInFlight sends of a stream are pending;
// past that the reactor stops reading until one completes, and HTTP/2 flow
// control pushes back on the producer.
//
// Frames are read as bytes and parsed here (the method is registered raw):
// a frame that cannot be parsed (garbage, a truncated request, a string that
// is not UTF-8) ends the stream, once the sends read before it are answered,
// with INVALID_ARGUMENT naming the frame, so the client knows that it and
// every later send of the stream were not taken. (gRPC's own parsing reports
// such a frame as the client's end of stream, which answered OK and dropped
// the later sends without a word.)
//
// Lifetime: the reactor deletes itself in OnDone(). It finishes the stream
// only once no send is pending (so no store callback can reach a deleted
// reactor): after the client half-closed and every answer was written, after
// a cancellation once the pending sends completed (their answers are
// dropped), or, when the broker stops (Drain), with UNAVAILABLE once the
// sends already read are answered: sends the client wrote after that fail
// with the stream and are retried elsewhere, and the server's shutdown does
// not wait out its grace period for streams producers keep open.
#ifndef MQ_SERVICES_BROKER_SEND_STREAM_REACTOR_H_
#define MQ_SERVICES_BROKER_SEND_STREAM_REACTOR_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "common/executor.h"
#include "proto/broker.pb.h"
#include "services/broker/broker_metrics.h"
#include "services/broker/send_message_processor.h"

namespace mq::broker {

inline constexpr int kMaxStreamSendsInFlight = 1024;

class SendStreamReactor;

// The open send streams of a broker, so that stopping can drain them.
// Thread-safe.
class SendStreams {
 public:
  void Add(SendStreamReactor* stream) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(SendStreamReactor* stream) ABSL_LOCKS_EXCLUDED(mu_);
  // Drains every open stream (see SendStreamReactor::Drain).
  void DrainAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  // A stream leaves in its OnDone(), which waits for mu_: a stream found
  // here is alive while mu_ is held.
  absl::flat_hash_set<SendStreamReactor*> open_ ABSL_GUARDED_BY(mu_);
};

class SendStreamReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // `send_executor` null: sends start on the thread that read them (the
  // store's appends never block); else they run on `send_executor`.
  // `processor`, `send_executor` and `streams` (where the stream enters
  // until it is done) must outlive the stream; `context` is the call's.
  // `metrics` (null: none) counts each refused send. `authorize` (null:
  // none) is asked about each send before it starts; a send it refuses is
  // answered with its error and changes nothing (access control).
  SendStreamReactor(
      SendMessageProcessor* processor, Executor* send_executor, std::string born_host,
      SendStreams* streams, BrokerMetrics* metrics, grpc::CallbackServerContext* context,
      std::function<absl::Status(const broker::v1::SendStreamRequest&)> authorize = nullptr);

  // Reads no more sends and finishes the stream with UNAVAILABLE once the
  // sends already read are answered.
  void Drain() ABSL_LOCKS_EXCLUDED(mu_);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void StartSend(std::shared_ptr<broker::v1::SendStreamRequest> request);
  // Starts one send or batch (`request`, answered as request `id`): `answer`
  // runs once with its answer.
  void StartOne(std::shared_ptr<broker::v1::SendStreamRequest> request, uint64_t id,
                std::function<void(broker::v1::SendStreamResponse)> answer);
  // A coalesced frame: its runs of single sends are each stored with one
  // append (SendMessageProcessor::SendEachAsync), its batches alone, in the
  // frame's order; one answer frame carries every send's answer.
  void StartCoalesced(std::shared_ptr<broker::v1::SendStreamRequest> request);
  // Queues the answer to one request.
  void Complete(const broker::v1::SendStreamResponse& answer) ABSL_LOCKS_EXCLUDED(mu_);
  // The operations to start once mu_ is released; their buffers stay put
  // while the operation is outstanding.
  struct Next {
    grpc::ByteBuffer* read_into = nullptr;
    const grpc::ByteBuffer* write_from = nullptr;
    // More answers are queued behind write_from: let gRPC coalesce them
    // into one socket write instead of one per answer.
    bool more_to_write = false;
    absl::optional<absl::Status> finish;
  };
  Next NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(Next next) ABSL_LOCKS_EXCLUDED(mu_);

  SendMessageProcessor* const processor_;
  Executor* const send_executor_;
  const std::string born_host_;
  SendStreams* const streams_;
  BrokerMetrics* const metrics_;
  grpc::CallbackServerContext* const context_;
  const std::function<absl::Status(const broker::v1::SendStreamRequest&)> authorize_;

  // The frame the outstanding read fills; touched only by that read and by
  // OnReadDone, which runs before the next read is started.
  grpc::ByteBuffer reading_;

  absl::Mutex mu_;
  bool read_outstanding_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  // Frames read so far, and why the last one could not be parsed (OK if none).
  int64_t frames_read_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status malformed_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<grpc::ByteBuffer> to_write_ ABSL_GUARDED_BY(mu_);
  // The answer the outstanding write sends.
  grpc::ByteBuffer writing_ ABSL_GUARDED_BY(mu_);
  bool write_outstanding_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_SEND_STREAM_REACTOR_H_
