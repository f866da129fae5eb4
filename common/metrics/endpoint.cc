#include "common/metrics/endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mq::metrics {

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& host, int port, const Registry* registry,
    std::function<absl::Status()> health) {
  auto server = std::make_unique<httplib::Server>();
  // cpp-httplib's default also sets SO_REUSEPORT, which lets a second server
  // share the port silently; a port in use must be an error, as for gRPC.
  server->set_socket_options([](int socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->Get("/metrics", [registry](const httplib::Request&, httplib::Response& response) {
    response.set_content(registry->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server->Get("/healthz",
              [health = std::move(health)](const httplib::Request&, httplib::Response& response) {
                const absl::Status status = health();
                response.status = status.ok() ? 200 : 503;
                response.set_content(status.ok() ? "ok\n" : absl::StrCat(status.message(), "\n"),
                                     "text/plain; charset=utf-8");
              });
  int bound = port;
  if (port == 0) {
    bound = server->bind_to_any_port(host);
  } else if (!server->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("metrics port ", host, ":", port, " could not be listened on (in use?)"));
  }
  auto endpoint = std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(server), bound));
  return endpoint;
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port) {
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() is a no-op before the loop runs: wait for it (a few ms at most),
  // so the destructor can always end it.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!server_->is_running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
}

MetricsEndpoint::~MetricsEndpoint() {
  server_->stop();
  thread_.join();
}

}  // namespace mq::metrics
