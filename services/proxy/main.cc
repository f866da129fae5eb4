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
#include "common/format/record_format.h"
#include "common/process.h"
#include "common/server_main.h"
#include "common/validation.h"
#include "services/proxy/local_mode.h"
#include "services/proxy/messaging_service.h"

ABSL_FLAG(int, port, 8081, "gRPC port; 0 picks a free port (printed at start).");
ABSL_FLAG(std::string, namesrv_addr, "", "Name servers, 'host:port;host:port' (required).");
ABSL_FLAG(int64_t, max_body_size, mq::format::kDefaultMaxMessageBodyBytes,
          "Largest message body producers may send (the brokers' --max_message_size).");
ABSL_FLAG(int, threads, 8, "Threads for calls waiting on name servers and brokers.");

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
  mq::proxy::MessagingServiceOptions options =
      mq::proxy::LocalModeOptions(std::move(name_servers), max_body_size, *peer_tls);
  options.threads = absl::GetFlag(FLAGS_threads);
  std::unique_ptr<mq::metrics::Registry> metrics = mq::NewServerMetrics();
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
    service.reset();
    LOG(INFO) << "proxy stopped";
    return 0;
  };
  return mq::RunServer(std::move(main));
}
