#include "common/acl/authorizer.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace mq::acl {
namespace {

// The widest time zone offset: RocketMQ 5 clients that write local time
// marked "Z" are this far off at most.
constexpr absl::Duration kLocalTimeSlack = absl::Hours(14);

absl::Status Unauthenticated(absl::string_view message) {
  return WithResponseCode(absl::UnauthenticatedError(message), common::v1::NO_PERMISSION);
}

absl::Status Denied(absl::string_view message) {
  return WithResponseCode(absl::PermissionDeniedError(message), common::v1::NO_PERMISSION);
}

// An address as 16 bytes (IPv4 mapped into IPv6) and its prefix length
// offset: 96 for IPv4.
struct Address {
  std::array<unsigned char, 16> bytes{};
  int base = 0;
};

bool ParseAddress(absl::string_view text, Address* out) {
  const std::string s(text);
  unsigned char v4[4];
  if (inet_pton(AF_INET, s.c_str(), v4) == 1) {
    out->bytes = {};
    out->bytes[10] = out->bytes[11] = 0xff;
    std::memcpy(out->bytes.data() + 12, v4, 4);
    out->base = 96;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out->bytes.data()) == 1) {
    out->base = 0;
    return true;
  }
  return false;
}

// An allow-list entry: address and prefix length over the 128 bits.
bool ParseEntry(absl::string_view entry, Address* address, int* bits) {
  absl::string_view host = entry;
  int prefix = -1;
  if (size_t slash = entry.find('/'); slash != absl::string_view::npos) {
    host = entry.substr(0, slash);
    if (!absl::SimpleAtoi(entry.substr(slash + 1), &prefix) || prefix < 0) return false;
  }
  if (!ParseAddress(host, address)) return false;
  const int width = 128 - address->base;
  if (prefix > width) return false;
  *bits = address->base + (prefix < 0 ? width : prefix);
  return true;
}

bool Matches(const Address& a, const Address& net, int bits) {
  for (int i = 0; i < bits; ++i) {
    const int mask = 0x80 >> (i % 8);
    if ((a.bytes[i / 8] & mask) != (net.bytes[i / 8] & mask)) return false;
  }
  return true;
}

absl::string_view PeerHost(absl::string_view peer) {
  if (absl::ConsumePrefix(&peer, "ipv6:")) {
    absl::ConsumePrefix(&peer, "[");
    return peer.substr(0, peer.find(']'));
  }
  absl::ConsumePrefix(&peer, "ipv4:");
  return peer.substr(0, peer.rfind(':'));
}

bool Satisfies(v1::Perm perm, Need need) {
  switch (perm) {
    case v1::PUB_SUB:
      return true;
    case v1::PUB:
      return need == Need::kPub;
    case v1::SUB:
      return need == Need::kSub;
    default:
      return false;
  }
}

absl::string_view NeedName(Need need) { return need == Need::kPub ? "PUB" : "SUB"; }

