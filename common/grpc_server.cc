#include "common/grpc_server.h"

#include <grpc/grpc.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace mq {

namespace {

// Why listening on `host`:`port` failed, found by binding it ourselves:
// EADDRINUSE is the common case and deserves its own words.
absl::Status ListenFailure(const std::string& host, int port) {
  const std::string address = absl::StrCat(host, ":", port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on ", address, ": ", gai_strerror(rc)));
  }
  int bind_errno = 0;
  for (addrinfo* a = found; a != nullptr && bind_errno != EADDRINUSE; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    int on = 1;
    // As gRPC binds: a port whose old connections sit in TIME_WAIT is free.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) bind_errno = errno;
    close(fd);
  }
  freeaddrinfo(found);
  if (bind_errno == EADDRINUSE) {
    return absl::FailedPreconditionError(absl::StrCat("port ", port, " is already in use"));
  }
  return absl::UnavailableError(
      absl::StrCat("cannot listen on ", address,
                   bind_errno != 0 ? absl::StrCat(": ", std::strerror(bind_errno)) : ""));
}

}  // namespace

void ListeningServer::SetServing(bool serving) const {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  for (const std::string& service : services) health->SetServingStatus(service, serving);
}

absl::StatusOr<ListeningServer> StartServer(grpc::ServerBuilder* builder, const std::string& host,
                                            int port, std::vector<std::string> services) {
  ListeningServer started;
  started.services = std::move(services);
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder->AddListeningPort(absl::StrCat(host, ":", port), grpc::InsecureServerCredentials(),
                            &started.port);
  started.server = builder->BuildAndStart();
  if (started.server == nullptr || started.port == 0) {
    if (started.server != nullptr) started.server->Shutdown();
    return ListenFailure(host, port);
  }
  return started;
}

}  // namespace mq
