#include "tests/bench/send_stream_client.h"

#include <utility>
#include <vector>

namespace mq::bench {

SendStreamClient::SendStreamClient(broker::v1::Broker::Stub* stub) {
  stub->async()->SendMessageStream(&context_, this);
  StartRead(&incoming_);
  StartCall();
}

SendStreamClient::~SendStreamClient() { Close(); }

void SendStreamClient::Send(const broker::v1::SendMessageRequest& send,
                            std::function<void(bool ok)> done) {
  {
    absl::MutexLock lock(&mu_);
    if (!failed_ && !closing_) {
      broker::v1::SendStreamRequest& request = outgoing_.emplace_back();
      request.set_request_id(next_id_++);
      *request.mutable_send() = send;
      awaiting_.emplace(request.request_id(), std::move(done));
      if (!writing_) StartNextWriteLocked();
      return;
    }
  }
  done(false);
}

void SendStreamClient::StartNextWriteLocked() {
  writing_ = true;
  // More queued behind it: let gRPC coalesce them into one socket write.
  grpc::WriteOptions options;
  if (outgoing_.size() > 1) options.set_buffer_hint();
  StartWrite(&outgoing_.front(), options);
}

void SendStreamClient::OnWriteDone(bool ok) {
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
  if (start_writes_done) StartWritesDone();
}

void SendStreamClient::OnReadDone(bool ok) {
  std::vector<std::pair<std::function<void(bool)>, bool>> completed;
  {
    absl::MutexLock lock(&mu_);
    auto it = ok ? awaiting_.find(incoming_.request_id()) : awaiting_.end();
    if (it != awaiting_.end()) {
      completed.emplace_back(
          std::move(it->second),
          incoming_.has_response() && incoming_.response().status() == broker::v1::SEND_OK);
      awaiting_.erase(it);
    } else {
      // The stream ended (or answered an id never sent): fail what is left.
      failed_ = true;
      ok = false;
      for (auto& [id, done] : awaiting_) completed.emplace_back(std::move(done), false);
      awaiting_.clear();
    }
  }
  for (auto& [done, sent] : completed) done(sent);
  if (ok) StartRead(&incoming_);
}

void SendStreamClient::OnDone(const grpc::Status&) {
  absl::MutexLock lock(&mu_);
  done_ = true;
}

void SendStreamClient::Close() {
  absl::MutexLock lock(&mu_);
  if (!closing_) {
    closing_ = true;
    if (!writing_) {
      mu_.Unlock();
      StartWritesDone();
      mu_.Lock();
    }
  }
  if (!mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(10))) context_.TryCancel();
  mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(10));
}

}  // namespace mq::bench
