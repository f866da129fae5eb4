// The gRPC face of access control's user management (mq.acl.v1.AclAdmin),
// served by every broker: translates the calls to its AclUserManager. Every
// call needs the admin role (or the cluster identity) when access control is
// on; a slave refuses changes (make them on the master: they replicate).
#ifndef MQ_SERVICES_BROKER_GRPC_ACL_ADMIN_H_
#define MQ_SERVICES_BROKER_GRPC_ACL_ADMIN_H_

#include "common/acl/authorizer.h"
#include "proto/acl.grpc.pb.h"
#include "services/broker/acl_user_manager.h"

namespace mq::broker {

// Thread-safe. `users` and `authorizer` (null: no checks) must outlive it.
class AclAdminService final : public acl::v1::AclAdmin::Service {
 public:
  AclAdminService(AclUserManager* users, const acl::Authorizer* authorizer, bool slave)
      : users_(users), authorizer_(authorizer), slave_(slave) {}

  grpc::Status CreateUser(grpc::ServerContext* context, const acl::v1::CreateUserRequest* request,
                          acl::v1::CreateUserResponse* response) override;
  grpc::Status UpdateUser(grpc::ServerContext* context, const acl::v1::UpdateUserRequest* request,
                          acl::v1::UpdateUserResponse* response) override;
  grpc::Status DeleteUser(grpc::ServerContext* context, const acl::v1::DeleteUserRequest* request,
                          acl::v1::DeleteUserResponse* response) override;
  grpc::Status ListUsers(grpc::ServerContext* context, const acl::v1::ListUsersRequest* request,
                         acl::v1::ListUsersResponse* response) override;
  grpc::Status Grant(grpc::ServerContext* context, const acl::v1::GrantRequest* request,
                     acl::v1::GrantResponse* response) override;
  grpc::Status Revoke(grpc::ServerContext* context, const acl::v1::RevokeRequest* request,
                      acl::v1::RevokeResponse* response) override;
  grpc::Status ExportUsers(grpc::ServerContext* context, const acl::v1::ExportUsersRequest* request,
                           acl::v1::ExportUsersResponse* response) override;

 private:
  // OK when `request` may change the users here.
  grpc::Status CheckChange(grpc::ServerContext* context,
                           const google::protobuf::Message& request) const;

  AclUserManager* const users_;
  const acl::Authorizer* const authorizer_;
  const bool slave_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_GRPC_ACL_ADMIN_H_
