#include "benchmarks/suite/echo_service.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <deque>
#include <iostream>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "benchmarks/suite/echo.grpc.pb.h"
#include "common/grpc_options.h"

namespace mq::bench {
namespace {

// Echoes a stream: keeps reading while earlier echoes are being written (gRPC
// allows one outstanding write per stream, so echoes wait in a queue).
class StreamEchoReactor final : public grpc::ServerBidiReactor<v1::EchoMessage, v1::EchoMessage> {
 public:
  StreamEchoReactor() { StartRead(&incoming_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&mu_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      outgoing_.push_back(std::move(incoming_));
      if (!writing_) StartNextWriteLocked();
    }
    incoming_.Clear();
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    outgoing_.pop_front();
    writing_ = false;
    if (!ok) {
      outgoing_.clear();
      write_failed_ = true;
    }
    if (!outgoing_.empty()) StartNextWriteLocked();
    MaybeFinishLocked();
  }

  void OnDone() override { delete this; }

 private:
  void StartNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    // More queued behind it: let gRPC coalesce them into one socket write.
    grpc::WriteOptions options;
    if (outgoing_.size() > 1) options.set_buffer_hint();
    StartWrite(&outgoing_.front(), options);
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reads_done_ && !writing_ && !finished_) {
      finished_ = true;
      Finish(write_failed_ ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed")
                           : grpc::Status::OK);
    }
  }

  v1::EchoMessage incoming_;
  absl::Mutex mu_;
  std::deque<v1::EchoMessage> outgoing_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class EchoService final : public v1::Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const v1::EchoMessage* request,
                                 v1::EchoMessage* response) override {
    *response = *request;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* EchoBatch(grpc::CallbackServerContext* context,
                                      const v1::EchoBatchMessage* request,
                                      v1::EchoBatchMessage* response) override {
    *response = *request;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerBidiReactor<v1::EchoMessage, v1::EchoMessage>* EchoStream(
      grpc::CallbackServerContext*) override {
    return new StreamEchoReactor();
  }
};

}  // namespace

int ServeEcho() {
  EchoService service;
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(&builder);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    std::cerr << "echo server failed to start\n";
    return 1;
  }
  std::cout << "echo listening on 127.0.0.1:" << port << std::endl;
  server->Wait();
  return 0;
}

}  // namespace mq::bench
