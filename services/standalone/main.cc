// The standalone server: a name server, a broker and its store in one process
// on one port, the store called in-process. The default first run:
//   standalone --data_dir=./data --port=9876
// Producers and consumers use 127.0.0.1:9876 as the name server address; the
// broker registers with the embedded name server (and any --namesrv_addr).
#include <glog/logging.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/acl/acl_flags.h"
#include "common/process.h"
#include "common/server_main.h"
#include "proto/acl.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "proto/namesrv.grpc.pb.h"
#include "proto/store.grpc.pb.h"
#include "services/broker/broker.h"
#include "services/broker/broker_flags.h"
#include "services/namesrv/name_server.h"
#include "services/namesrv/name_server_flags.h"
#include "services/proxy/local_mode.h"
#include "services/proxy/messaging_service.h"
#include "services/store/grpc_store.h"
#include "services/store/message_store.h"
#include "services/store/store_flags.h"

ABSL_FLAG(int, port, 9876,
          "gRPC port of all three services; 0 picks a free port (printed at start).");

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

  absl::StatusOr<mq::acl::ServerAcl> acl = mq::acl::ServerAclFromFlags(/*generate_secret=*/true);
  if (!acl.ok()) {
    std::cerr << "standalone: " << acl.status().message() << "\n";
    return 2;
  }
  broker_options->authorizer = acl->authorizer.get();
  broker_options->cluster_credentials = acl->cluster;

  absl::StatusOr<mq::ClientTls> peer_tls = mq::PeerTlsFromFlags();
  if (!peer_tls.ok()) {
    std::cerr << "standalone: " << peer_tls.status().message() << "\n";
    return 2;
  }
  std::error_code ignored;
  std::string data_dir = std::filesystem::absolute(store_options->root_dir, ignored).string();
  store_options->root_dir = data_dir;
  store_options->replication.master_tls = *peer_tls;
  store_options->replication.credentials = acl->cluster;
  absl::StatusOr<mq::ServerTlsSettings> tls = mq::ResolveServerTls(data_dir + "/tls");
  if (!tls.ok()) {
    std::cerr << "standalone: " << tls.status().message() << "\n";
    return 2;
  }
  // The broker registers with the embedded name server through this port: a
  // TLS-only port is dialed over TLS, whatever --peer_tls says of the others.
  broker_options->namesrv_tls = tls->mode == mq::TlsMode::kEnforcing ? tls->SelfDial() : *peer_tls;
  std::unique_ptr<mq::metrics::Registry> metrics = mq::NewServerMetrics();
  store_options->metrics = metrics.get();
  broker_options->metrics = metrics.get();
  absl::StatusOr<std::unique_ptr<mq::store::MessageStore>> store =
      mq::store::MessageStore::Open(*store_options);
  if (!store.ok()) {
    LOG(ERROR) << "cannot open the store in " << data_dir << ": " << store.status();
    return 1;
  }
  mq::store::StoreService store_service(store->get(), (*store)->ha_master());
  store_service.set_authorizer(acl->authorizer.get());
  mq::namesrv::NameServer name_server(*namesrv_options);
  name_server.service()->set_authorizer(acl->authorizer.get());
  name_server.AddMetrics(metrics.get());
  auto broker = std::make_unique<mq::broker::Broker>(store->get(), *broker_options);

  // RocketMQ 5's protocol on the same port (local mode), its requests checked
  // by the broker's access control; its name servers are the broker's, set
  // once the port is known.
  mq::proxy::MessagingServiceOptions messaging_options =
      mq::proxy::LocalModeOptions({}, broker_options->max_message_size, broker_options->namesrv_tls,
                                  acl->authorizer.get(), acl->cluster);
  messaging_options.metrics = metrics.get();
  auto messaging = std::make_unique<mq::proxy::MessagingService>(std::move(messaging_options));

  mq::ServerMain main;
  main.name = "standalone";
  main.port = absl::GetFlag(FLAGS_port);
  main.tls = *tls;
  main.services = {name_server.service(), broker->service(), &store_service, broker->acl_service(),
                   messaging.get()};
  main.service_names = {
      mq::namesrv::v1::NameServer::service_full_name(), mq::broker::v1::Broker::service_full_name(),
      mq::store::v1::Store::service_full_name(), mq::acl::v1::AclAdmin::service_full_name(),
      apache::rocketmq::v2::MessagingService::service_full_name()};
  main.configure = mq::proxy::ConfigureV5Server;
  main.metrics = metrics.get();
  main.on_listen_failed = [&] {
    broker.reset();
    absl::Status closed = (*store)->Shutdown();
    if (!closed.ok()) LOG(ERROR) << "store did not close cleanly: " << closed;
  };
  main.on_listening = [&](int port) {
    std::string self = absl::StrCat("127.0.0.1:", port);
    if (broker_options->advertised_address.empty()) broker->SetAdvertisedAddress(self);
    // The embedded name server, plus any others the broker was told about.
    std::vector<std::string> name_servers = broker_options->namesrv_addrs;
    name_servers.insert(name_servers.begin(), self);
    broker->SetNameServerAddresses(name_servers);
    messaging->SetNameServerAddresses(name_servers);
    name_server.Start();
    absl::Status started = broker->Start();
    if (!started.ok()) {
      LOG(ERROR) << "broker cannot start: " << started;
      return started;
    }
    std::cout << "data directory: " << data_dir << "\n"
              << "name server address for clients: " << self << "\n";
    return absl::OkStatus();
  };
  main.on_stopping = [&] {
    messaging->Shutdown();
    broker->Stop();
    (*store)->StopReplication();
  };
  main.on_stopped = [&] {
    messaging.reset();
    name_server.Stop();
    broker.reset();
    absl::Status closed = (*store)->Shutdown();
    if (!closed.ok()) {
      LOG(ERROR) << "store did not close cleanly: " << closed;
      return 1;
    }
    LOG(INFO) << "standalone stopped";
    return 0;
  };
  return mq::RunServer(std::move(main));
}
