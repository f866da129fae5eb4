// A name server: the route tables, the scan that drops silent brokers, and the
// gRPC service over them. The namesrv binary and the standalone server host it.
#ifndef MQ_SERVICES_NAMESRV_NAME_SERVER_H_
#define MQ_SERVICES_NAMESRV_NAME_SERVER_H_

#include "common/metrics/registry.h"
#include "common/scheduler.h"
#include "services/namesrv/grpc_name_server.h"
#include "services/namesrv/route_info_manager.h"

namespace mq::namesrv {

struct NameServerOptions {
  RouteInfoOptions routes;
  // How often silent brokers are looked for (RocketMQ: 10 s).
  absl::Duration scan_interval = absl::Seconds(10);
};

// Start() begins the liveness scan; Stop() (or the destructor) ends it. The
// service may be registered with a gRPC server before Start().
class NameServer {
 public:
  explicit NameServer(const NameServerOptions& options);

  void Start();
  void Stop();

  NameServerService* service() { return &service_; }
  RouteInfoManager* routes() { return &routes_; }

  // Adds the name server's gauges to `registry`, read at each scrape:
  // rocketmq_namesrv_broker_up{cluster,broker_name,broker_id} (1 for each
  // live broker) and rocketmq_namesrv_topics. The name server must outlive
  // the scrapes.
  void AddMetrics(metrics::Registry* registry);

 private:
  RouteInfoManager routes_;
  NameServerService service_;
  Scheduler scanner_;
};

}  // namespace mq::namesrv

#endif  // MQ_SERVICES_NAMESRV_NAME_SERVER_H_
