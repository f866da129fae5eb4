// The server side of access control, in one place: authenticates a call's
// signature (ours or RocketMQ 5's, common/acl/signature.h) within the replay
// window, checks the caller's address against the allow-lists, and its
// permission against the method's rule (common/acl/method_rules.h) and the
// user's table. Refusals are UNAUTHENTICATED (no, unknown or wrong
// credentials, a stale time) or PERMISSION_DENIED (address, role or
// permission), each with the NO_PERMISSION response code; their messages
// name the access key and what is missing, never a secret.
//
// Thread-safe. Users are replaced as a whole (SetUsers) while calls are
// checked.
#ifndef MQ_COMMON_ACL_AUTHORIZER_H_
#define MQ_COMMON_ACL_AUTHORIZER_H_

#include <grpcpp/server_context.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/acl/method_rules.h"
#include "common/acl/signature.h"
#include "common/clock.h"
#include "google/protobuf/message.h"
#include "proto/acl.pb.h"

namespace mq::acl {

// The reserved access key of the cluster's own identity (brokers, stores):
// its secret is the cluster secret, and it may call every method.
inline constexpr absl::string_view kClusterAccessKey = "cluster";

struct AclOptions {
  // Off: every call passes (the first-run default).
  bool enabled = false;
  // The cluster identity's secret; empty: no call passes as the cluster.
  std::string cluster_secret;
  // A signature's time may be this far from the server's clock. RocketMQ 5
  // clients' times may be local time marked UTC: for them the window is
  // widened by the largest time zone offset (14 h).
  absl::Duration replay_window = absl::Minutes(5);
  // What a user may do with a topic or group neither its table nor its
  // defaults name: nothing (true) or PUB|SUB.
  bool default_deny = true;
  // Addresses every user's calls must come from ("10.0.0.0/8", "::1");
  // empty: any.
  std::vector<std::string> allowed_ips;
};

// The gRPC metadata of a call (grpc::ServerContextBase::client_metadata()).
using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

// Who a call authenticated as.
struct Principal {
  bool cluster = false;
  // Null for the cluster identity.
  std::shared_ptr<const v1::User> user;
};

// INVALID_ARGUMENT unless each entry is an IPv4/IPv6 address or CIDR block.
absl::Status ValidateAllowedIps(const std::vector<std::string>& entries);
// Whether `peer` (gRPC's "ipv4:1.2.3.4:5" / "ipv6:[::1]:5") matches one of
// `entries` (validated).
bool PeerAllowed(absl::string_view peer, const std::vector<std::string>& entries);

class Authorizer {
 public:
  // `clock` must outlive the authorizer.
  Authorizer(AclOptions options, const Clock* clock);

  bool enabled() const { return options_.enabled; }

  // Replaces the users (hot reload).
  void SetUsers(const v1::UserTable& table) ABSL_LOCKS_EXCLUDED(mu_);

  // The whole check of one call of a method of the table, its rule found
  // through the request's type (MethodOfRequest). OK when access control is
  // off.
  absl::Status CheckCall(const grpc::ServerContextBase& context,
                         const google::protobuf::Message& request) const;

  // The same for a method by name ("/mq.broker.v1.Broker/SendMessage");
  // `request` null for a stream (its rule then names no resources).
  absl::Status Check(absl::string_view method, const Metadata& metadata, absl::string_view peer,
                     const google::protobuf::Message* request) const;

  // The check of a request of another front (RocketMQ 5's protocol):
  // authenticates `metadata` (either format; ours signed over `method` and
  // the resources) from `peer`, then requires `access` and, for
  // Access::kResources, `needed`.
  absl::Status CheckRequest(absl::string_view method, const Metadata& metadata,
                            absl::string_view peer, Access access,
                            const std::vector<NeededResource>& needed) const;

  // Authentication alone, for a stream whose items are checked one by one:
  // signed over `method` and no resources.
  absl::StatusOr<Principal> Authenticate(absl::string_view method, const Metadata& metadata,
                                         absl::string_view peer,
                                         const std::vector<Resource>& signed_resources) const;
  // Whether `principal` holds what `needed` requires.
  absl::Status CheckResources(const Principal& principal,
                              const std::vector<NeededResource>& needed) const;

 private:
  absl::Status Authorize(const Principal& principal, absl::string_view method, Access access,
                         const std::vector<NeededResource>& needed) const;
  std::shared_ptr<const v1::User> FindUser(absl::string_view access_key) const
      ABSL_LOCKS_EXCLUDED(mu_);

  const AclOptions options_;
  const Clock* const clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const v1::User>, std::less<>> users_ ABSL_GUARDED_BY(mu_);
};

// For a synchronous service's handler: OK when `authorizer` is null or lets
// the call of `request` through (Authorizer::CheckCall), else the refusal to
// answer with (its response code in `context`'s trailers).
grpc::Status Refusal(const Authorizer* authorizer, grpc::ServerContextBase* context,
                     const google::protobuf::Message& request);

}  // namespace mq::acl

#endif  // MQ_COMMON_ACL_AUTHORIZER_H_
