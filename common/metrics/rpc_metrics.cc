#include "common/metrics/rpc_metrics.h"

#include <string>

#include "absl/status/status.h"

namespace mq::metrics {

absl::string_view RejectionReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kResourceExhausted:
      return "busy";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      return "bad_input";
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return "permission";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    default:
      return "";
  }
}

RpcMetrics::RpcMetrics(Registry* registry)
    : latency_(registry->AddHistogram("rocketmq_rpc_latency_seconds",
                                      "Time to answer a unary gRPC call, by method.", {"method"},
                                      &LatencyBuckets())),
      calls_(registry->AddCounter("rocketmq_rpc_requests_total",
                                  "gRPC calls answered, by method and status code.",
                                  {"method", "code"})),
      rejected_(registry->AddCounter(
          "rocketmq_rejected_requests_total",
          "Requests refused, by reason: busy, bad_input, permission, unavailable.", {"reason"})) {}

void RpcMetrics::ObserveUnary(absl::string_view method, absl::StatusCode code,
                              absl::Duration latency) {
  latency_->WithLabels({std::string(method)})->ObserveDuration(latency);
  ObserveStream(method, code);
}

void RpcMetrics::ObserveStream(absl::string_view method, absl::StatusCode code) {
  calls_->WithLabels({std::string(method), absl::StatusCodeToString(code)})->Increment();
  CountRejected(code);
}

void RpcMetrics::CountRejected(absl::StatusCode code) {
  absl::string_view reason = RejectionReason(code);
  if (!reason.empty()) rejected_->WithLabels({std::string(reason)})->Increment();
}

}  // namespace mq::metrics
