#include "services/broker/grpc_acl_admin.h"

#include <glog/logging.h>

#include "common/status.h"

namespace mq::broker {

grpc::Status AclAdminService::CheckChange(grpc::ServerContext* context,
                                          const google::protobuf::Message& request) const {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, request); !refused.ok()) {
    return refused;
  }
  if (slave_) {
    return ToGrpcStatus(absl::FailedPreconditionError(
                            "this broker is a slave: change users on its master (they replicate)"),
                        context);
  }
  return grpc::Status::OK;
}

grpc::Status AclAdminService::CreateUser(grpc::ServerContext* context,
                                         const acl::v1::CreateUserRequest* request,
                                         acl::v1::CreateUserResponse* response) {
  if (grpc::Status refused = CheckChange(context, *request); !refused.ok()) return refused;
  absl::Status status = users_->Create(request->user());
  if (status.ok()) LOG(INFO) << "acl: user '" << request->user().access_key() << "' created";
  return ToGrpcStatus(status, context);
}

grpc::Status AclAdminService::UpdateUser(grpc::ServerContext* context,
                                         const acl::v1::UpdateUserRequest* request,
                                         acl::v1::UpdateUserResponse* response) {
  if (grpc::Status refused = CheckChange(context, *request); !refused.ok()) return refused;
  absl::Status status = users_->Update(request->user());
  if (status.ok()) LOG(INFO) << "acl: user '" << request->user().access_key() << "' updated";
  return ToGrpcStatus(status, context);
}

grpc::Status AclAdminService::DeleteUser(grpc::ServerContext* context,
                                         const acl::v1::DeleteUserRequest* request,
                                         acl::v1::DeleteUserResponse* response) {
  if (grpc::Status refused = CheckChange(context, *request); !refused.ok()) return refused;
  absl::Status status = users_->Delete(request->access_key());
  if (status.ok()) LOG(INFO) << "acl: user '" << request->access_key() << "' deleted";
  return ToGrpcStatus(status, context);
}

grpc::Status AclAdminService::ListUsers(grpc::ServerContext* context,
                                        const acl::v1::ListUsersRequest* request,
                                        acl::v1::ListUsersResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  absl::StatusOr<std::vector<acl::v1::User>> users = users_->List();
  if (!users.ok()) return ToGrpcStatus(users.status(), context);
  for (acl::v1::User& user : *users) *response->add_users() = std::move(user);
  return grpc::Status::OK;
}

grpc::Status AclAdminService::Grant(grpc::ServerContext* context,
                                    const acl::v1::GrantRequest* request,
                                    acl::v1::GrantResponse* response) {
  if (grpc::Status refused = CheckChange(context, *request); !refused.ok()) return refused;
  if (request->perm() == acl::v1::PERM_UNSET) {
    return ToGrpcStatus(absl::InvalidArgumentError("grant DENY, PUB, SUB or PUB_SUB"), context);
  }
  return ToGrpcStatus(
      users_->SetPerm(request->access_key(), request->topic(), request->group(), request->perm()),
      context);
}

grpc::Status AclAdminService::Revoke(grpc::ServerContext* context,
                                     const acl::v1::RevokeRequest* request,
                                     acl::v1::RevokeResponse* response) {
  if (grpc::Status refused = CheckChange(context, *request); !refused.ok()) return refused;
  return ToGrpcStatus(users_->SetPerm(request->access_key(), request->topic(), request->group(),
                                      acl::v1::PERM_UNSET),
                      context);
}

grpc::Status AclAdminService::ExportUsers(grpc::ServerContext* context,
                                          const acl::v1::ExportUsersRequest* request,
                                          acl::v1::ExportUsersResponse* response) {
  // The method's rule admits the cluster identity alone. With access control
  // off no caller can prove it is the cluster: the secrets stay here.
  if (authorizer_ == nullptr || !authorizer_->enabled()) {
    return ToGrpcStatus(absl::FailedPreconditionError(
                            "access control is off on this broker: it exports its users only to "
                            "the cluster's identity, which it checks only with --acl_enable"),
                        context);
  }
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  absl::StatusOr<acl::v1::UserTable> table = users_->Export();
  if (!table.ok()) return ToGrpcStatus(table.status(), context);
  *response->mutable_table() = std::move(*table);
  return grpc::Status::OK;
}

}  // namespace mq::broker
