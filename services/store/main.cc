// The store process: `store --data_dir=/var/lib/mq/store --port=10912`.
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
#include "common/grpc_options.h"
#include "common/grpc_server.h"
#include "common/process.h"
#include "proto/store.grpc.pb.h"
#include "services/store/message_store.h"
#include "services/store/store_flags.h"
#include "services/store/store_service.h"

ABSL_FLAG(std::string, listen_address, "0.0.0.0", "Address to listen on.");
ABSL_FLAG(int, port, 10912, "gRPC port; 0 picks a free port (printed at start).");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM, how long in-flight calls may take before they are cancelled.");

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
  absl::StatusOr<std::unique_ptr<mq::store::MessageStore>> store =
      mq::store::MessageStore::Open(*options);
  if (!store.ok()) {
    LOG(ERROR) << "cannot open the store in " << options->root_dir << ": " << store.status();
    return 1;
  }
  mq::store::StoreService service(store->get(), (*store)->ha_master());

  grpc::ServerBuilder builder;
  mq::ConfigureServerBuilder(&builder);
  // Reads and appends block (disk, group commit), so the store serves them on
  // gRPC's synchronous server, whose threads by default stop once more than
  // two wait for work: under a broker's concurrent calls that created and
  // joined a thread for most calls. Keep up to kMaxIdleThreads waiting.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, kMaxIdleThreads);
  builder.RegisterService(&service);
  absl::StatusOr<mq::ListeningServer> listening =
      mq::StartServer(&builder, absl::GetFlag(FLAGS_listen_address), absl::GetFlag(FLAGS_port),
                      {mq::store::v1::Store::service_full_name()});
  if (!listening.ok()) {
    std::cerr << "store: " << listening.status().message() << "\n";
    absl::Status closed = (*store)->Shutdown();
    if (!closed.ok()) LOG(ERROR) << "store did not close cleanly: " << closed;
    return 1;
  }
  grpc::Server* server = listening->server.get();
  const int selected_port = listening->port;
  listening->SetServing(true);
  std::cout << "store listening on " << absl::GetFlag(FLAGS_listen_address) << ":" << selected_port
            << std::endl;
  LOG(INFO) << "store ready on port " << selected_port << ", data in " << options->root_dir;

  int signal = mq::WaitForShutdownSignal();
  LOG(INFO) << "signal " << signal << " received, shutting down";
  listening->SetServing(false);
  // Open replication streams would otherwise hold the server's shutdown for
  // the whole grace period.
  (*store)->StopReplication();
  listening->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  absl::Status closed = (*store)->Shutdown();
  if (!closed.ok()) {
    LOG(ERROR) << "store did not close cleanly: " << closed;
    return 1;
  }
  LOG(INFO) << "store stopped";
  return 0;
}
