// A client of Echo.EchoStream that pipelines messages on one bidi stream:
// Send() queues a message and calls its `done` when the echo comes back (the
// server answers in order), so the closed-loop load can keep a window of
// messages in flight on the stream.
#ifndef MQ_TESTS_BENCH_ECHO_STREAM_CLIENT_H_
#define MQ_TESTS_BENCH_ECHO_STREAM_CLIENT_H_

#include <grpcpp/client_context.h>

#include <deque>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "tests/bench/echo.grpc.pb.h"

namespace mq::bench {

class EchoStreamClient final : public grpc::ClientBidiReactor<v1::EchoMessage, v1::EchoMessage> {
 public:
  explicit EchoStreamClient(v1::Echo::Stub* stub);
  ~EchoStreamClient() override;

  // Queues `payload`; `done(ok)` runs once its echo arrives or the stream fails.
  void Send(std::string payload, std::function<void(bool ok)> done);

  // Half-closes the stream and waits (bounded) until the server finished it.
  void Close();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  void StartNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::ClientContext context_;
  v1::EchoMessage incoming_;
  absl::Mutex mu_;
  std::deque<v1::EchoMessage> outgoing_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void(bool)>> awaiting_echo_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mq::bench

#endif  // MQ_TESTS_BENCH_ECHO_STREAM_CLIENT_H_
