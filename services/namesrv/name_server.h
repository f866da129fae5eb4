// A name server: the route tables, the scan that drops silent brokers, and the
// gRPC service over them. The namesrv binary and the standalone server host it.
#ifndef MQ_SERVICES_NAMESRV_NAME_SERVER_H_
#define MQ_SERVICES_NAMESRV_NAME_SERVER_H_

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

 private:
  RouteInfoManager routes_;
  NameServerService service_;
  Scheduler scanner_;
};

}  // namespace mq::namesrv

#endif  // MQ_SERVICES_NAMESRV_NAME_SERVER_H_
