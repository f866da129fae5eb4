// Access control of RocketMQ 5's protocol (apache.rocketmq.v2.MessagingService):
// what each request requires, decided as RocketMQ 5's auth module does, and
// checked by the server's Authorizer (common/acl) against the request's
// `authorization` header (MQv2-HMAC-SHA1 over x-mq-date-time, the official
// clients' format; ours is accepted too). The same users as our own API.
//
//   SendMessage                  PUB on the topic of every message
//   EndTransaction               PUB on the topic
//   QueryRoute                   PUB or SUB on the topic
//   Heartbeat,                   a consumer: SUB on its group;
//   NotifyClientTermination      a producer: a known user
//   Telemetry                    a known user to open the stream; each
//                                Settings: PUB on its publishing topics, SUB
//                                on its subscription's group and topics
//   ReceiveMessage, AckMessage,  SUB on the topic and on the group (as our
//   ChangeInvisibleDuration,     broker's PopMessage, AckMessage ...)
//   ForwardMessageToDeadLetter-
//   Queue, QueryAssignment
//   every other request          a known user
#ifndef MQ_SERVICES_PROXY_V5_ACCESS_H_
#define MQ_SERVICES_PROXY_V5_ACCESS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/acl/authorizer.h"
#include "google/protobuf/message.h"
#include "proto/apache/rocketmq/v2/messaging.pb.h"
#include "services/proxy/v5_translation.h"

namespace mq::proxy {

// Whether the caller (its call's `metadata`, from `peer`) may make `request` (a MessagingService
// request, or a TelemetryCommand). OK when `authorizer` is null or access
// control is off; else UNAUTHENTICATED (no, unknown or wrong credentials, a
// stale time) or PERMISSION_DENIED (address or permission), naming what is
// missing and never a secret.
absl::Status CheckV5Access(const acl::Authorizer* authorizer, const acl::Metadata& metadata,
                           absl::string_view peer, const google::protobuf::Message& request);

// A stream's caller, authenticated once when it opens (a Telemetry stream
// lives longer than a signature's replay window); null `authorizer` or
// access control off: everything passes.
class V5StreamAccess {
 public:
  // Authenticates the caller (its call's `metadata`, from `peer`) (a known user).
  static absl::StatusOr<V5StreamAccess> Open(const acl::Authorizer* authorizer,
                                             const acl::Metadata& metadata, absl::string_view peer);

  // Whether the stream's caller may send `command` (Settings: its
  // publishing and subscription resources; other commands pass).
  absl::Status Check(const v2::TelemetryCommand& command) const;

 private:
  V5StreamAccess(const acl::Authorizer* authorizer, acl::Principal principal)
      : authorizer_(authorizer), principal_(std::move(principal)) {}

  const acl::Authorizer* authorizer_;
  acl::Principal principal_;
};

// The v5 status of a refusal of CheckV5Access: UNAUTHORIZED (40100) for
// UNAUTHENTICATED, FORBIDDEN (40300) otherwise.
v2::Status V5Refusal(const absl::Status& refusal);

}  // namespace mq::proxy

#endif  // MQ_SERVICES_PROXY_V5_ACCESS_H_
