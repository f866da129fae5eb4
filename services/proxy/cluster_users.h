// Access control in the proxy (cluster mode). The proxy keeps no users of its
// own: it follows the brokers' table (AclAdmin.ExportUsers, which answers the
// cluster identity alone) into its authorizer, as each broker follows the
// store's (hot reload). Until the first read succeeds the authorizer knows no
// user, so every client's request is refused: the proxy fails closed.
#ifndef MQ_SERVICES_PROXY_CLUSTER_USERS_H_
#define MQ_SERVICES_PROXY_CLUSTER_USERS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/acl/authorizer.h"
#include "services/proxy/backend.h"

namespace mq::proxy {

// Thread-safe.
class ClusterUsers {
 public:
  // `backend` signs its calls as the cluster identity; both must outlive it.
  ClusterUsers(const Backend* backend, acl::Authorizer* authorizer)
      : backend_(backend), authorizer_(authorizer) {}

  // Reads the brokers' table and, when it changed, hands it to the
  // authorizer. The backend's error otherwise (the last table stays).
  absl::Status Refresh() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const Backend* const backend_;
  acl::Authorizer* const authorizer_;
  absl::Mutex mu_;
  // The serialized table last handed over.
  std::string last_ ABSL_GUARDED_BY(mu_);
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mq::proxy

#endif  // MQ_SERVICES_PROXY_CLUSTER_USERS_H_
