// The gRPC face of the name server: translates protos to RouteInfoManager calls.
#ifndef MQ_SERVICES_NAMESRV_GRPC_NAME_SERVER_H_
#define MQ_SERVICES_NAMESRV_GRPC_NAME_SERVER_H_

#include "common/acl/authorizer.h"
#include "proto/namesrv.grpc.pb.h"
#include "services/namesrv/route_info_manager.h"

namespace mq::namesrv {

// Thread-safe. `routes` must outlive the service.
class NameServerService final : public namesrv::v1::NameServer::Service {
 public:
  explicit NameServerService(RouteInfoManager* routes) : routes_(routes) {}

  // Access control of every call (must outlive the service); before the
  // server starts. Null (the default): none.
  void set_authorizer(const acl::Authorizer* authorizer) { authorizer_ = authorizer; }

  grpc::Status RegisterBroker(grpc::ServerContext* context,
                              const namesrv::v1::RegisterBrokerRequest* request,
                              namesrv::v1::RegisterBrokerResponse* response) override;
  grpc::Status UnregisterBroker(grpc::ServerContext* context,
                                const namesrv::v1::UnregisterBrokerRequest* request,
                                namesrv::v1::UnregisterBrokerResponse* response) override;
  grpc::Status GetRouteInfoByTopic(grpc::ServerContext* context,
                                   const namesrv::v1::GetRouteInfoByTopicRequest* request,
                                   namesrv::v1::GetRouteInfoByTopicResponse* response) override;
  grpc::Status GetClusterInfo(grpc::ServerContext* context,
                              const namesrv::v1::GetClusterInfoRequest* request,
                              namesrv::v1::GetClusterInfoResponse* response) override;
  grpc::Status GetAllTopics(grpc::ServerContext* context,
                            const namesrv::v1::GetAllTopicsRequest* request,
                            namesrv::v1::GetAllTopicsResponse* response) override;
  grpc::Status DeleteTopic(grpc::ServerContext* context,
                           const namesrv::v1::DeleteTopicRequest* request,
                           namesrv::v1::DeleteTopicResponse* response) override;

 private:
  RouteInfoManager* const routes_;
  const acl::Authorizer* authorizer_ = nullptr;
};

}  // namespace mq::namesrv

#endif  // MQ_SERVICES_NAMESRV_GRPC_NAME_SERVER_H_
