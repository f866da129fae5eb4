// The HTTP side of a server's metrics: `/metrics` in Prometheus's text format
// and `/healthz` (200 "ok" while the server serves, else 503 with why), on a
// port of their own (--metrics_port). The HTTP server is cpp-httplib's.
#ifndef MQ_COMMON_METRICS_ENDPOINT_H_
#define MQ_COMMON_METRICS_ENDPOINT_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/metrics/registry.h"

namespace httplib {
class Server;
}

namespace mq::metrics {

class MetricsEndpoint {
 public:
  // Listens on `host`:`port` (0 picks a free port) and serves on a thread
  // of its own. `registry` must outlive the endpoint; `health` is asked on
  // every /healthz (OK: 200, else 503 with the status's message).
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& host, int port, const Registry* registry,
      std::function<absl::Status()> health);

  // Stops serving and joins the thread.
  ~MetricsEndpoint();

  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  int port() const { return port_; }

 private:
  MetricsEndpoint(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  const int port_;
  std::thread thread_;
};

}  // namespace mq::metrics

#endif  // MQ_COMMON_METRICS_ENDPOINT_H_
