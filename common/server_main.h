// The life of a server process after its flags are parsed, written once:
// listen (--listen_address, and the binary's own --port), serve the metrics
// on --metrics_port when it is not 0 (saying "<name> metrics on HOST:PORT"),
// say "<name> listening on HOST:PORT", serve until SIGINT or SIGTERM, then stop
// taking work and shut down within --shutdown_grace. The mains only wire their
// services into it.
#ifndef MQ_COMMON_SERVER_MAIN_H_
#define MQ_COMMON_SERVER_MAIN_H_

#include <grpcpp/server_builder.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/metrics/registry.h"

namespace mq {

struct ServerMain {
  // The program's name: "<name>: <error>" and "<name> listening on ...".
  std::string name;
  // The port to listen on (the binary's --port flag; 0 picks a free one).
  int port = 0;
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
