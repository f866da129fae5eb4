#include "services/namesrv/grpc_name_server.h"

#include "common/status.h"

namespace mq::namesrv {

namespace {

// The route code clients look for when a topic is missing.
absl::Status WithTopicCode(absl::Status status) {
  if (status.code() == absl::StatusCode::kNotFound) {
    return WithResponseCode(std::move(status), common::v1::TOPIC_NOT_EXIST);
  }
  return status;
}

}  // namespace

grpc::Status NameServerService::RegisterBroker(grpc::ServerContext* context,
                                               const namesrv::v1::RegisterBrokerRequest* request,
                                               namesrv::v1::RegisterBrokerResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  absl::StatusOr<namesrv::v1::RegisterBrokerResponse> result = routes_->RegisterBroker(*request);
  if (!result.ok()) return ToGrpcStatus(result.status(), context);
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status NameServerService::UnregisterBroker(
    grpc::ServerContext* context, const namesrv::v1::UnregisterBrokerRequest* request,
    namesrv::v1::UnregisterBrokerResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return ToGrpcStatus(routes_->UnregisterBroker(*request), context);
}

grpc::Status NameServerService::GetRouteInfoByTopic(
    grpc::ServerContext* context, const namesrv::v1::GetRouteInfoByTopicRequest* request,
    namesrv::v1::GetRouteInfoByTopicResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  absl::StatusOr<common::v1::TopicRouteData> route = routes_->GetRouteInfoByTopic(request->topic());
  if (!route.ok()) return ToGrpcStatus(WithTopicCode(route.status()), context);
  *response->mutable_route() = *std::move(route);
  return grpc::Status::OK;
}

grpc::Status NameServerService::GetClusterInfo(grpc::ServerContext* context,
                                               const namesrv::v1::GetClusterInfoRequest* request,
                                               namesrv::v1::GetClusterInfoResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  *response = routes_->GetClusterInfo();
  return grpc::Status::OK;
}

grpc::Status NameServerService::GetAllTopics(grpc::ServerContext* context,
                                             const namesrv::v1::GetAllTopicsRequest* request,
                                             namesrv::v1::GetAllTopicsResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  for (std::string& topic : routes_->GetAllTopics()) response->add_topics(std::move(topic));
  return grpc::Status::OK;
}

grpc::Status NameServerService::DeleteTopic(grpc::ServerContext* context,
                                            const namesrv::v1::DeleteTopicRequest* request,
                                            namesrv::v1::DeleteTopicResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return ToGrpcStatus(
      WithTopicCode(routes_->DeleteTopic(request->topic(), request->cluster_name())), context);
}

}  // namespace mq::namesrv
