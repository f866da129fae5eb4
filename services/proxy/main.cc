// The RocketMQ 5 proxy in cluster mode: a stateless process serving
// apache.rocketmq.v2.MessagingService that finds brokers through the name
// servers and forwards over our broker API.
//   proxy --namesrv_addr=HOST:PORT[;HOST:PORT] [--port=8081]
// RocketMQ 5 clients use HOST:8081 as their endpoint.
#include <glog/logging.h>

#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "common/acl/acl_flags.h"
#include "common/format/record_format.h"
#include "common/process.h"
#include "common/scheduler.h"
#include "common/server_main.h"
#include "common/validation.h"
#include "services/proxy/cluster_users.h"
#include "services/proxy/local_mode.h"
#include "services/proxy/messaging_service.h"

ABSL_FLAG(int, port, 8081, "gRPC port; 0 picks a free port (printed at start).");
ABSL_FLAG(std::string, namesrv_addr, "", "Name servers, 'host:port;host:port' (required).");
ABSL_FLAG(int64_t, max_body_size, mq::format::kDefaultMaxMessageBodyBytes,
          "Largest message body producers may send (the brokers' --max_message_size).");
ABSL_FLAG(int, threads, 8, "Threads for calls waiting on name servers and brokers.");

// How often the proxy re-reads the brokers' users (as brokers re-read the
// store's: BrokerOptions::acl_reload_interval).
constexpr absl::Duration kAclReloadInterval = absl::Seconds(1);

int main(int argc, char** argv) {
  mq::InitServerProcess(argc, argv,
                        "RocketMQ 5 proxy: serves apache.rocketmq.v2.MessagingService to the "
                        "official RocketMQ 5 clients in front of the brokers.\n"
                        "Usage: proxy --namesrv_addr=HOST:PORT[;HOST:PORT] [--port=8081]");
  std::vector<std::string> name_servers =
      absl::StrSplit(absl::GetFlag(FLAGS_namesrv_addr), ';', absl::SkipWhitespace());
  if (name_servers.empty()) {
    std::cerr << "proxy: --namesrv_addr is required\n";
    return 2;
  }
  for (const std::string& address : name_servers) {
    if (absl::Status valid = mq::ValidateAddress("--namesrv_addr", address); !valid.ok()) {
      std::cerr << "proxy: " << valid.message() << "\n";
      return 2;
    }
  }
  int64_t max_body_size = absl::GetFlag(FLAGS_max_body_size);
  if (max_body_size <= 0 || max_body_size > (1LL << 30)) {
    std::cerr << "proxy: --max_body_size must be 1 .. 1 GiB\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_threads) < 1) {
    std::cerr << "proxy: --threads must be at least 1\n";
    return 2;
  }
  absl::StatusOr<mq::ClientTls> peer_tls = mq::PeerTlsFromFlags();
  if (!peer_tls.ok()) {
    std::cerr << "proxy: " << peer_tls.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<mq::acl::ServerAcl> acl = mq::acl::ServerAclFromFlags(/*generate_secret=*/false);
  if (!acl.ok()) {
    std::cerr << "proxy: " << acl.status().message() << "\n";
    return 2;
  }
  std::unique_ptr<mq::metrics::Registry> metrics = mq::NewServerMetrics();
  // With access control the proxy checks its clients itself, against the
  // brokers' users (followed every second, as brokers follow the store's),
  // and calls the brokers as the cluster identity.
  // Without it the proxy calls unsigned, so a cluster that checks access
  // refuses its calls: a cluster secret alone never lets clients through
  // unchecked.
  mq::acl::Authorizer* authorizer = acl->authorizer->enabled() ? acl->authorizer.get() : nullptr;
  mq::proxy::MessagingServiceOptions options =
      mq::proxy::LocalModeOptions(std::move(name_servers), max_body_size, *peer_tls, authorizer,
                                  authorizer != nullptr ? acl->cluster : mq::acl::Credentials{});
  options.threads = absl::GetFlag(FLAGS_threads);
  options.metrics = metrics.get();
  std::unique_ptr<mq::proxy::Backend> users_backend;
  std::unique_ptr<mq::proxy::ClusterUsers> users;
  std::unique_ptr<mq::Scheduler> users_reload;
  if (authorizer != nullptr) {
    users_backend = std::make_unique<mq::proxy::Backend>(options.backend);
    users = std::make_unique<mq::proxy::ClusterUsers>(users_backend.get(), authorizer);
    users_reload = mq::StartDedicatedScheduler(
        "acl-reload", absl::ZeroDuration(), kAclReloadInterval, [&users] {
          absl::Status loaded = users->Refresh();
          if (!loaded.ok()) {
            LOG_EVERY_N(WARNING, 30) << "cannot read the ACL users from the brokers: " << loaded;
          }
        });
  }
  auto service = std::make_unique<mq::proxy::MessagingService>(options);

  mq::ServerMain main;
  main.name = "proxy";
  main.port = absl::GetFlag(FLAGS_port);
  main.services = {service.get()};
  main.service_names = {apache::rocketmq::v2::MessagingService::service_full_name()};
  main.metrics = metrics.get();
  main.configure = mq::proxy::ConfigureV5Server;
  main.on_stopping = [&] { service->Shutdown(); };
  main.on_stopped = [&] {
    users_reload.reset();
    service.reset();
    LOG(INFO) << "proxy stopped";
    return 0;
  };
  return mq::RunServer(std::move(main));
}
