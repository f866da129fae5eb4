// The server side of a long-lived bidirectional stream on which the server
// pushes commands at any time (a producer's check-back channel, a RocketMQ 5
// client's Telemetry): writes from any thread are queued and written one at a
// time, and ending the call waits for the write in flight.
#ifndef MQ_COMMON_SERVER_STREAM_H_
#define MQ_COMMON_SERVER_STREAM_H_

#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <deque>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mq {

// Subclasses read (StartRead/OnReadDone) and implement OnDone; this class owns
// the writing and the finish. `mu_` also guards the subclass's own state.
template <typename Request, typename Response>
class QueuedServerBidiReactor : public grpc::ServerBidiReactor<Request, Response> {
 public:
  // Queues `response` for writing; false when the call is ending.
  bool Write(Response response) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (finishing_) return false;
    pending_.push_back(std::move(response));
    if (!writing_) WriteNextLocked();
    return true;
  }

  // Finishes the call with `status`, now or after the write in flight.
  void End(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    FinishLocked(status);
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status::CANCELLED);
      return;
    }
    pending_.pop_front();
    if (!pending_.empty() && !finishing_) {
      WriteNextLocked();
    } else if (finishing_ && !finished_) {
      finished_ = true;
      this->Finish(final_status_);
    }
  }

  void OnCancel() override { End(grpc::Status::CANCELLED); }

 protected:
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_) return;
    finishing_ = true;
    final_status_ = status;
    if (!writing_) {
      finished_ = true;
      this->Finish(status);
    }
  }

  mutable absl::Mutex mu_;

 private:
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    this->StartWrite(&pending_.front());
  }

  // The front is being written while writing_.
  std::deque<Response> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq

#endif  // MQ_COMMON_SERVER_STREAM_H_
