// Client side of a unary gRPC call, written once: the deadline, the status
// conversion (FromGrpcStatus, response code kept) and a label naming the peer;
// and the same call to many peers at once.
#ifndef MQ_COMMON_RPC_H_
#define MQ_COMMON_RPC_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/time.h"
#include "common/status.h"

namespace mq {

// Sets the deadline of `context` to `timeout` from now.
void SetDeadline(grpc::ClientContext* context, absl::Duration timeout);

// The label of a broker's errors: "broker 10.0.0.1:10911: ", and with the
// broker's name "broker b1 (10.0.0.1:10911): ".
std::string BrokerLabel(absl::string_view address);
std::string BrokerLabel(absl::string_view broker_name, absl::string_view address);

// Calls the blocking unary `method` of `stub` with a deadline `timeout` from
// now. An error carries the server's response code and its message starts
// with `label` (e.g. "broker b1 (10.0.0.1:10911): ").
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> CallUnary(
    Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
    const Request& request, absl::Duration timeout, absl::string_view label = "") {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  Response response;
  const grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return PrefixStatus(label, FromGrpcStatus(status, context));
  return response;
}

// Starts one asynchronous unary call per target at once, each with a deadline
// `timeout` from now, and waits until all have finished; returns each call's
// outcome in `targets` order. `start(target, context, response, done)` starts
// the call (e.g. `stub->async()->M(context, &request, response, done)`); the
// target must keep its stub alive until CallEach returns.
template <typename Response, typename Target, typename Start>
std::vector<absl::StatusOr<Response>> CallEach(const std::vector<Target>& targets,
                                               absl::Duration timeout, Start start) {
  struct Call {
    grpc::ClientContext context;
    Response response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  absl::BlockingCounter remaining(static_cast<int>(targets.size()));
  for (const Target& target : targets) {
    calls.push_back(std::make_unique<Call>());
    Call* call = calls.back().get();
    SetDeadline(&call->context, timeout);
    start(target, &call->context, &call->response,
          std::function<void(grpc::Status)>([call, &remaining](grpc::Status status) {
            call->status = std::move(status);
            remaining.DecrementCount();
          }));
  }
  remaining.Wait();
  std::vector<absl::StatusOr<Response>> results;
  results.reserve(calls.size());
  for (const std::unique_ptr<Call>& call : calls) {
    if (call->status.ok()) {
      results.push_back(std::move(call->response));
    } else {
      results.push_back(FromGrpcStatus(call->status, call->context));
    }
  }
  return results;
}

}  // namespace mq

#endif  // MQ_COMMON_RPC_H_
