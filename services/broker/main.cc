// The broker process: `broker --store_address=HOST:PORT --namesrv_addr=HOST:PORT
// --broker_name=broker-a`. Its store runs as a separate process (the store
// binary); the standalone server hosts a broker with an in-process store.
#include <glog/logging.h>

#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/acl/acl_flags.h"
#include "common/grpc_options.h"
#include "common/process.h"
#include "common/server_main.h"
#include "proto/acl.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "services/broker/broker.h"
#include "services/broker/broker_flags.h"
#include "services/broker/remote_store.h"
#include "services/proxy/local_mode.h"
#include "services/proxy/messaging_service.h"

ABSL_FLAG(int, port, mq::broker::kDefaultBrokerPort,
          "gRPC port; 0 picks a free port (printed at start).");
ABSL_FLAG(std::string, store_address, "", "host:port of this broker's store process (required).");
ABSL_FLAG(std::string, ha_address, "",
          "host:port where slaves reach the store for replication (default: --store_address).");
ABSL_FLAG(absl::Duration, store_connect_timeout, absl::Seconds(30),
          "How long to wait for the store at start.");
int main(int argc, char** argv) {
  mq::InitServerProcess(
      argc, argv,
      "Broker of the message queue: producers send and consumers pull here; it stores "
      "through its store process and registers with the name servers.\n"
      "Usage: broker --store_address=HOST:PORT --namesrv_addr=HOST:PORT[;...] "
      "[--broker_name=NAME] [--port=10911]");

  std::string store_address = absl::GetFlag(FLAGS_store_address);
  if (store_address.empty()) {
    std::cerr << "--store_address is required\n";
    return 2;
  }
  absl::StatusOr<mq::broker::BrokerOptions> parsed = mq::broker::BrokerOptionsFromFlags();
  if (!parsed.ok()) {
    std::cerr << "broker: " << parsed.status().message() << "\n";
    return 2;
  }
  mq::broker::BrokerOptions options = *std::move(parsed);
  options.ha_server_addr = absl::GetFlag(FLAGS_ha_address);
  if (options.ha_server_addr.empty()) options.ha_server_addr = store_address;

  absl::StatusOr<mq::acl::ServerAcl> acl = mq::acl::ServerAclFromFlags(/*generate_secret=*/false);
  if (!acl.ok()) {
    std::cerr << "broker: " << acl.status().message() << "\n";
    return 2;
  }
  options.authorizer = acl->authorizer.get();
  options.cluster_credentials = acl->cluster;
  absl::StatusOr<mq::ClientTls> peer_tls = mq::PeerTlsFromFlags();
  if (!peer_tls.ok()) {
    std::cerr << "broker: " << peer_tls.status().message() << "\n";
    return 2;
  }
  options.namesrv_tls = *peer_tls;

  std::unique_ptr<mq::metrics::Registry> metrics = mq::NewServerMetrics();
  options.metrics = metrics.get();
  auto store = std::make_unique<mq::broker::RemoteStore>(
      mq::CreateChannel(store_address, *peer_tls, acl->cluster), mq::broker::RemoteStoreOptions{});
  absl::Status connected = store->WaitForConnected(absl::GetFlag(FLAGS_store_connect_timeout));
  if (!connected.ok()) {
    LOG(ERROR) << "store " << store_address << ": " << connected
               << (peer_tls->enabled ? "" : " (a store serving TLS only needs --peer_tls here)");
    return 1;
  }
  auto broker = std::make_unique<mq::broker::Broker>(store.get(), options);

  // RocketMQ 5's protocol on the broker's port (local mode), its requests
  // checked by the broker's access control.
  mq::proxy::MessagingServiceOptions messaging_options =
      mq::proxy::LocalModeOptions(options.namesrv_addrs, options.max_message_size,
                                  options.namesrv_tls, acl->authorizer.get(), acl->cluster);
  messaging_options.metrics = metrics.get();
  auto messaging = std::make_unique<mq::proxy::MessagingService>(std::move(messaging_options));

  mq::ServerMain main;
  main.name = "broker";
  main.port = absl::GetFlag(FLAGS_port);
  main.services = {broker->service(), broker->acl_service(), messaging.get()};
  main.service_names = {mq::broker::v1::Broker::service_full_name(),
                        mq::acl::v1::AclAdmin::service_full_name(),
                        apache::rocketmq::v2::MessagingService::service_full_name()};
  main.configure = mq::proxy::ConfigureV5Server;
  main.metrics = metrics.get();
  main.on_listening = [&](int port) {
    if (options.advertised_address.empty()) {
      broker->SetAdvertisedAddress(absl::StrCat("127.0.0.1:", port));
    }
    absl::Status started = broker->Start();
    if (!started.ok()) LOG(ERROR) << "broker cannot start: " << started;
    return started;
  };
  main.on_stopping = [&] {
    messaging->Shutdown();
    broker->Stop();
  };
  main.on_stopped = [&] {
    messaging.reset();
    broker.reset();
    store.reset();
    LOG(INFO) << "broker stopped";
    return 0;
  };
  return mq::RunServer(std::move(main));
}
