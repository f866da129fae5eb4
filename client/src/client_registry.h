// The process-wide table of client instances, one per client id
// ("client_ip@instance_name"), as RocketMQ's MQClientManager.
#ifndef MQ_CLIENT_SRC_CLIENT_REGISTRY_H_
#define MQ_CLIENT_SRC_CLIENT_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/src/client_instance.h"
#include "mq/client_options.h"

namespace mq::client_internal {

// Fills the defaults of `options`: name servers from NAMESRV_ADDR, the
// instance name (the pid) and the client IP; validates what remains.
absl::StatusOr<ClientOptions> ResolveClientOptions(ClientOptions options);

// "client_ip@instance_name" of resolved options.
std::string BuildClientId(const ClientOptions& resolved);

// Thread-safe.
class ClientRegistry {
 public:
  static ClientRegistry& Default();

  // Finds or creates the instance for `options`' client id, registers the
  // producer with it and starts it (a no-op when it already runs).
  // FAILED_PRECONDITION when the group is taken in that instance, or when the
  // instance exists with other name servers.
  absl::StatusOr<std::shared_ptr<ClientInstance>> RegisterProducer(const ClientOptions& options,
                                                                   const std::string& group,
                                                                   ProducerMember* producer)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Unregisters the group (telling the brokers); when the instance has no
  // members left, removes and shuts it down.
  void UnregisterProducer(const std::shared_ptr<ClientInstance>& instance, const std::string& group)
      ABSL_LOCKS_EXCLUDED(mu_);

  // As for producers.
  absl::StatusOr<std::shared_ptr<ClientInstance>> RegisterConsumer(const ClientOptions& options,
                                                                   const std::string& group,
                                                                   ConsumerMember* consumer)
      ABSL_LOCKS_EXCLUDED(mu_);
  void UnregisterConsumer(const std::shared_ptr<ClientInstance>& instance, const std::string& group)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Finds or creates the instance, runs `join` on it under the registry lock,
  // then starts it; on a failed start runs `leave`.
  absl::StatusOr<std::shared_ptr<ClientInstance>> Join(
      const ClientOptions& options, const std::function<absl::Status(ClientInstance&)>& join,
      const std::function<void(ClientInstance&)>& leave) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `leave` (which tells the brokers), then drops and shuts down the
  // instance once it has no members.
  void Leave(const std::shared_ptr<ClientInstance>& instance,
             const std::function<void(ClientInstance&)>& leave) ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<ClientInstance>> instances_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_CLIENT_REGISTRY_H_
