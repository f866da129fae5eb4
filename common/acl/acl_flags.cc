#include "common/acl/acl_flags.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(bool, acl_enable, false,
          "Access control: every call must be signed by a known user (or the cluster identity) "
          "holding the permission it needs.");
ABSL_FLAG(std::string, acl_cluster_secret_file, "",
          "File holding the cluster secret: the servers of one cluster sign their calls to each "
          "other with it, and only it opens the internal methods (store, replication, "
          "registration).");
ABSL_FLAG(absl::Duration, acl_replay_window, absl::Minutes(5),
          "How far a signed request's time may be from the server's clock.");
ABSL_FLAG(bool, acl_default_deny, true,
          "With access control on, a topic or group a user's permissions and defaults do not "
          "name is denied (false: PUB|SUB).");
ABSL_FLAG(std::string, acl_allowed_ips, "",
          "Comma-separated addresses or CIDR blocks every user must call from; empty: any.");

namespace mq::acl {
namespace {

absl::StatusOr<std::string> ClusterSecret() {
  const std::string path = absl::GetFlag(FLAGS_acl_cluster_secret_file);
  if (path.empty()) return std::string();
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  std::string secret(absl::StripAsciiWhitespace(contents.str()));
  if (!in || secret.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("--acl_cluster_secret_file=", path, ": cannot read a secret from it"));
  }
  return secret;
}

}  // namespace

absl::StatusOr<AclOptions> AclOptionsFromFlags() {
  AclOptions options;
  options.enabled = absl::GetFlag(FLAGS_acl_enable);
  absl::StatusOr<std::string> secret = ClusterSecret();
  if (!secret.ok()) return secret.status();
  options.cluster_secret = *std::move(secret);
  options.replay_window = absl::GetFlag(FLAGS_acl_replay_window);
  options.default_deny = absl::GetFlag(FLAGS_acl_default_deny);
  options.allowed_ips =
      absl::StrSplit(absl::GetFlag(FLAGS_acl_allowed_ips), ',', absl::SkipWhitespace());
  if (absl::Status valid = ValidateAllowedIps(options.allowed_ips); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--acl_allowed_ips: ", valid.message()));
  }
  return options;
}

absl::StatusOr<Credentials> ClusterCredentialsFromFlags() {
  absl::StatusOr<std::string> secret = ClusterSecret();
  if (!secret.ok()) return secret.status();
  if (secret->empty()) return Credentials{};
  return Credentials{std::string(kClusterAccessKey), *std::move(secret)};
}

absl::StatusOr<ServerAcl> ServerAclFromFlags(bool generate_secret) {
  absl::StatusOr<AclOptions> options = AclOptionsFromFlags();
  if (!options.ok()) return options.status();
  if (options->cluster_secret.empty() && options->enabled) {
    if (!generate_secret) {
      return absl::FailedPreconditionError(
          "--acl_enable needs --acl_cluster_secret_file: the servers of the cluster sign their "
          "calls to each other with the cluster secret");
    }
    options->cluster_secret = RandomSecret();
  }
  ServerAcl acl;
  if (!options->cluster_secret.empty()) {
    acl.cluster = Credentials{std::string(kClusterAccessKey), options->cluster_secret};
  }
  acl.authorizer = std::make_unique<Authorizer>(*std::move(options), Clock::Real());
  return acl;
}

}  // namespace mq::acl
