// The access control flags every server shares, and the cluster identity its
// own channels sign with:
//   --acl_enable                 check every call (off: the first-run default)
//   --acl_cluster_secret_file    file holding the cluster secret (brokers,
//                                stores and name servers of one cluster share it)
//   --acl_replay_window          how far a signature's time may be off
//   --acl_default_deny           topics/groups a user's table does not name: denied
//   --acl_allowed_ips            addresses users may call from (comma-separated)
#ifndef MQ_COMMON_ACL_ACL_FLAGS_H_
#define MQ_COMMON_ACL_ACL_FLAGS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/acl/authorizer.h"
#include "common/acl/signature.h"

namespace mq::acl {

// INVALID_ARGUMENT for a bad allow-list; FAILED_PRECONDITION for an
// unreadable or empty secret file.
absl::StatusOr<AclOptions> AclOptionsFromFlags();

// The cluster identity (kClusterAccessKey and the secret) when a cluster
// secret file is given, else empty credentials (calls unsigned).
absl::StatusOr<Credentials> ClusterCredentialsFromFlags();

// A server process's access control: the authorizer of its services and the
// cluster identity its own channels sign with.
struct ServerAcl {
  std::unique_ptr<Authorizer> authorizer;
  Credentials cluster;
};

// From the flags. With --acl_enable a cluster secret is required, except
// with `generate_secret` (the standalone server, whose internal calls go to
// itself): then a missing one is made up at random.
absl::StatusOr<ServerAcl> ServerAclFromFlags(bool generate_secret);

}  // namespace mq::acl

#endif  // MQ_COMMON_ACL_ACL_FLAGS_H_
