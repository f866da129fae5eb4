#include "services/proxy/v5_access.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/acl/method_rules.h"
#include "common/status.h"
#include "proto/apache/rocketmq/v2/messaging.grpc.pb.h"
#include "services/proxy/v5_translation.h"

namespace mq::proxy {
namespace {

using acl::Need;
using acl::NeededResource;
using acl::Resource;

bool Enabled(const acl::Authorizer* authorizer) {
  return authorizer != nullptr && authorizer->enabled();
}

NeededResource Topic(const std::string& name, Need need) {
  return {{Resource::Type::kTopic, name}, need};
}

NeededResource Group(const std::string& name) {
  return {{Resource::Type::kGroup, name}, Need::kSub};
}

// "/apache.rocketmq.v2.MessagingService/SendMessage" for a SendMessageRequest.
std::string MethodOf(const google::protobuf::Message& request) {
  std::string name = request.GetDescriptor()->name();
  if (name == "TelemetryCommand") {
    name = "Telemetry";
  } else if (absl::EndsWith(name, "Request")) {
    name.resize(name.size() - std::string("Request").size());
  }
  return absl::StrCat("/", v2::MessagingService::service_full_name(), "/", name);
}

// A request naming no topic or group there needs nothing for it (what it
// does without one is the handler's to refuse).
std::vector<NeededResource> WithoutUnnamed(std::vector<NeededResource> needed) {
  needed.erase(std::remove_if(needed.begin(), needed.end(),
                              [](const NeededResource& n) { return n.resource.name.empty(); }),
               needed.end());
  return needed;
}

// A consumer RPC's needs, as our broker's POP rules (common/acl/
// method_rules.cc): SUB on the topic and on the group.
std::vector<NeededResource> Consume(const v2::Resource& topic, const v2::Resource& group) {
  return {Topic(topic.name(), Need::kSub), Group(group.name())};
}

std::vector<NeededResource> SettingsNeeds(const v2::TelemetryCommand& command) {
  std::vector<NeededResource> needed;
  if (!command.has_settings()) return needed;
  const v2::Settings& settings = command.settings();
  if (settings.has_publishing()) {
    for (const v2::Resource& topic : settings.publishing().topics()) {
      needed.push_back(Topic(topic.name(), Need::kPub));
    }
  }
  if (settings.has_subscription()) {
    needed.push_back(Group(settings.subscription().group().name()));
    for (const v2::SubscriptionEntry& entry : settings.subscription().subscriptions()) {
      needed.push_back(Topic(entry.topic().name(), Need::kSub));
    }
  }
  return WithoutUnnamed(std::move(needed));
}

// What `request` requires of a known user, beyond being one.
std::vector<NeededResource> NeedsOf(const google::protobuf::Message& request) {
  std::vector<NeededResource> needed;
  if (const auto* send = dynamic_cast<const v2::SendMessageRequest*>(&request)) {
    for (const v2::Message& message : send->messages()) {
      needed.push_back(Topic(message.topic().name(), Need::kPub));
    }
  } else if (const auto* end = dynamic_cast<const v2::EndTransactionRequest*>(&request)) {
    needed.push_back(Topic(end->topic().name(), Need::kPub));
  } else if (const auto* heartbeat = dynamic_cast<const v2::HeartbeatRequest*>(&request)) {
    if (IsConsumer(heartbeat->client_type())) needed.push_back(Group(heartbeat->group().name()));
  } else if (const auto* bye = dynamic_cast<const v2::NotifyClientTerminationRequest*>(&request)) {
    if (bye->has_group()) needed.push_back(Group(bye->group().name()));
  } else if (const auto* command = dynamic_cast<const v2::TelemetryCommand*>(&request)) {
    needed = SettingsNeeds(*command);
  } else if (const auto* receive = dynamic_cast<const v2::ReceiveMessageRequest*>(&request)) {
    needed = Consume(receive->message_queue().topic(), receive->group());
  } else if (const auto* ack = dynamic_cast<const v2::AckMessageRequest*>(&request)) {
    needed = Consume(ack->topic(), ack->group());
  } else if (const auto* change =
                 dynamic_cast<const v2::ChangeInvisibleDurationRequest*>(&request)) {
    needed = Consume(change->topic(), change->group());
  } else if (const auto* forward =
                 dynamic_cast<const v2::ForwardMessageToDeadLetterQueueRequest*>(&request)) {
    needed = Consume(forward->topic(), forward->group());
  } else if (const auto* assignment = dynamic_cast<const v2::QueryAssignmentRequest*>(&request)) {
    needed = Consume(assignment->topic(), assignment->group());
  }
  return WithoutUnnamed(std::move(needed));
}

// QueryRoute's rule: either permission on the topic will do.
absl::Status CheckPubOrSub(const acl::Authorizer& authorizer, const acl::Principal& principal,
                           const std::string& topic) {
  if (authorizer.CheckResources(principal, {Topic(topic, Need::kPub)}).ok()) {
    return absl::OkStatus();
  }
  absl::Status sub = authorizer.CheckResources(principal, {Topic(topic, Need::kSub)});
  if (sub.ok()) return sub;
  return WithResponseCode(
      absl::PermissionDeniedError(absl::StrCat("a route query needs PUB or SUB: ", sub.message())),
      common::v1::NO_PERMISSION);
}

absl::StatusOr<acl::Principal> Authenticate(const acl::Authorizer& authorizer,
                                            const acl::Metadata& metadata, absl::string_view peer,
                                            const google::protobuf::Message& request) {
  return authorizer.Authenticate(MethodOf(request), metadata, peer, {});
}

}  // namespace

absl::Status CheckV5Access(const acl::Authorizer* authorizer, const acl::Metadata& metadata,
                           absl::string_view peer, const google::protobuf::Message& request) {
  if (!Enabled(authorizer)) return absl::OkStatus();
  absl::StatusOr<acl::Principal> principal = Authenticate(*authorizer, metadata, peer, request);
  if (!principal.ok()) return principal.status();
  if (const auto* route = dynamic_cast<const v2::QueryRouteRequest*>(&request)) {
    return CheckPubOrSub(*authorizer, *principal, route->topic().name());
  }
  return authorizer->CheckResources(*principal, NeedsOf(request));
}

absl::StatusOr<V5StreamAccess> V5StreamAccess::Open(const acl::Authorizer* authorizer,
                                                    const acl::Metadata& metadata,
                                                    absl::string_view peer) {
  if (!Enabled(authorizer)) return V5StreamAccess(nullptr, acl::Principal{});
  absl::StatusOr<acl::Principal> principal =
      Authenticate(*authorizer, metadata, peer, v2::TelemetryCommand::default_instance());
  if (!principal.ok()) return principal.status();
  return V5StreamAccess(authorizer, *std::move(principal));
}

absl::Status V5StreamAccess::Check(const v2::TelemetryCommand& command) const {
  if (authorizer_ == nullptr) return absl::OkStatus();
  return authorizer_->CheckResources(principal_, SettingsNeeds(command));
}

v2::Status V5Refusal(const absl::Status& refusal) {
  return MakeStatus(refusal.code() == absl::StatusCode::kUnauthenticated ? v2::Code::UNAUTHORIZED
                                                                         : v2::Code::FORBIDDEN,
                    refusal.message());
}

}  // namespace mq::proxy
