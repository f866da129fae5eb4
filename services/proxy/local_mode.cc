#include "services/proxy/local_mode.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <utility>

#include "absl/flags/flag.h"

ABSL_FLAG(absl::Duration, v5_long_polling_timeout, absl::Seconds(20),
          "RocketMQ 5 push consumers: how long a receive waits for messages (0s .. 60s).");
ABSL_FLAG(absl::Duration, v5_auto_renew_invisible, absl::Seconds(30),
          "RocketMQ 5 push consumers: the invisible time of received messages, renewed until "
          "they are acked (3s .. 12h).");
ABSL_FLAG(absl::Duration, v5_route_cache_ttl, mq::proxy::RouteCacheOptions().ttl,
          "RocketMQ 5 front: how long a topic's route from the name servers is served before it "
          "is asked again (0s .. 60s; 0s: every call asks). Unknown topics are never cached; a "
          "broker found unreachable drops the routes naming it.");

namespace mq::proxy {
namespace {

absl::Duration DurationFlag(const absl::Flag<absl::Duration>& flag, absl::string_view name,
                            absl::Duration min, absl::Duration max) {
  absl::Duration value = absl::GetFlag(flag);
  if (value < min || value > max) {
    std::cerr << "--" << name << "=" << absl::FormatDuration(value) << " is out of range ("
              << absl::FormatDuration(min) << " .. " << absl::FormatDuration(max) << ")\n";
    std::exit(2);
  }
  return value;
}

}  // namespace

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
  options.long_polling_timeout =
      DurationFlag(FLAGS_v5_long_polling_timeout, "v5_long_polling_timeout", absl::ZeroDuration(),
                   absl::Seconds(60));
  options.auto_renew.invisible =
      DurationFlag(FLAGS_v5_auto_renew_invisible, "v5_auto_renew_invisible", absl::Seconds(3),
                   kMaxInvisibleDuration);
  options.backend.route_cache.ttl = DurationFlag(FLAGS_v5_route_cache_ttl, "v5_route_cache_ttl",
                                                 absl::ZeroDuration(), absl::Seconds(60));
  options.auto_renew.renew_ahead = options.auto_renew.invisible / 3;
  // At least two looks within the renewal window.
  options.renew_interval = std::min(absl::Seconds(1), options.auto_renew.renew_ahead / 2);
  return options;
}

}  // namespace mq::proxy
