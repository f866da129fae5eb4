// The users of access control (proto/acl.proto), kept in the store's
// metadata (key "acl_users", JSON) so they survive restarts and replicate to
// slaves like topics. Every change reads the stored table first, so brokers
// sharing a store (or an operator's edit through another broker) are not
// overwritten; Load() follows changes made elsewhere and hands the table to
// the authorizer (hot reload: the broker calls it periodically).
#ifndef MQ_SERVICES_BROKER_ACL_USER_MANAGER_H_
#define MQ_SERVICES_BROKER_ACL_USER_MANAGER_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/acl/authorizer.h"
#include "proto/acl.pb.h"
#include "services/store/store_api.h"

namespace mq::broker {

inline constexpr absl::string_view kAclUsersMetadataKey = "acl_users";

// INVALID_ARGUMENT naming the first bad field of `user` (access key, secret
// unless `secret_optional`, permissions, allowed IPs).
absl::Status ValidateUser(const acl::v1::User& user, bool secret_optional);

// Thread-safe.
class AclUserManager {
 public:
  // `store` must outlive the manager; `authorizer` (null: none) is handed
  // every table loaded or written, and must outlive the manager too.
  AclUserManager(store::StoreApi* store, acl::Authorizer* authorizer);

  // Reads the stored table; when it changed, hands it to the authorizer.
  // DATA_LOSS when it does not parse; the store's error.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);

  // ALREADY_EXISTS if the access key is taken.
  absl::Status Create(const acl::v1::User& user) ABSL_LOCKS_EXCLUDED(mu_);
  // Replaces a user; an empty secret keeps the old one. NOT_FOUND if absent.
  absl::Status Update(const acl::v1::User& user) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Delete(absl::string_view access_key) ABSL_LOCKS_EXCLUDED(mu_);
  // Sets (PERM_UNSET: removes) one topic's or group's permission; exactly
  // one of `topic` and `group` is set.
  absl::Status SetPerm(absl::string_view access_key, absl::string_view topic,
                       absl::string_view group, acl::v1::Perm perm) ABSL_LOCKS_EXCLUDED(mu_);
  // Every user by access key, secrets blanked.
  absl::StatusOr<std::vector<acl::v1::User>> List() ABSL_LOCKS_EXCLUDED(mu_);
  // The stored table as it is, secrets included (for the cluster's own
  // processes only: AclAdmin.ExportUsers).
  absl::StatusOr<acl::v1::UserTable> Export() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Reads the stored table into `table`, and hands it on if it changed.
  absl::Status LoadLocked(acl::v1::UserTable* table) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CommitLocked(const acl::v1::UserTable& table) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::StoreApi* const store_;
  acl::Authorizer* const authorizer_;
  // Serializes loads and read-modify-write changes.
  absl::Mutex mu_;
  // The stored bytes last handed to the authorizer.
  std::string last_value_ ABSL_GUARDED_BY(mu_);
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_ACL_USER_MANAGER_H_
