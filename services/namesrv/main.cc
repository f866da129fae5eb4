// The name server process: `namesrv --port=9876`.
#include <glog/logging.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/grpc_options.h"
#include "common/grpc_server.h"
#include "common/process.h"
#include "proto/namesrv.grpc.pb.h"
#include "services/namesrv/name_server.h"
#include "services/namesrv/name_server_flags.h"

ABSL_FLAG(std::string, listen_address, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, port, 9876, "gRPC port; 0 picks a free port (printed at start).");

int main(int argc, char** argv) {
  mq::InitServerProcess(
      argc, argv,
      "Name server of the message queue: brokers register here, clients ask "
      "it for topic routes.\nUsage: namesrv [--port=9876] [--broker_expiry=120s]");
  absl::StatusOr<mq::namesrv::NameServerOptions> options =
      mq::namesrv::NameServerOptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "namesrv: " << options.status().message() << "\n";
    return 2;
  }
  mq::namesrv::NameServer name_server(*options);

  grpc::ServerBuilder builder;
  mq::ConfigureServerBuilder(&builder);
  builder.RegisterService(name_server.service());
  absl::StatusOr<mq::ListeningServer> listening =
      mq::StartServer(&builder, absl::GetFlag(FLAGS_listen_address), absl::GetFlag(FLAGS_port),
                      {mq::namesrv::v1::NameServer::service_full_name()});
  if (!listening.ok()) {
    std::cerr << "namesrv: " << listening.status().message() << "\n";
    return 1;
  }
  grpc::Server* server = listening->server.get();
  const int selected_port = listening->port;
  name_server.Start();
  listening->SetServing(true);
  std::cout << "namesrv listening on " << absl::GetFlag(FLAGS_listen_address) << ":"
            << selected_port << std::endl;
  LOG(INFO) << "namesrv ready on port " << selected_port << ", broker expiry "
            << absl::FormatDuration(options->routes.broker_expiry);

  int signal = mq::WaitForShutdownSignal();
  LOG(INFO) << "signal " << signal << " received, shutting down";
  listening->SetServing(false);
  listening->Shutdown(absl::Seconds(5));
  name_server.Stop();
  LOG(INFO) << "namesrv stopped";
  return 0;
}
