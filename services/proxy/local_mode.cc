#include "services/proxy/local_mode.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

namespace mq::proxy {

void ConfigureV5Server(grpc::ServerBuilder* builder) {
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 60000);
}

MessagingServiceOptions LocalModeOptions(std::vector<std::string> namesrv_addrs,
                                         int64_t max_message_size, const ClientTls& tls,
                                         const acl::Authorizer* authorizer,
                                         const acl::Credentials& cluster) {
  MessagingServiceOptions options;
  options.backend.namesrv_addrs = std::move(namesrv_addrs);
  options.backend.tls = tls;
  options.backend.credentials = cluster;
  options.authorizer = authorizer;
  options.max_body_size = static_cast<int32_t>(
      std::min<int64_t>(max_message_size, std::numeric_limits<int32_t>::max()));
  return options;
}

}  // namespace mq::proxy
