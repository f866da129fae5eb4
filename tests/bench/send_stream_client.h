// A producer's side of Broker.SendMessageStream for the load generator: Send()
// queues one message with a fresh request id and calls its `done` when the
// answer with that id arrives (answers come in completion order), so a
// closed-loop load keeps a window of sends in flight on one stream.
#ifndef MQ_TESTS_BENCH_SEND_STREAM_CLIENT_H_
#define MQ_TESTS_BENCH_SEND_STREAM_CLIENT_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/client_callback.h>

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "proto/broker.grpc.pb.h"

namespace mq::bench {

class SendStreamClient final : public grpc::ClientBidiReactor<broker::v1::SendStreamRequest,
                                                              broker::v1::SendStreamResponse> {
 public:
  explicit SendStreamClient(broker::v1::Broker::Stub* stub);
  ~SendStreamClient() override;

  // Queues `send`; `done(ok)` runs once its answer arrives (ok: SEND_OK) or
  // the stream fails.
  void Send(const broker::v1::SendMessageRequest& send, std::function<void(bool ok)> done);

  // Half-closes the stream and waits (bounded) until the server finished it.
  void Close();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  void StartNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::ClientContext context_;
  broker::v1::SendStreamResponse incoming_;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<broker::v1::SendStreamRequest> outgoing_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::function<void(bool)>> awaiting_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mq::bench

#endif  // MQ_TESTS_BENCH_SEND_STREAM_CLIENT_H_
