// The name server process: `namesrv --port=9876`.
#include <glog/logging.h>

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/acl/acl_flags.h"
#include "common/process.h"
#include "common/server_main.h"
#include "proto/namesrv.grpc.pb.h"
#include "services/namesrv/name_server.h"
#include "services/namesrv/name_server_flags.h"

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
  absl::StatusOr<mq::acl::ServerAcl> acl = mq::acl::ServerAclFromFlags(/*generate_secret=*/false);
  if (!acl.ok()) {
    std::cerr << "namesrv: " << acl.status().message() << "\n";
    return 2;
  }
  mq::namesrv::NameServer name_server(*options);
  name_server.service()->set_authorizer(acl->authorizer.get());
  std::unique_ptr<mq::metrics::Registry> metrics = mq::NewServerMetrics();
  name_server.AddMetrics(metrics.get());

  mq::ServerMain main;
  main.name = "namesrv";
  main.port = absl::GetFlag(FLAGS_port);
  main.services = {name_server.service()};
  main.service_names = {mq::namesrv::v1::NameServer::service_full_name()};
  main.metrics = metrics.get();
  main.on_listening = [&](int port) {
    name_server.Start();
    LOG(INFO) << "namesrv ready on port " << port << ", broker expiry "
              << absl::FormatDuration(options->routes.broker_expiry);
    return absl::OkStatus();
  };
  main.on_stopped = [&] {
    name_server.Stop();
    LOG(INFO) << "namesrv stopped";
    return 0;
  };
  return mq::RunServer(std::move(main));
}
