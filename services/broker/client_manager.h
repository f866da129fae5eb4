// The broker's tables of live producers and consumers, fed by heartbeats
// (every 30 s from each client instance). A client not heard from within the
// expiry (RocketMQ: 120 s) is dropped by ScanExpired(), which the broker runs
// every 10 s; reads ignore expired entries even before the scan.
#ifndef MQ_SERVICES_BROKER_CLIENT_MANAGER_H_
#define MQ_SERVICES_BROKER_CLIENT_MANAGER_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "common/clock.h"
#include "proto/broker.pb.h"

namespace mq::broker {

struct ClientManagerOptions {
  // A client silent this long is dropped (CHANNEL_EXPIRED_TIMEOUT).
  absl::Duration client_expiry = absl::Seconds(120);
  // How often the broker calls ScanExpired().
  absl::Duration scan_interval = absl::Seconds(10);
};

// Thread-safe.
class ClientManager {
 public:
  explicit ClientManager(ClientManagerOptions options, const Clock* clock = Clock::Real());

  ClientManager(const ClientManager&) = delete;
  ClientManager& operator=(const ClientManager&) = delete;

  // Adds or refreshes the client in every group it names; a consumer's
  // subscriptions replace the ones it sent before. INVALID_ARGUMENT (nothing
  // changes) for an empty client id or a bad group name.
  absl::Status Heartbeat(const broker::v1::HeartbeatRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // Removes the client from the named groups (an empty name is skipped).
  // INVALID_ARGUMENT for an empty client id.
  absl::Status Unregister(absl::string_view client_id, absl::string_view producer_group,
                          absl::string_view consumer_group) ABSL_LOCKS_EXCLUDED(mu_);

  // Sorted client ids of the group's live consumers (empty for an unknown group).
  std::vector<std::string> GetConsumerList(absl::string_view group) const ABSL_LOCKS_EXCLUDED(mu_);

  // Sorted client ids of the group's live producers.
  std::vector<std::string> GetProducerList(absl::string_view group) const ABSL_LOCKS_EXCLUDED(mu_);

  // The group's live producers by client id, with the language and version
  // of their last heartbeat.
  std::vector<broker::v1::ProducerConnection> GetProducerConnections(absl::string_view group) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The subscription a live consumer of `group` last announced for `topic`.
  absl::optional<broker::v1::SubscriptionData> FindSubscription(absl::string_view group,
                                                                absl::string_view topic) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Called with (group, client id) when a consumer leaves a group: it
  // unregistered or ScanExpired() dropped it. Called without the manager's
  // lock held. Set before the manager is used.
  void SetConsumerGoneListener(
      std::function<void(const std::string& group, const std::string& client_id)> listener);

  // Drops expired clients (and groups left empty); returns how many entries
  // (client in a group) were dropped.
  int ScanExpired() ABSL_LOCKS_EXCLUDED(mu_);

  // Live entries (client in a group), for monitoring.
  // Consumer groups with live members -> how many.
  std::map<std::string, int> ConsumerGroupSizes() const ABSL_LOCKS_EXCLUDED(mu_);

  int producer_count() const ABSL_LOCKS_EXCLUDED(mu_);
  int consumer_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Producer {
    absl::Time last_heartbeat;
    std::string language;
    std::string version;
  };

  struct ConsumerGroup {
    // client id -> last heartbeat.
    std::map<std::string, absl::Time, std::less<>> clients;
    // The latest heartbeat's view of the group.
    broker::v1::ConsumerData data;
  };

  bool Live(absl::Time last_heartbeat, absl::Time now) const;

  const ClientManagerOptions options_;
  const Clock* const clock_;
  std::function<void(const std::string&, const std::string&)> consumer_gone_;

  mutable absl::Mutex mu_;
  // group -> client id -> its last heartbeat.
  std::map<std::string, std::map<std::string, Producer, std::less<>>, std::less<>> producers_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, ConsumerGroup, std::less<>> consumers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_CLIENT_MANAGER_H_
