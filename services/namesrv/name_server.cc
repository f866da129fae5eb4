#include "services/namesrv/name_server.h"

#include "absl/strings/str_cat.h"

namespace mq::namesrv {

NameServer::NameServer(const NameServerOptions& options)
    : routes_(options.routes), service_(&routes_) {
  scanner_.Schedule("broker-liveness-scan", options.scan_interval, options.scan_interval,
                    [this] { routes_.ScanNotActiveBrokers(); });
}

void NameServer::Start() { scanner_.Start(); }

void NameServer::Stop() { scanner_.Stop(); }

void NameServer::AddMetrics(metrics::Registry* registry) {
  registry->AddCollector([this](metrics::Collection* out) {
    const v1::GetClusterInfoResponse info = routes_.GetClusterInfo();
    for (const auto& [name, brokers] : info.broker_addr_table()) {
      for (const auto& [id, address] : brokers.broker_addrs()) {
        out->Gauge("rocketmq_namesrv_broker_up",
                   "1 for each broker registered and not expired, by cluster, group and id.",
                   {"cluster", "broker_name", "broker_id"},
                   {brokers.cluster(), name, absl::StrCat(id)}, 1);
      }
    }
    out->Gauge("rocketmq_namesrv_topics", "Topics with routes on this name server.", {}, {},
               static_cast<double>(routes_.GetAllTopics().size()));
  });
}

}  // namespace mq::namesrv
