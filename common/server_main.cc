#include "common/server_main.h"

#include <glog/logging.h>
#include <grpcpp/server.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/grpc_options.h"
#include "common/grpc_server.h"
#include "common/metrics/endpoint.h"
#include "common/metrics/process_metrics.h"
#include "common/process.h"

ABSL_FLAG(std::string, listen_address, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, metrics_port, 0,
          "Port of the HTTP endpoint serving /metrics (Prometheus text format) and /healthz "
          "on --listen_address; 0 turns it off.");
ABSL_FLAG(int, metrics_max_series, 10000,
          "The most label sets (topics x queues, groups, ...) one metric takes; the rest are "
          "summed into one series labelled _other_.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM, how long in-flight calls may take before they are cancelled.");

namespace mq {
namespace {

enum Phase { kStarting, kServing, kStopping };

}  // namespace

std::unique_ptr<metrics::Registry> NewServerMetrics() {
  auto registry =
      std::make_unique<metrics::Registry>(std::max(2, absl::GetFlag(FLAGS_metrics_max_series)));
  metrics::AddProcessCollector(registry.get());
  return registry;
}

int RunServer(ServerMain main) {
  const std::string host = absl::GetFlag(FLAGS_listen_address);
  const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  if (metrics_port < 0 || metrics_port > 65535) {
    std::cerr << main.name << ": --metrics_port must be 0..65535, got " << metrics_port << "\n";
    return 1;
  }
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(&builder);
  if (main.configure) main.configure(&builder);
  for (grpc::Service* service : main.services) builder.RegisterService(service);
  absl::StatusOr<ListeningServer> listening =
      StartServer(&builder, host, main.port, std::move(main.service_names), main.metrics);
  if (!listening.ok()) {
    std::cerr << main.name << ": " << listening.status().message() << "\n";
    if (main.on_listen_failed) main.on_listen_failed();
    return 1;
  }
  // What /healthz says: starting until the work behind the port runs.
  std::atomic<int> phase{kStarting};
  std::unique_ptr<metrics::MetricsEndpoint> metrics_endpoint;
  if (metrics_port != 0 && main.metrics != nullptr) {
    absl::StatusOr<std::unique_ptr<metrics::MetricsEndpoint>> started =
        metrics::MetricsEndpoint::Start(host, metrics_port, main.metrics, [&phase] {
          switch (phase.load()) {
            case kServing:
              return absl::OkStatus();
            case kStarting:
              return absl::UnavailableError("starting");
            default:
              return absl::UnavailableError("shutting down");
          }
        });
    if (!started.ok()) {
      std::cerr << main.name << ": " << started.status().message() << "\n";
      listening->server->Shutdown(std::chrono::system_clock::now());
      return 1;
    }
    metrics_endpoint = *std::move(started);
    std::cout << main.name << " metrics on " << host << ":" << metrics_endpoint->port()
              << std::endl;
  }
  if (main.on_listening) {
    if (!main.on_listening(listening->port).ok()) {
      listening->server->Shutdown(std::chrono::system_clock::now());
      return 1;
    }
  }
  listening->SetServing(true);
  phase = kServing;
  std::cout << main.name << " listening on " << host << ":" << listening->port << std::endl;

  const int signal = WaitForShutdownSignal();
  LOG(INFO) << "signal " << signal << " received, shutting down";
  listening->SetServing(false);
  phase = kStopping;
  if (main.on_stopping) main.on_stopping();
  listening->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  // Before on_stopped releases what the collectors read.
  metrics_endpoint.reset();
  return main.on_stopped ? main.on_stopped() : 0;
}

}  // namespace mq
