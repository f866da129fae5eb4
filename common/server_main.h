// The life of a server process after its flags are parsed, written once:
// listen (--listen_address, and the binary's own --port; TLS as the --tls_*
// flags say, see ResolveServerTls), serve the metrics
// on --metrics_port when it is not 0 (saying "<name> metrics on HOST:PORT"),
// say "<name> listening on HOST:PORT", serve until SIGINT or SIGTERM, then stop
// taking work and shut down within --shutdown_grace. The mains only wire their
// services into it.
#ifndef MQ_COMMON_SERVER_MAIN_H_
#define MQ_COMMON_SERVER_MAIN_H_

#include <grpcpp/server_builder.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/metrics/registry.h"
#include "common/tls.h"

namespace mq {

// Where a server serves TLS (--tls_mode), after RocketMQ 5's tls.server.mode:
// kDisabled: plaintext on --port (the default); kPermissive: plaintext on
// --port and TLS on --tls_port, every service on both (gRPC C++ cannot mix
// the two on one port); kEnforcing: TLS only, on --port.
enum class TlsMode { kDisabled, kPermissive, kEnforcing };

struct ServerTlsSettings {
  TlsMode mode = TlsMode::kDisabled;
  // kPermissive: the TLS port (0 picks a free one).
  int tls_port = 0;
  // The certificate served (the flags', or a self-signed one) and how
  // clients are checked. Unused when kDisabled.
  ServerTls server;
  // The certificate is one this server made for itself (ServerTls files in
  // --tls_dir), `created` on this run.
  bool self_signed = false;
  bool created = false;

  // How this process dials its own TLS port (the standalone's broker
  // registering with its embedded name server): its CA is --tls_ca_file, or
  // its own certificate when self-signed; it presents its own certificate.
  ClientTls SelfDial() const;
};

// The TLS flags of a server: --tls_mode, --tls_port, --tls_cert_file,
// --tls_key_file, --tls_ca_file, --tls_client_auth, --tls_dir (default
// `default_tls_dir`: where a self-signed certificate is made when TLS is on
// and no certificate is given) and --tls_reload_interval. Makes the
// self-signed certificate if needed. Errors name the flag.
absl::StatusOr<ServerTlsSettings> ResolveServerTls(const std::string& default_tls_dir);

// How a server dials the servers it depends on (the broker its store and
// name servers, a slave store its master): TLS when --peer_tls, checking them
// against --tls_ca_file (else the system's roots) and presenting
// --tls_cert_file/--tls_key_file when given (mutual TLS). Validated.
absl::StatusOr<ClientTls> PeerTlsFromFlags();

struct ServerMain {
  // The program's name: "<name>: <error>" and "<name> listening on ...".
  std::string name;
  // The port to listen on (the binary's --port flag; 0 picks a free one).
  int port = 0;
  // TLS: ResolveServerTls(default_tls_dir) when not set.
  std::optional<ServerTlsSettings> tls;
  // Where a self-signed certificate goes unless --tls_dir says otherwise.
  std::string default_tls_dir = "tls";
  // The services to serve, registered in this order, and their full names.
  std::vector<grpc::Service*> services;
  std::vector<std::string> service_names;
  // The server's metrics (from NewServerMetrics()): its calls are counted
  // there, and they are served on --metrics_port
  // with /healthz beside them: 200 while serving, 503 while starting or
  // shutting down. Must outlive RunServer.
  metrics::Registry* metrics = nullptr;

  // Each optional. In the order they are called:
  // Extra builder options, after ConfigureServerBuilder().
  std::function<void(grpc::ServerBuilder*)> configure;
  // The port could not be listened on (exit code 1 follows).
  std::function<void()> on_listen_failed;
  // The server listens on `port` and is not yet marked serving: start the
  // work behind it. An error (logged by the callee) stops the server at once,
  // with exit code 1. Lines printed here come before the "listening" line.
  std::function<absl::Status(int port)> on_listening;
  // Marked not serving after a signal: stop taking new work, before the
  // calls in flight are waited for.
  std::function<void()> on_stopping;
  // The server has shut down; releases the rest and returns the exit code.
  std::function<int()> on_stopped;
};

// A registry for a server's metrics: capped at --metrics_max_series label sets
// per metric, with the process's own metrics (RSS, CPU, open files) in it.
std::unique_ptr<metrics::Registry> NewServerMetrics();

// Runs `main` as described above; returns the process's exit code: 1 when
// the server cannot listen or start, else on_stopped's (0 without one).
int RunServer(ServerMain main);

}  // namespace mq

#endif  // MQ_COMMON_SERVER_MAIN_H_
