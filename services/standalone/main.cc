// The standalone server: a name server, a broker and its store in one process
// on one port, the store called in-process. The default first run:
//   standalone --data_dir=./data --port=9876
// Producers and consumers use 127.0.0.1:9876 as the name server address; the
// broker registers with the embedded name server (and any --namesrv_addr).
#include <glog/logging.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/grpc_options.h"
#include "common/grpc_server.h"
#include "common/process.h"
#include "proto/broker.grpc.pb.h"
#include "proto/namesrv.grpc.pb.h"
#include "proto/store.grpc.pb.h"
#include "services/broker/broker.h"
#include "services/broker/broker_flags.h"
#include "services/namesrv/name_server.h"
#include "services/namesrv/name_server_flags.h"
#include "services/store/message_store.h"
#include "services/store/store_flags.h"
#include "services/store/store_service.h"

ABSL_FLAG(std::string, listen_address, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, port, 9876,
          "gRPC port of all three services; 0 picks a free port (printed at start).");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM, how long in-flight calls may take before they are cancelled.");

int main(int argc, char** argv) {
  mq::InitServerProcess(
      argc, argv,
      "Standalone message queue: name server, broker and store in one process on one port.\n"
      "Usage: standalone [--data_dir=data/store] [--port=9876] [--broker_name=broker-a]");

  absl::StatusOr<mq::store::MessageStoreOptions> store_options =
      mq::store::MessageStoreOptionsFromFlags();
  absl::StatusOr<mq::namesrv::NameServerOptions> namesrv_options =
      mq::namesrv::NameServerOptionsFromFlags();
  absl::StatusOr<mq::broker::BrokerOptions> broker_options = mq::broker::BrokerOptionsFromFlags();
  for (const absl::Status& status :
       {store_options.status(), namesrv_options.status(), broker_options.status()}) {
    if (!status.ok()) {
      std::cerr << "standalone: " << status.message() << "\n";
      return 2;
    }
  }

  std::error_code ignored;
  std::string data_dir = std::filesystem::absolute(store_options->root_dir, ignored).string();
  store_options->root_dir = data_dir;
  absl::StatusOr<std::unique_ptr<mq::store::MessageStore>> store =
      mq::store::MessageStore::Open(*store_options);
  if (!store.ok()) {
    LOG(ERROR) << "cannot open the store in " << data_dir << ": " << store.status();
    return 1;
  }
  mq::store::StoreService store_service(store->get(), (*store)->ha_master());
  mq::namesrv::NameServer name_server(*namesrv_options);
  auto broker = std::make_unique<mq::broker::Broker>(store->get(), *broker_options);

  grpc::ServerBuilder builder;
  mq::ConfigureServerBuilder(&builder);
  builder.RegisterService(name_server.service());
  builder.RegisterService(broker->service());
  builder.RegisterService(&store_service);
  absl::StatusOr<mq::ListeningServer> listening = mq::StartServer(
      &builder, absl::GetFlag(FLAGS_listen_address), absl::GetFlag(FLAGS_port),
      {mq::namesrv::v1::NameServer::service_full_name(),
       mq::broker::v1::Broker::service_full_name(), mq::store::v1::Store::service_full_name()});
  if (!listening.ok()) {
    std::cerr << "standalone: " << listening.status().message() << "\n";
    broker.reset();
    absl::Status closed = (*store)->Shutdown();
    if (!closed.ok()) LOG(ERROR) << "store did not close cleanly: " << closed;
    return 1;
  }
  grpc::Server* server = listening->server.get();
  const int port = listening->port;

  std::string self = absl::StrCat("127.0.0.1:", port);
  if (broker_options->advertised_address.empty()) broker->SetAdvertisedAddress(self);
  // The embedded name server, plus any others the broker was told about.
  std::vector<std::string> name_servers = broker_options->namesrv_addrs;
  name_servers.insert(name_servers.begin(), self);
  broker->SetNameServerAddresses(name_servers);
  name_server.Start();
  absl::Status started = broker->Start();
  if (!started.ok()) {
    LOG(ERROR) << "broker cannot start: " << started;
    server->Shutdown(std::chrono::system_clock::now());
    return 1;
  }
  listening->SetServing(true);
  std::cout << "data directory: " << data_dir << "\n"
            << "name server address for clients: " << self << "\n"
            << "standalone listening on " << absl::GetFlag(FLAGS_listen_address) << ":" << port
            << std::endl;

  int signal = mq::WaitForShutdownSignal();
  LOG(INFO) << "signal " << signal << " received, shutting down";
  listening->SetServing(false);
  broker->Stop();
  (*store)->StopReplication();
  listening->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  name_server.Stop();
  broker.reset();
  absl::Status closed = (*store)->Shutdown();
  if (!closed.ok()) {
    LOG(ERROR) << "store did not close cleanly: " << closed;
    return 1;
  }
  LOG(INFO) << "standalone stopped";
  return 0;
}
