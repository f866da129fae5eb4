// Serving RocketMQ 5's protocol from a process that already hosts a broker
// (the standalone server, every broker): local mode. The same
// MessagingService as the proxy binary, pointed at the broker's name servers;
// it reaches its own broker by the broker's registered address like any other.
#ifndef MQ_SERVICES_PROXY_LOCAL_MODE_H_
#define MQ_SERVICES_PROXY_LOCAL_MODE_H_

#include <grpcpp/server_builder.h>

#include <string>
#include <vector>

#include "common/acl/authorizer.h"
#include "common/acl/signature.h"
#include "services/proxy/messaging_service.h"

namespace mq::proxy {

// Server arguments RocketMQ 5 clients need: the Java client pings idle
// connections every 300 s (keepAliveWithoutCalls), which gRPC's server
// defaults answer with GOAWAY "too_many_pings". For every server that
// registers MessagingService.
void ConfigureV5Server(grpc::ServerBuilder* builder);

// Options of the MessagingService of a process hosting a broker with
// `max_message_size` whose name servers are `namesrv_addrs`, dialling them
// and the brokers with `tls`. With access control (`authorizer`, the
// process's), requests are checked against the users (services/proxy/
// v5_access.h) and the backend's calls signed with `cluster` (the cluster
// identity). Consumers' settings come from the flags every process serving
// RocketMQ 5's protocol has (the proxy, brokers, the standalone server):
//   --v5_long_polling_timeout  (default 20s) how long a push consumer's
//                              receive waits for messages;
//   --v5_auto_renew_invisible  (default 30s) the invisible time of a push
//                              consumer's messages, renewed a third of it
//                              before it ends until they are settled;
//   --v5_route_cache_ttl       (default 3s) how long a topic's route is
//                              cached (RouteCacheOptions::ttl; 0s: not).
// Out-of-range values end the process with a message (exit code 2).
MessagingServiceOptions LocalModeOptions(std::vector<std::string> namesrv_addrs,
                                         int64_t max_message_size, const ClientTls& tls,
                                         const acl::Authorizer* authorizer = nullptr,
                                         const acl::Credentials& cluster = {});

}  // namespace mq::proxy

#endif  // MQ_SERVICES_PROXY_LOCAL_MODE_H_
