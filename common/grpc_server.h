// Starting a gRPC server on its port: the one place that decides how a server
// of the system listens.
#ifndef MQ_COMMON_GRPC_SERVER_H_
#define MQ_COMMON_GRPC_SERVER_H_

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mq {

struct ListeningServer {
  std::unique_ptr<grpc::Server> server;
  // The port it listens on (the chosen one when asked for port 0).
  int port = 0;
};

// Adds a plaintext listening port `host`:`port` to `builder` (services
// registered and ConfigureServerBuilder() applied already) and starts the
// server. Port sharing (SO_REUSEPORT, on by default in gRPC) is turned off, so
// a second server on a port in use fails instead of silently splitting the
// clients between the two: FAILED_PRECONDITION "port 9876 is already in use".
absl::StatusOr<ListeningServer> StartServer(grpc::ServerBuilder* builder, const std::string& host,
                                            int port);

}  // namespace mq

#endif  // MQ_COMMON_GRPC_SERVER_H_
