#include "tests/bench/echo_stream_client.h"

#include <utility>
#include <vector>

namespace mq::bench {

EchoStreamClient::EchoStreamClient(v1::Echo::Stub* stub) {
  stub->async()->EchoStream(&context_, this);
  StartRead(&incoming_);
  StartCall();
}

EchoStreamClient::~EchoStreamClient() { Close(); }

void EchoStreamClient::Send(std::string payload, std::function<void(bool ok)> done) {
  {
    absl::MutexLock lock(&mu_);
    if (!failed_ && !closing_) {
      outgoing_.emplace_back().set_payload(std::move(payload));
      awaiting_echo_.push_back(std::move(done));
      if (!writing_) StartNextWriteLocked();
      return;
    }
  }
  done(false);
}

void EchoStreamClient::StartNextWriteLocked() {
  writing_ = true;
  // More queued behind it: let gRPC coalesce them into one socket write.
  grpc::WriteOptions options;
  if (outgoing_.size() > 1) options.set_buffer_hint();
  StartWrite(&outgoing_.front(), options);
}

void EchoStreamClient::OnWriteDone(bool ok) {
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

void EchoStreamClient::OnReadDone(bool ok) {
  std::vector<std::function<void(bool)>> completed;
  {
    absl::MutexLock lock(&mu_);
    if (ok && !awaiting_echo_.empty()) {
      completed.push_back(std::move(awaiting_echo_.front()));
      awaiting_echo_.pop_front();
    } else {
      failed_ = true;
      completed.assign(std::make_move_iterator(awaiting_echo_.begin()),
                       std::make_move_iterator(awaiting_echo_.end()));
      awaiting_echo_.clear();
    }
  }
  for (auto& done : completed) done(ok);
  if (ok) StartRead(&incoming_);
}

void EchoStreamClient::OnDone(const grpc::Status&) {
  absl::MutexLock lock(&mu_);
  done_ = true;
}

void EchoStreamClient::Close() {
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
