// Starting a gRPC server on its port: the one place that decides how a server
// of the system listens.
#ifndef MQ_COMMON_GRPC_SERVER_H_
#define MQ_COMMON_GRPC_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mq {
namespace metrics {
class Registry;
}  // namespace metrics

class CallsInFlight;

// One port a server listens on.
struct ListenPort {
  int port = 0;
  // nullptr: plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
};

struct ListeningServer {
  // Answers calls of methods no service of the port has; outlives `server`.
  std::unique_ptr<grpc::CallbackGenericService> unknown_methods;
  std::unique_ptr<grpc::Server> server;
  // The ports it listens on, in the order asked for (the chosen ones when
  // asked for port 0); `port` is the first.
  int port = 0;
  std::vector<int> ports;
  // Full names of the services it serves ("mq.broker.v1.Broker", ...).
  std::vector<std::string> services;
  std::shared_ptr<CallsInFlight> calls;

  // Waits until the calls in flight have finished (at most `grace`), then
  // stops the server at once: calls still open are cancelled, and connections
  // with no call (an idle client, a half-open socket) are closed instead of
  // waited for, so a server with nothing to do exits at once. Server-streaming
  // calls (watches) are not waited for. Stop taking new work first (health
  // NOT_SERVING, the services refusing calls).
  void Shutdown(absl::Duration grace) const;

  // Marks the server as a whole (the empty name) and each of its services by
  // name SERVING or NOT_SERVING in the standard health service, so a check of
  // either kind (Kubernetes probes ask for "", grpcurl users often for a
  // service) gets the same answer.
  void SetServing(bool serving) const;
};

// Adds the listening ports `host`:`ports` to `builder` (services registered
// and ConfigureServerBuilder() applied already), each plaintext or TLS as its
// credentials say, and starts the server; every port serves every service. Port sharing
// (SO_REUSEPORT, on by default in gRPC) is turned off, so a second server on a port in use fails
// instead of silently splitting the clients between the two: FAILED_PRECONDITION "port 9876 is
// already in use". Two answers of gRPC's own are replaced by clear ones, each with the
// mq-response-code trailer: a unary or server-streaming request that cannot
// be parsed is INVALID_ARGUMENT "request could not be parsed ..." (gRPC says
// INTERNAL or UNIMPLEMENTED with no message), and a call of a method no
// service here has is UNIMPLEMENTED naming the services this port serves
// (logged once per peer).
// `services` are the full names of the services registered on `builder`.
// With `metrics`, every call is counted there (metrics::RpcMetrics); it must
// outlive the server.
absl::StatusOr<ListeningServer> StartServer(grpc::ServerBuilder* builder, const std::string& host,
                                            const std::vector<ListenPort>& ports,
                                            std::vector<std::string> services,
                                            metrics::Registry* metrics = nullptr);

}  // namespace mq

#endif  // MQ_COMMON_GRPC_SERVER_H_
