// The load generator's client of a bidi stream that pipelines requests: Send()
// queues one request and calls its `done` when the answer to it arrives, so a
// closed-loop load keeps a window of requests in flight on one stream. Used
// for Echo.EchoStream (answers come in request order) and
// Broker.SendMessageStream (answers carry the request id, in completion
// order).
#ifndef MQ_BENCHMARKS_SUITE_PIPELINED_STREAM_CLIENT_H_
#define MQ_BENCHMARKS_SUITE_PIPELINED_STREAM_CLIENT_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/client_callback.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq::bench {

template <typename Request, typename Response>
class PipelinedStreamClient final : public grpc::ClientBidiReactor<Request, Response> {
 public:
  struct Protocol {
    // Registers the call with this reactor: stub->async()->Method(context, reactor).
    std::function<void(grpc::ClientContext*, grpc::ClientBidiReactor<Request, Response>*)> start;
    // Puts the request's id (0, 1, 2, ... in send order) into it; null when
    // requests carry none.
    std::function<void(uint64_t id, Request*)> stamp;
    // The id of the request `answer` answers; `answers_before` is how many
    // answers came before it.
    std::function<uint64_t(const Response& answer, uint64_t answers_before)> answered_id;
    // Whether `answer` reports success.
    std::function<bool(const Response& answer)> succeeded;
  };

  explicit PipelinedStreamClient(Protocol protocol) : protocol_(std::move(protocol)) {
    protocol_.start(&context_, this);
    this->StartRead(&incoming_);
    this->StartCall();
  }
  ~PipelinedStreamClient() override { Close(); }

  // Queues `request`; `done(ok)` runs once its answer arrives (ok: it
  // succeeded) or the stream fails.
  void Send(Request request, std::function<void(bool ok)> done) {
    {
      absl::MutexLock lock(&mu_);
      if (!failed_ && !closing_) {
        const uint64_t id = next_id_++;
        if (protocol_.stamp) protocol_.stamp(id, &request);
        outgoing_.push_back(std::move(request));
        awaiting_.emplace(id, std::move(done));
        if (!writing_) StartNextWriteLocked();
        return;
      }
    }
    done(false);
  }

  // Half-closes the stream and waits (bounded) until the server finished it.
  void Close() {
    absl::MutexLock lock(&mu_);
    if (!closing_) {
      closing_ = true;
      if (!writing_) {
        mu_.Unlock();
        this->StartWritesDone();
        mu_.Lock();
      }
    }
    if (!mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(10))) context_.TryCancel();
    mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(10));
  }

  void OnWriteDone(bool ok) override {
    bool start_writes_done = false;
    {
      absl::MutexLock lock(&mu_);
      outgoing_.pop_front();
      writing_ = false;
      if (!ok) failed_ = true;
      if (!failed_ && !outgoing_.empty()) {
        StartNextWriteLocked();
      } else {
        start_writes_done = closing_ && outgoing_.empty();
      }
    }
    if (start_writes_done) this->StartWritesDone();
  }

  void OnReadDone(bool ok) override {
    std::vector<std::pair<std::function<void(bool)>, bool>> completed;
    {
      absl::MutexLock lock(&mu_);
      auto it = ok ? awaiting_.find(protocol_.answered_id(incoming_, answers_++)) : awaiting_.end();
      if (it != awaiting_.end()) {
        completed.emplace_back(std::move(it->second), protocol_.succeeded(incoming_));
        awaiting_.erase(it);
      } else {
        // The stream ended (or answered a request never sent): fail the rest.
        failed_ = true;
        ok = false;
        for (auto& [id, done] : awaiting_) completed.emplace_back(std::move(done), false);
        awaiting_.clear();
      }
    }
    for (auto& [done, succeeded] : completed) done(succeeded);
    if (ok) this->StartRead(&incoming_);
  }

  void OnDone(const grpc::Status&) override {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }

 private:
  void StartNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    // More queued behind it: let gRPC coalesce them into one socket write.
    grpc::WriteOptions options;
    if (outgoing_.size() > 1) options.set_buffer_hint();
    this->StartWrite(&outgoing_.front(), options);
  }

  const Protocol protocol_;
  grpc::ClientContext context_;
  Response incoming_;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t answers_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Request> outgoing_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::function<void(bool)>> awaiting_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mq::bench

#endif  // MQ_BENCHMARKS_SUITE_PIPELINED_STREAM_CLIENT_H_
