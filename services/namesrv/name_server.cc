#include "services/namesrv/name_server.h"

namespace mq::namesrv {

NameServer::NameServer(const NameServerOptions& options)
    : routes_(options.routes), service_(&routes_) {
  scanner_.Schedule("broker-liveness-scan", options.scan_interval, options.scan_interval,
                    [this] { routes_.ScanNotActiveBrokers(); });
}

void NameServer::Start() { scanner_.Start(); }

void NameServer::Stop() { scanner_.Stop(); }

}  // namespace mq::namesrv
