// What every gRPC server of the system records about its calls: latency per
// method (unary calls), calls per method and status code, and requests
// refused by reason. The server's call interceptor (common/grpc_server) feeds
// it; a service that answers many requests in one stream (the broker's send
// stream) counts each refused one with CountRejected.
#ifndef MQ_COMMON_METRICS_RPC_METRICS_H_
#define MQ_COMMON_METRICS_RPC_METRICS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/metrics/registry.h"

namespace mq::metrics {

// Why a request was refused, as the label of rocketmq_rejected_requests_total:
// "busy" (RESOURCE_EXHAUSTED), "bad_input" (INVALID_ARGUMENT, OUT_OF_RANGE,
// FAILED_PRECONDITION), "permission" (PERMISSION_DENIED, UNAUTHENTICATED),
// "unavailable" (UNAVAILABLE); empty for a code that is no refusal (OK,
// NOT_FOUND, DEADLINE_EXCEEDED, ...).
absl::string_view RejectionReason(absl::StatusCode code);

// Thread-safe. The families live in `registry`.
class RpcMetrics {
 public:
  explicit RpcMetrics(Registry* registry);

  // A unary call of `method` ("mq.broker.v1.Broker/SendMessage") ended.
  void ObserveUnary(absl::string_view method, absl::StatusCode code, absl::Duration latency);
  // A streaming call ended (counted, not timed: its length is the client's).
  void ObserveStream(absl::string_view method, absl::StatusCode code);
  // A request was refused with `code` (nothing when the code is no refusal).
  void CountRejected(absl::StatusCode code);

 private:
  Family<Histogram>* const latency_;
  Family<Counter>* const calls_;
  Family<Counter>* const rejected_;
};

}  // namespace mq::metrics

#endif  // MQ_COMMON_METRICS_RPC_METRICS_H_
