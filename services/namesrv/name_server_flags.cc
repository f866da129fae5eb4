#include "services/namesrv/name_server_flags.h"

#include "absl/flags/flag.h"
#include "absl/time/time.h"

ABSL_FLAG(absl::Duration, broker_expiry, absl::Seconds(120),
          "A broker not heard from for this long is dropped from routes.");
ABSL_FLAG(absl::Duration, scan_interval, absl::Seconds(10),
          "How often to look for silent brokers.");

namespace mq::namesrv {

absl::StatusOr<NameServerOptions> NameServerOptionsFromFlags() {
  NameServerOptions options;
  options.routes.broker_expiry = absl::GetFlag(FLAGS_broker_expiry);
  options.scan_interval = absl::GetFlag(FLAGS_scan_interval);
  if (options.routes.broker_expiry <= absl::ZeroDuration() ||
      options.scan_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--broker_expiry and --scan_interval must be positive");
  }
  return options;
}

}  // namespace mq::namesrv
