// The RPCs of the admin tools: name-server queries (tried on each name server
// in turn) and calls to brokers by address, over cached channels.
#ifndef MQ_TOOLS_MQADMIN_ADMIN_CLIENT_H_
#define MQ_TOOLS_MQADMIN_ADMIN_CLIENT_H_

#include <grpcpp/client_context.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/acl/signature.h"
#include "common/rpc.h"
#include "common/tls.h"
#include "proto/acl.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "proto/common.pb.h"
#include "proto/namesrv.grpc.pb.h"

namespace mq {
namespace tools {

// Not thread-safe (the tools are single-threaded).
class AdminClient {
 public:
  // Channels dial as `tls` says (valid: ClientTls::Validate); every call is
  // signed with `credentials` (access control; empty: none).
  AdminClient(std::vector<std::string> name_servers, absl::Duration timeout, ClientTls tls = {},
              acl::Credentials credentials = {});

  const std::vector<std::string>& name_servers() const { return name_servers_; }
  absl::Duration timeout() const { return timeout_; }

  absl::StatusOr<common::v1::TopicRouteData> GetRoute(const std::string& topic);
  absl::StatusOr<namesrv::v1::GetClusterInfoResponse> GetClusterInfo();
  absl::StatusOr<std::vector<std::string>> GetAllTopics();
  // On every name server; the first failure is returned.
  absl::Status DeleteTopicInNameServers(const std::string& topic, const std::string& cluster);

  // Master addresses of the cluster's broker groups, or of every group when
  // `cluster` is empty; NOT_FOUND for an unknown cluster.
  absl::StatusOr<std::vector<std::string>> MasterAddresses(const std::string& cluster);
  // MasterAddresses() by broker group name.
  absl::StatusOr<std::map<std::string, std::string>> MastersByName(const std::string& cluster);
  // broker name -> master address for the groups of `route` that have a master.
  static std::map<std::string, std::string> RouteMasters(const common::v1::TopicRouteData& route);

  broker::v1::Broker::Stub& Broker(const std::string& address);
  // The access control service of the broker at `address`.
  acl::v1::AclAdmin::Stub& Acl(const std::string& address);
  // A context with this client's deadline.
  std::unique_ptr<grpc::ClientContext> Context() const;

 private:
  // Runs `call` on each name server until one answers (transport failures
  // move on; other errors are final).
  absl::Status OnNameServer(const std::function<grpc::Status(namesrv::v1::NameServer::Stub&,
                                                             grpc::ClientContext&)>& call);
  std::shared_ptr<grpc::Channel> Channel(const std::string& address);

  const std::vector<std::string> name_servers_;
  const absl::Duration timeout_;
  const ClientTls tls_;
  const acl::Credentials credentials_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  std::map<std::string, std::unique_ptr<acl::v1::AclAdmin::Stub>> acl_stubs_;
  std::map<std::string, std::unique_ptr<broker::v1::Broker::Stub>> brokers_;
  std::map<std::string, std::unique_ptr<namesrv::v1::NameServer::Stub>> name_server_stubs_;
};

// Calls a unary broker RPC with the client's timeout (CallUnary); errors name
// the broker.
template <typename Request, typename Response>
absl::Status CallBroker(AdminClient& admin, const std::string& address,
                        grpc::Status (broker::v1::Broker::Stub::*method)(grpc::ClientContext*,
                                                                         const Request&, Response*),
                        const Request& request, Response* response) {
  absl::StatusOr<Response> result =
      CallUnary(admin.Broker(address), method, request, admin.timeout(), BrokerLabel(address));
  if (!result.ok()) return result.status();
  *response = *std::move(result);
  return absl::OkStatus();
}

}  // namespace tools
}  // namespace mq

#endif  // MQ_TOOLS_MQADMIN_ADMIN_CLIENT_H_