std::string MetadataValue(const Metadata& metadata, absl::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return std::string();
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::Status ValidateAllowedIps(const std::vector<std::string>& entries) {
  for (const std::string& entry : entries) {
    Address address;
    int bits = 0;
    if (!ParseEntry(entry, &address, &bits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("allowed IP '", entry, "' is not an IPv4/IPv6 address or CIDR block"));
    }
  }
  return absl::OkStatus();
}

bool PeerAllowed(absl::string_view peer, const std::vector<std::string>& entries) {
  Address address;
  if (!ParseAddress(PeerHost(peer), &address)) return false;
  for (const std::string& entry : entries) {
    Address net;
    int bits = 0;
    if (ParseEntry(entry, &net, &bits) && Matches(address, net, bits)) return true;
  }
  return false;
}

Authorizer::Authorizer(AclOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {}

void Authorizer::SetUsers(const v1::UserTable& table) {
  std::map<std::string, std::shared_ptr<const v1::User>, std::less<>> users;
  for (const v1::User& user : table.users()) {
    users[user.access_key()] = std::make_shared<const v1::User>(user);
  }
  absl::MutexLock lock(&mu_);
  users_ = std::move(users);
}

std::shared_ptr<const v1::User> Authorizer::FindUser(absl::string_view access_key) const {
  absl::MutexLock lock(&mu_);
  auto it = users_.find(access_key);
  return it == users_.end() ? nullptr : it->second;
}

absl::Status Authorizer::CheckCall(const grpc::ServerContextBase& context,
                                   const google::protobuf::Message& request) const {
  if (!options_.enabled) return absl::OkStatus();
  const std::string method = MethodOfRequest(request);
  if (method.empty()) {
    return Denied(absl::StrCat("access control has no rule for requests of type ",
                               request.GetDescriptor()->full_name()));
  }
  return Check(method, context.client_metadata(), context.peer(), &request);
}

absl::Status Authorizer::Check(absl::string_view method, const Metadata& metadata,
                               absl::string_view peer,
                               const google::protobuf::Message* request) const {
  if (!options_.enabled) return absl::OkStatus();
  const MethodRule* rule = FindRule(method);
  if (rule == nullptr) {
    return Denied(absl::StrCat("access control has no rule for ", method));
  }
  std::vector<NeededResource> needed;
  if (request != nullptr) needed = ExtractResources(*rule, *request);
  return CheckRequest(method, metadata, peer, rule->access, needed);
}

absl::Status Authorizer::CheckRequest(absl::string_view method, const Metadata& metadata,
                                      absl::string_view peer, Access access,
                                      const std::vector<NeededResource>& needed) const {
  if (!options_.enabled || access == Access::kOpen) return absl::OkStatus();
  absl::StatusOr<Principal> principal = Authenticate(method, metadata, peer, ResourcesOf(needed));
  if (!principal.ok()) return principal.status();
  return Authorize(*principal, method, access, needed);
}

absl::StatusOr<Principal> Authorizer::Authenticate(
    absl::string_view method, const Metadata& metadata, absl::string_view peer,
    const std::vector<Resource>& signed_resources) const {
  const std::string header = MetadataValue(metadata, kAuthorizationKey);
  if (header.empty()) {
    return Unauthenticated(
        absl::StrCat(method,
                     " needs credentials: access control is on and the call is not signed (set the "
                     "client's access key and secret key)"));
  }
  absl::StatusOr<ParsedAuthorization> parsed = ParseAuthorization(header);
  if (!parsed.ok()) return Unauthenticated(parsed.status().message());
  const std::string date_time = MetadataValue(metadata, kDateTimeKey);
  absl::StatusOr<absl::Time> signed_at = ParseDateTime(date_time);
  if (!signed_at.ok()) return Unauthenticated(signed_at.status().message());

  Principal principal;
  std::string secret;
  if (parsed->access_key == kClusterAccessKey) {
    if (options_.cluster_secret.empty()) {
      return Unauthenticated("the cluster identity is refused: this server has no cluster secret");
    }
    principal.cluster = true;
    secret = options_.cluster_secret;
  } else {
    principal.user = FindUser(parsed->access_key);
    if (principal.user == nullptr) {
      return Unauthenticated(absl::StrCat("unknown access key '", parsed->access_key, "'"));
    }
    secret = principal.user->secret_key();
  }
  const bool v5 = parsed->scheme == ParsedAuthorization::Scheme::kV5;
  const std::string expected =
      v5 ? HmacSha1Hex(secret, date_time)
         : HmacSha256Hex(secret,
                         StringToSign(method, parsed->access_key, date_time, signed_resources));
  if (!HexEquals(expected, parsed->signature_hex)) {
    return Unauthenticated(absl::StrCat("the signature of access key '", parsed->access_key,
                                        "' does not match the request"));
  }
  const absl::Duration window =
      options_.replay_window + (v5 ? kLocalTimeSlack : absl::ZeroDuration());
  if (absl::AbsDuration(clock_->Now() - *signed_at) > window) {
    return Unauthenticated(absl::StrCat("the request of access key '", parsed->access_key,
                                        "' was signed at ", absl::FormatTime(*signed_at),
                                        ", outside the replay window of ",
                                        absl::FormatDuration(window), " around the server's time"));
  }
  if (!principal.cluster) {
    if (!options_.allowed_ips.empty() && !PeerAllowed(peer, options_.allowed_ips)) {
      return Denied(absl::StrCat("address ", PeerHost(peer),
                                 " is not in the broker's allowed IPs (--acl_allowed_ips)"));
    }
    const auto& user_ips = principal.user->allowed_ips();
    if (!user_ips.empty() &&
        !PeerAllowed(peer, std::vector<std::string>(user_ips.begin(), user_ips.end()))) {
      return Denied(
          absl::StrCat("access key '", parsed->access_key, "' may not call from ", PeerHost(peer)));
    }
  }
  return principal;
}

absl::Status Authorizer::Authorize(const Principal& principal, absl::string_view method,
                                   Access access, const std::vector<NeededResource>& needed) const {
  if (principal.cluster) return absl::OkStatus();
  const v1::User& user = *principal.user;
  switch (access) {
    case Access::kOpen:
    case Access::kAuthenticated:
      return absl::OkStatus();
    case Access::kCluster:
      return Denied(absl::StrCat(method,
                                 " is internal: only the cluster's own identity may call "
                                 "it, not access key '",
                                 user.access_key(), "'"));
    case Access::kAdmin:
      if (user.role() == v1::ADMIN) return absl::OkStatus();
      return Denied(absl::StrCat(method, " needs the admin role; access key '", user.access_key(),
                                 "' is an ordinary user"));
    case Access::kResources:
      return CheckResources(principal, needed);
  }
  return Denied("unknown access rule");
}

absl::Status Authorizer::CheckResources(const Principal& principal,
                                        const std::vector<NeededResource>& needed) const {
  if (!options_.enabled || principal.cluster || principal.user->role() == v1::ADMIN) {
    return absl::OkStatus();
  }
  const v1::User& user = *principal.user;
  const v1::Perm fallback = options_.default_deny ? v1::DENY : v1::PUB_SUB;
  for (const NeededResource& n : needed) {
    Resource resource = n.resource;
    Need need = n.need;
    absl::string_view name = resource.name;
    // A group's retry topic is the group's: consuming the group (SUB) covers
    // pulling and sending back to it (RocketMQ's rule).
    if (resource.type == Resource::Type::kTopic && absl::ConsumePrefix(&name, "%RETRY%")) {
      resource = {Resource::Type::kGroup, std::string(name)};
      need = Need::kSub;
    }
    const bool topic = resource.type == Resource::Type::kTopic;
    const auto& table = topic ? user.topic_perms() : user.group_perms();
    v1::Perm perm = v1::PERM_UNSET;
    if (auto it = table.find(resource.name); it != table.end()) perm = it->second;
    if (perm == v1::PERM_UNSET)
      perm = topic ? user.default_topic_perm() : user.default_group_perm();
    if (perm == v1::PERM_UNSET) perm = fallback;
    if (!Satisfies(perm, need)) {
      return Denied(absl::StrCat("access key '", user.access_key(), "' lacks ", NeedName(need),
                                 " on ", topic ? "topic '" : "group '", resource.name, "' (has ",
                                 v1::Perm_Name(perm), ")"));
    }
  }
  return absl::OkStatus();
}

grpc::Status Refusal(const Authorizer* authorizer, grpc::ServerContextBase* context,
                     const google::protobuf::Message& request) {
  if (authorizer == nullptr) return grpc::Status::OK;
  return ToGrpcStatus(authorizer->CheckCall(*context, request), context);
}

}  // namespace mq::acl
