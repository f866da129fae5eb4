#include "client/src/client_registry.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/src/broker_connections.h"
#include "client/src/local_address.h"
#include "common/validation.h"

namespace mq::client_internal {

absl::StatusOr<ClientOptions> ResolveClientOptions(ClientOptions options) {
  if (options.name_server_addresses.empty()) {
    if (const char* env = std::getenv("NAMESRV_ADDR"); env != nullptr) {
      options.name_server_addresses =
          absl::StrSplit(env, absl::ByAnyChar(";,"), absl::SkipWhitespace());
    }
  }
  if (options.name_server_addresses.empty()) {
    return absl::InvalidArgumentError(
        "no name server address: set ClientOptions::name_server_addresses or NAMESRV_ADDR");
  }
  for (const std::string& address : options.name_server_addresses) {
    if (absl::Status s = ValidateAddress("name server address", address); !s.ok()) return s;
  }
  if (options.instance_name.empty()) options.instance_name = std::to_string(getpid());
  if (options.client_ip.empty()) options.client_ip = LocalIpv4Address();
  if (options.poll_name_server_interval <= absl::ZeroDuration() ||
      options.heartbeat_broker_interval <= absl::ZeroDuration() ||
      options.api_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("client intervals and api_timeout must be positive");
  }
  if (absl::Status tls = ChannelTls(options.tls).Validate(); !tls.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("ClientOptions::tls: ", tls.message()));
  }
  return options;
}

std::string BuildClientId(const ClientOptions& resolved) {
  return absl::StrCat(resolved.client_ip, "@", resolved.instance_name);
}

ClientRegistry& ClientRegistry::Default() {
  static ClientRegistry* const registry = new ClientRegistry();
  return *registry;
}

absl::StatusOr<std::shared_ptr<ClientInstance>> ClientRegistry::Join(
    const ClientOptions& options, const std::function<absl::Status(ClientInstance&)>& join,
    const std::function<void(ClientInstance&)>& leave) {
  absl::StatusOr<ClientOptions> resolved = ResolveClientOptions(options);
  if (!resolved.ok()) return resolved.status();
  const std::string client_id = BuildClientId(*resolved);
  std::shared_ptr<ClientInstance> instance;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<ClientInstance>& slot = instances_[client_id];
    if (slot != nullptr && slot->state() != ServiceState::kCreateJust &&
        slot->state() != ServiceState::kRunning) {
      slot.reset();
    }
    if (slot == nullptr) {
      slot = std::make_shared<ClientInstance>(client_id, *resolved);
    } else if (slot->options().name_server_addresses != resolved->name_server_addresses) {
      return absl::FailedPreconditionError(absl::StrCat(
          "client instance ", client_id, " already runs with name servers ",
          absl::StrJoin(slot->options().name_server_addresses, ";"), ", not ",
          absl::StrJoin(resolved->name_server_addresses, ";"), "; set another instance_name"));
    } else if (slot->options().access_key != resolved->access_key ||
               slot->options().secret_key != resolved->secret_key) {
      return absl::FailedPreconditionError(
          absl::StrCat("client instance ", client_id,
                       " already runs with other access control credentials; set another "
                       "instance_name"));
    }
    if (absl::Status s = join(*slot); !s.ok()) {
      if (!slot->HasMembers()) instances_.erase(client_id);
      return s;
    }
    instance = slot;
  }
  if (absl::Status s = instance->Start(); !s.ok()) {
    Leave(instance, leave);
    return s;
  }
  return instance;
}

void ClientRegistry::Leave(const std::shared_ptr<ClientInstance>& instance,
                           const std::function<void(ClientInstance&)>& leave) {
  leave(*instance);
  {
    absl::MutexLock lock(&mu_);
    if (instance->HasMembers()) return;
    auto it = instances_.find(instance->client_id());
    if (it != instances_.end() && it->second == instance) instances_.erase(it);
  }
  instance->Shutdown();
}

absl::StatusOr<std::shared_ptr<ClientInstance>> ClientRegistry::RegisterProducer(
    const ClientOptions& options, const std::string& group, ProducerMember* producer) {
  return Join(
      options, [&](ClientInstance& instance) { return instance.RegisterProducer(group, producer); },
      [&](ClientInstance& instance) { instance.UnregisterProducer(group); });
}

void ClientRegistry::UnregisterProducer(const std::shared_ptr<ClientInstance>& instance,
                                        const std::string& group) {
  Leave(instance, [&](ClientInstance& i) { i.UnregisterProducer(group); });
}

absl::StatusOr<std::shared_ptr<ClientInstance>> ClientRegistry::RegisterConsumer(
    const ClientOptions& options, const std::string& group, ConsumerMember* consumer) {
  return Join(
      options, [&](ClientInstance& instance) { return instance.RegisterConsumer(group, consumer); },
      [&](ClientInstance& instance) { instance.UnregisterConsumer(group); });
}

void ClientRegistry::UnregisterConsumer(const std::shared_ptr<ClientInstance>& instance,
                                        const std::string& group) {
  Leave(instance, [&](ClientInstance& i) { i.UnregisterConsumer(group); });
}

}  // namespace mq::client_internal
