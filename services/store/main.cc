// The store process: `store --data_dir=/var/lib/mq/store --port=10912`.
#include <glog/logging.h>
#include <grpcpp/server_builder.h>

#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "common/acl/acl_flags.h"
#include "common/process.h"
#include "common/server_main.h"
#include "proto/store.grpc.pb.h"
#include "services/store/grpc_store.h"
#include "services/store/message_store.h"
#include "services/store/store_flags.h"

ABSL_FLAG(int, port, 10912, "gRPC port; 0 picks a free port (printed at start).");

// Idle server threads kept for the next calls (see SetSyncServerOption below):
// about the calls a broker keeps in flight (its pull threads, an append).
constexpr int kMaxIdleThreads = 32;

int main(int argc, char** argv) {
  mq::InitServerProcess(
      argc, argv,
      "Store of the message queue: owns one data directory (commit log, "
      "consume queues, index, metadata) and serves its broker.\n"
      "Usage: store --data_dir=DIR [--port=10912] [--flush_disk_type=SYNC_FLUSH]\n"
      "       [--broker_name=NAME] [--role=SYNC_MASTER | --role=SLAVE --broker_id=1 "
      "--master_address=HOST:PORT]");
  absl::StatusOr<mq::store::MessageStoreOptions> options =
      mq::store::MessageStoreOptionsFromFlags();
  if (!options.ok()) {
    std::cerr << "store: " << options.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<mq::acl::ServerAcl> acl = mq::acl::ServerAclFromFlags(/*generate_secret=*/false);
  if (!acl.ok()) {
    std::cerr << "store: " << acl.status().message() << "\n";
    return 2;
  }
  options->replication.credentials = acl->cluster;
  absl::StatusOr<mq::ClientTls> peer_tls = mq::PeerTlsFromFlags();
  if (!peer_tls.ok()) {
    std::cerr << "store: " << peer_tls.status().message() << "\n";
    return 2;
  }
  options->replication.master_tls = *peer_tls;
  std::unique_ptr<mq::metrics::Registry> metrics = mq::NewServerMetrics();
  options->metrics = metrics.get();
  absl::StatusOr<std::unique_ptr<mq::store::MessageStore>> store =
      mq::store::MessageStore::Open(*options);
  if (!store.ok()) {
    LOG(ERROR) << "cannot open the store in " << options->root_dir << ": " << store.status();
    return 1;
  }
  mq::store::StoreService service(store->get(), (*store)->ha_master());
  service.set_authorizer(acl->authorizer.get());

  mq::ServerMain main;
  main.name = "store";
  main.port = absl::GetFlag(FLAGS_port);
  main.default_tls_dir = options->root_dir + "/tls";
  main.services = {&service};
  main.service_names = {mq::store::v1::Store::service_full_name()};
  main.metrics = metrics.get();
  // Reads and appends block (disk, group commit), so the store serves them on
  // gRPC's synchronous server, whose threads by default stop once more than
  // two wait for work: under a broker's concurrent calls that created and
  // joined a thread for most calls. Keep up to kMaxIdleThreads waiting.
  main.configure = [](grpc::ServerBuilder* builder) {
    builder->SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                                 kMaxIdleThreads);
  };
  main.on_listen_failed = [&] {
    absl::Status closed = (*store)->Shutdown();
    if (!closed.ok()) LOG(ERROR) << "store did not close cleanly: " << closed;
  };
  main.on_listening = [&](int port) {
    LOG(INFO) << "store ready on port " << port << ", data in " << options->root_dir;
    return absl::OkStatus();
  };
  // Open replication streams would otherwise hold the server's shutdown for
  // the whole grace period.
  main.on_stopping = [&] { (*store)->StopReplication(); };
  main.on_stopped = [&] {
    absl::Status closed = (*store)->Shutdown();
    if (!closed.ok()) {
      LOG(ERROR) << "store did not close cleanly: " << closed;
      return 1;
    }
    LOG(INFO) << "store stopped";
    return 0;
  };
  return mq::RunServer(std::move(main));
}
