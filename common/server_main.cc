#include "common/server_main.h"

#include <glog/logging.h>
#include <grpcpp/server.h>

#include <chrono>
#include <iostream>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/grpc_options.h"
#include "common/grpc_server.h"
#include "common/process.h"

ABSL_FLAG(std::string, listen_address, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM, how long in-flight calls may take before they are cancelled.");

namespace mq {

int RunServer(ServerMain main) {
  const std::string host = absl::GetFlag(FLAGS_listen_address);
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(&builder);
  if (main.configure) main.configure(&builder);
  for (grpc::Service* service : main.services) builder.RegisterService(service);
  absl::StatusOr<ListeningServer> listening =
      StartServer(&builder, host, main.port, std::move(main.service_names));
  if (!listening.ok()) {
    std::cerr << main.name << ": " << listening.status().message() << "\n";
    if (main.on_listen_failed) main.on_listen_failed();
    return 1;
  }
  if (main.on_listening) {
    if (!main.on_listening(listening->port).ok()) {
      listening->server->Shutdown(std::chrono::system_clock::now());
      return 1;
    }
  }
  listening->SetServing(true);
  std::cout << main.name << " listening on " << host << ":" << listening->port << std::endl;

  const int signal = WaitForShutdownSignal();
  LOG(INFO) << "signal " << signal << " received, shutting down";
  listening->SetServing(false);
  if (main.on_stopping) main.on_stopping();
  listening->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  return main.on_stopped ? main.on_stopped() : 0;
}

}  // namespace mq
