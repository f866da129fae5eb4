#include "common/grpc_server.h"

#include <glog/logging.h>
#include <grpc/grpc.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/server_interceptor.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/metrics/rpc_metrics.h"
#include "common/status.h"
#include "common/validation.h"

namespace mq {

namespace {

// Why listening on `host`:`port` failed, found by binding it ourselves:
// EADDRINUSE is the common case and deserves its own words.
absl::Status ListenFailure(const std::string& host, int port) {
  const std::string address = absl::StrCat(host, ":", port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on ", address, ": ", gai_strerror(rc)));
  }
  int bind_errno = 0;
  for (addrinfo* a = found; a != nullptr && bind_errno != EADDRINUSE; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    int on = 1;
    // As gRPC binds: a port whose old connections sit in TIME_WAIT is free.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) bind_errno = errno;
    close(fd);
  }
  freeaddrinfo(found);
  if (bind_errno == EADDRINUSE) {
    return absl::FailedPreconditionError(absl::StrCat("port ", port, " is already in use"));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot listen on ", address,
                   bind_errno != 0 ? absl::StrCat(": ", std::strerror(bind_errno)) : ""));
}

}  // namespace

// The calls a server is working on: every call but server-streaming ones
// (watches, which stop with the server and hold no work).
// An atomic count, as every call passes here; only shutdown waits on it.
class CallsInFlight {
 public:
  void Add() { count_.fetch_add(1, std::memory_order_relaxed); }
  void Done() { count_.fetch_sub(1, std::memory_order_release); }
  // True once none is in flight; false if `deadline` came first. Polls every
  // 5 ms: it runs once, at shutdown.
  bool AwaitNone(absl::Time deadline) const {
    while (count_.load(std::memory_order_acquire) > 0) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }

 private:
  std::atomic<int64_t> count_{0};
};

namespace {

// Every call passes here. It counts the call while it is in flight (see
// CallsInFlight). And gRPC answers a unary or server-streaming request it
// cannot parse with INTERNAL (synchronous services) or UNIMPLEMENTED (callback
// services), with no message; the services of this system never answer with
// an empty message, so such an answer is gRPC's, and is replaced. Any error
// that leaves without a response code (gRPC's own services) gets the default
// one.
class ServerCallInterceptor : public grpc::experimental::Interceptor {
 public:
  // `method` lives as long as the server (gRPC's method table); `calls`
  // null: not counted.
  ServerCallInterceptor(const char* method, bool unary, CallsInFlight* calls,
                        metrics::RpcMetrics* rpc_metrics)
      : method_(method),
        unary_(unary),
        calls_(calls),
        rpc_metrics_(rpc_metrics),
        start_(rpc_metrics != nullptr ? absl::Now() : absl::InfinitePast()) {
    if (calls_ != nullptr) calls_->Add();
  }
  ~ServerCallInterceptor() override {
    if (calls_ != nullptr) calls_->Done();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if ((status.error_code() == grpc::StatusCode::INTERNAL ||
           status.error_code() == grpc::StatusCode::UNIMPLEMENTED) &&
          status.error_message().empty()) {
        status =
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         absl::StrCat("request could not be parsed as the request of ", method_));
        methods->ModifySendStatus(status);
      }
      std::multimap<std::string, std::string>* trailers = methods->GetSendTrailingMetadata();
      if (!status.ok() && trailers->count(std::string(kResponseCodeKey)) == 0) {
        trailers->emplace(std::string(kResponseCodeKey),
                          std::to_string(static_cast<int>(DefaultResponseCode(
                              static_cast<absl::StatusCode>(status.error_code())))));
      }
      if (rpc_metrics_ != nullptr) Observe(static_cast<absl::StatusCode>(status.error_code()));
    }
    methods->Proceed();
  }

 private:
  void Observe(absl::StatusCode code) {
    absl::string_view method = method_;
    absl::ConsumePrefix(&method, "/");
    if (unary_) {
      rpc_metrics_->ObserveUnary(method, code, absl::Now() - start_);
    } else {
      rpc_metrics_->ObserveStream(method, code);
    }
  }

  const char* const method_;
  const bool unary_;
  CallsInFlight* const calls_;
  metrics::RpcMetrics* const rpc_metrics_;
  const absl::Time start_;
};

class ServerCallInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  ServerCallInterceptorFactory(std::shared_ptr<CallsInFlight> calls,
                               std::shared_ptr<metrics::RpcMetrics> rpc_metrics)
      : calls_(std::move(calls)), rpc_metrics_(std::move(rpc_metrics)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const bool watch = info->type() == grpc::experimental::ServerRpcInfo::Type::SERVER_STREAMING;
    const bool unary = info->type() == grpc::experimental::ServerRpcInfo::Type::UNARY;
    return new ServerCallInterceptor(info->method(), unary, watch ? nullptr : calls_.get(),
                                     rpc_metrics_.get());
  }

 private:
  const std::shared_ptr<CallsInFlight> calls_;
  const std::shared_ptr<metrics::RpcMetrics> rpc_metrics_;
};

// Answers every call of a method no service of the port has.
class UnknownMethodService : public grpc::CallbackGenericService {
 public:
  explicit UnknownMethodService(const std::vector<std::string>& services)
      : services_(absl::StrJoin(services, ", ")) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    std::string message = absl::StrCat("method ", QuoteInput(context->method()),
                                       " is not served here; this port serves ", services_);
    if (absl::StartsWith(context->method(), "/apache.rocketmq.v2.")) {
      absl::StrAppend(&message,
                      " (RocketMQ 5's apache.rocketmq.v2 protocol is served on the ports of "
                      "the standalone server, the brokers and the proxy)");
    }
    LogOncePerPeer(context->peer(), message);
    context->AddTrailingMetadata(
        std::string(kResponseCodeKey),
        std::to_string(static_cast<int>(common::v1::REQUEST_CODE_NOT_SUPPORTED)));
    class Refusal : public grpc::ServerGenericBidiReactor {
     public:
      explicit Refusal(grpc::Status status) { Finish(std::move(status)); }
      void OnDone() override { delete this; }
    };
    return new Refusal(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, message));
  }

 private:
  void LogOncePerPeer(const std::string& peer, const std::string& message) {
    // The peer's host, without the port of its connection.
    const std::string host = peer.substr(0, peer.rfind(':'));
    absl::MutexLock lock(&mu_);
    if (logged_.size() >= kMaxLoggedPeers) logged_.clear();
    if (!logged_.insert(host).second) return;
    LOG(WARNING) << "a client at " << host
                 << " called a method this port does not serve: " << message;
  }

  static constexpr size_t kMaxLoggedPeers = 1024;
  const std::string services_;
  absl::Mutex mu_;
  std::set<std::string> logged_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void ListeningServer::Shutdown(absl::Duration grace) const {
  const absl::Time start = absl::Now();
  if (!calls->AwaitNone(start + grace)) {
    LOG(WARNING) << "calls still in flight after the shutdown grace of "
                 << absl::FormatDuration(grace) << "; cancelling them";
  }
  server->Shutdown(absl::ToChronoTime(absl::Now()));
}

void ListeningServer::SetServing(bool serving) const {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  for (const std::string& service : services) health->SetServingStatus(service, serving);
}

absl::StatusOr<ListeningServer> StartServer(grpc::ServerBuilder* builder, const std::string& host,
                                            const std::vector<ListenPort>& ports,
                                            std::vector<std::string> services,
                                            metrics::Registry* metrics) {
  ListeningServer started;
  started.unknown_methods = std::make_unique<UnknownMethodService>(services);
  started.services = std::move(services);
  builder->RegisterCallbackGenericService(started.unknown_methods.get());
  started.calls = std::make_shared<CallsInFlight>();
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<ServerCallInterceptorFactory>(
      started.calls,
      metrics != nullptr ? std::make_shared<metrics::RpcMetrics>(metrics) : nullptr));
  builder->experimental().SetInterceptorCreators(std::move(interceptors));
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  started.ports.assign(ports.size(), 0);
  for (size_t i = 0; i < ports.size(); ++i) {
    builder->AddListeningPort(
        absl::StrCat(host, ":", ports[i].port),
        ports[i].credentials != nullptr ? ports[i].credentials : grpc::InsecureServerCredentials(),
        &started.ports[i]);
  }
  started.server = builder->BuildAndStart();
  for (size_t i = 0; i < ports.size(); ++i) {
    if (started.server != nullptr && started.ports[i] != 0) continue;
    if (started.server != nullptr) started.server->Shutdown();
    // gRPC does not say which port failed: a port in use is the usual cause.
    for (const ListenPort& listen : ports) {
      absl::Status failure = ListenFailure(host, listen.port);
      if (absl::IsFailedPrecondition(failure)) return failure;
    }
    return ListenFailure(host, ports[i].port);
  }
  started.port = started.ports.empty() ? 0 : started.ports.front();
  return started;
}

}  // namespace mq
