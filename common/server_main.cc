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
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/grpc_options.h"
#include "common/grpc_server.h"
#include "common/metrics/endpoint.h"
#include "common/metrics/process_metrics.h"
#include "common/process.h"
#include "common/tls_flags.h"

ABSL_FLAG(std::string, listen_address, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, metrics_port, 0,
          "Port of the HTTP endpoint serving /metrics (Prometheus text format) and /healthz "
          "on --listen_address; 0 turns it off.");
ABSL_FLAG(int, metrics_max_series, 10000,
          "The most label sets (topics x queues, groups, ...) one metric takes; the rest are "
          "summed into one series labelled _other_.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM, how long in-flight calls may take before they are cancelled.");
ABSL_FLAG(std::string, tls_mode, "disabled",
          "Where TLS is served: disabled (plaintext on --port), permissive (plaintext on --port "
          "and TLS on --tls_port) or enforcing (TLS only, on --port).");
ABSL_FLAG(int, tls_port, -1,
          "With --tls_mode=permissive: the port serving TLS next to the plaintext --port; 0 picks "
          "a free one (printed at start).");
ABSL_FLAG(std::string, tls_client_auth, "none",
          "Client certificates on the TLS port: none, request (checked when sent) or require "
          "(mutual TLS: a client without a valid certificate is refused).");
ABSL_FLAG(std::string, tls_dir, "",
          "Where a self-signed certificate is made on the first run with TLS on and no "
          "--tls_cert_file (and reused later); default: tls/ in the data directory, or in the "
          "working directory for a server without one.");
ABSL_FLAG(bool, peer_tls, false,
          "Dial the servers this one depends on over TLS (a broker its store and name servers, a "
          "slave store its master), checking them against --tls_ca_file.");

namespace mq {
namespace {

enum Phase { kStarting, kServing, kStopping };

absl::StatusOr<TlsMode> ParseTlsMode(const std::string& text) {
  if (text == "disabled") return TlsMode::kDisabled;
  if (text == "permissive") return TlsMode::kPermissive;
  if (text == "enforcing") return TlsMode::kEnforcing;
  return absl::InvalidArgumentError(
      absl::StrCat("--tls_mode must be disabled, permissive or enforcing, got \"", text, "\""));
}

// Says where the certificate is and what it is, so a client can pin it.
void PrintTls(const std::string& name, const ServerTlsSettings& tls) {
  absl::StatusOr<std::string> fingerprint = CertificateFingerprint(tls.server.cert_file);
  std::cout << name << " TLS certificate: " << tls.server.cert_file;
  if (tls.self_signed) {
    std::cout << (tls.created ? " (self-signed, made now)" : " (self-signed, made earlier)");
  }
  std::cout << ", SHA-256 fingerprint "
            << (fingerprint.ok() ? *fingerprint : std::string(fingerprint.status().message()))
            << std::endl;
}

}  // namespace

ClientTls ServerTlsSettings::SelfDial() const {
  ClientTls dial;
  dial.enabled = mode == TlsMode::kEnforcing;
  dial.ca_file = !server.ca_file.empty() ? server.ca_file : server.cert_file;
  dial.cert_file = server.cert_file;
  dial.key_file = server.key_file;
  dial.reload_interval = server.reload_interval;
  return dial;
}

absl::StatusOr<ServerTlsSettings> ResolveServerTls(const std::string& default_tls_dir) {
  ServerTlsSettings tls;
  absl::StatusOr<TlsMode> mode = ParseTlsMode(absl::GetFlag(FLAGS_tls_mode));
  if (!mode.ok()) return mode.status();
  tls.mode = *mode;
  const int tls_port = absl::GetFlag(FLAGS_tls_port);
  if (tls.mode == TlsMode::kPermissive) {
    if (tls_port < 0 || tls_port > 65535) {
      return absl::InvalidArgumentError(
          "--tls_mode=permissive needs --tls_port, 0..65535 (0 picks a free port)");
    }
    tls.tls_port = tls_port;
  } else if (tls_port != -1) {
    return absl::InvalidArgumentError(
        "--tls_port is for --tls_mode=permissive (enforcing serves TLS on --port)");
  }
  absl::StatusOr<ClientAuth> client_auth = ParseClientAuth(absl::GetFlag(FLAGS_tls_client_auth));
  if (!client_auth.ok()) return client_auth.status();
  const absl::Duration reload = absl::GetFlag(FLAGS_tls_reload_interval);
  if (reload < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls_reload_interval must be at least 1s");
  }
  tls.server.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  tls.server.key_file = absl::GetFlag(FLAGS_tls_key_file);
  tls.server.ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  tls.server.client_auth = *client_auth;
  tls.server.reload_interval = reload;
  if (tls.mode == TlsMode::kDisabled) return tls;
  if (tls.server.cert_file.empty() && tls.server.key_file.empty()) {
    std::string dir = absl::GetFlag(FLAGS_tls_dir);
    if (dir.empty()) dir = default_tls_dir;
    absl::StatusOr<SelfSignedCertificate> self = EnsureSelfSignedCertificate(dir);
    if (!self.ok()) return self.status();
    tls.server.cert_file = self->cert_file;
    tls.server.key_file = self->key_file;
    tls.self_signed = true;
    tls.created = self->created;
  }
  if (absl::Status valid = tls.server.Validate(); !valid.ok()) return valid;
  return tls;
}

absl::StatusOr<ClientTls> PeerTlsFromFlags() {
  ClientTls tls;
  tls.enabled = absl::GetFlag(FLAGS_peer_tls);
  tls.ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  tls.reload_interval = absl::GetFlag(FLAGS_tls_reload_interval);
  if (absl::Status valid = tls.Validate(); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--peer_tls: ", valid.message()));
  }
  return tls;
}

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
  if (!main.tls.has_value()) {
    absl::StatusOr<ServerTlsSettings> tls = ResolveServerTls(main.default_tls_dir);
    if (!tls.ok()) {
      std::cerr << main.name << ": " << tls.status().message() << "\n";
      if (main.on_listen_failed) main.on_listen_failed();
      return 1;
    }
    main.tls = *std::move(tls);
  }
  std::vector<ListenPort> ports = {{main.port, nullptr}};
  if (main.tls->mode != TlsMode::kDisabled) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        ServerCredentials(main.tls->server);
    if (!credentials.ok()) {
      std::cerr << main.name << ": " << credentials.status().message() << "\n";
      if (main.on_listen_failed) main.on_listen_failed();
      return 1;
    }
    if (main.tls->mode == TlsMode::kEnforcing) {
      ports.front().credentials = *credentials;
    } else {
      ports.push_back({main.tls->tls_port, *credentials});
    }
    PrintTls(main.name, *main.tls);
  }
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(&builder);
  if (main.configure) main.configure(&builder);
  for (grpc::Service* service : main.services) builder.RegisterService(service);
  absl::StatusOr<ListeningServer> listening =
      StartServer(&builder, host, ports, std::move(main.service_names), main.metrics);
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
  if (main.tls->mode == TlsMode::kPermissive) {
    std::cout << main.name << " TLS port " << host << ":" << listening->ports[1] << std::endl;
  }
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
