// What each RPC of the system requires under access control, in one table:
// the method, what kind of caller may call it, and for the methods checked
// per resource, which request fields name the topics and groups and which
// permission each needs. Client signers and the server's check both read it,
// so they agree on what a signature covers. A method missing from the table
// is refused (fail closed); a test enumerates the services' descriptors so a
// new RPC cannot be forgotten.
#ifndef MQ_COMMON_ACL_METHOD_RULES_H_
#define MQ_COMMON_ACL_METHOD_RULES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/acl/signature.h"
#include "google/protobuf/message.h"

namespace mq::acl {

enum class Access {
  // Anyone, signed or not (name server route queries: RocketMQ's name
  // server has no ACL either).
  kOpen,
  // Any known user (client bookkeeping: unregistration, transaction ends).
  kAuthenticated,
  // Users whose role is ADMIN (topic, group and ACL administration).
  kAdmin,
  // The cluster's own identity only (store, replication, registration).
  kCluster,
  // Any known user holding the permission each of `resources` needs.
  kResources,
};

enum class Need { kPub, kSub };

// A request field naming resources: a dot path through messages; a repeated
// field along the way yields each element ("consumers.subscriptions.topic").
struct ResourceField {
  Resource::Type type;
  std::string path;
  Need need;
};

struct MethodRule {
  Access access;
  std::vector<ResourceField> resources;
};

// The rule of `method` ("/mq.broker.v1.Broker/SendMessage"); null if the
// table has none.
const MethodRule* FindRule(absl::string_view method);

// Every method the table names.
std::vector<std::string> RuledMethods();

// The resources `request` names through `rule`, in the table's order, with
// the permission each needs; empty names are skipped.
struct NeededResource {
  Resource resource;
  Need need;
};
std::vector<NeededResource> ExtractResources(const MethodRule& rule,
                                             const google::protobuf::Message& request);
std::vector<Resource> ResourcesOf(const std::vector<NeededResource>& needed);

// The method ("/pkg.Service/Method") whose request type is `request`'s, among
// the methods of the table; empty if none or several.
std::string MethodOfRequest(const google::protobuf::Message& request);

}  // namespace mq::acl

#endif  // MQ_COMMON_ACL_METHOD_RULES_H_
