// Registration of the broker with every configured name server (RocketMQ's
// registerBrokerAll): at start, every register interval (30 s, clamped to
// 10-60 s), and at once when the topic table changes; all name servers are
// called in parallel, each with its own deadline. A failure is logged and
// retried next time. A slave learns its master's addresses from the answers.
// On graceful shutdown the broker unregisters.
#ifndef MQ_SERVICES_BROKER_BROKER_REGISTRAR_H_
#define MQ_SERVICES_BROKER_BROKER_REGISTRAR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/acl/signature.h"
#include "common/scheduler.h"
#include "common/tls.h"
#include "proto/namesrv.grpc.pb.h"
#include "services/broker/topic_config_manager.h"

namespace mq::broker {

inline constexpr absl::Duration kMinRegisterInterval = absl::Seconds(10);
inline constexpr absl::Duration kMaxRegisterInterval = absl::Seconds(60);

// RocketMQ's period: max(10 s, min(interval, 60 s)).
absl::Duration ClampRegisterInterval(absl::Duration interval);

// "host:port;host:port" (spaces and empty parts ignored).
std::vector<std::string> ParseNameServerList(absl::string_view list);

struct BrokerRegistrarOptions {
  std::vector<std::string> namesrv_addrs;
  // How they are dialed.
  ClientTls namesrv_tls;
  std::string cluster_name;
  std::string broker_name;
  int64_t broker_id = 0;
  // Where clients reach this broker.
  std::string broker_addr;
  // Where slaves reach this broker's store for replication.
  std::string ha_server_addr;
  // Used as given; see ClampRegisterInterval.
  absl::Duration register_interval = absl::Seconds(30);
  // Deadline of each call (RocketMQ registerBrokerTimeoutMills: 6 s).
  absl::Duration rpc_timeout = absl::Seconds(6);
  // The cluster identity the registrations are signed with (empty: none).
  acl::Credentials credentials;
};

// Thread-safe.
class BrokerRegistrar {
 public:
  using TopicSnapshot = std::function<TopicConfigManager::Snapshot()>;

  // `topics` gives the table to register; it is called on the registrar's
  // thread and in RegisterAll().
  BrokerRegistrar(BrokerRegistrarOptions options, TopicSnapshot topics);
  // Stops.
  ~BrokerRegistrar();

  BrokerRegistrar(const BrokerRegistrar&) = delete;
  BrokerRegistrar& operator=(const BrokerRegistrar&) = delete;

  // Registers once (waiting for the answers), then every interval on a
  // background thread.
  void Start();
  // Ends the periodic registration; does not unregister.
  void Stop();
  // Asks for a registration as soon as possible, without waiting for it.
  void TriggerNow();

  // One round: registers with every name server in parallel. OK when every
  // one answered OK; otherwise the first failure (all are logged).
  absl::Status RegisterAll() ABSL_LOCKS_EXCLUDED(mu_);
  // Unregisters from every name server in parallel; same result rule.
  absl::Status UnregisterAll();

  // What the latest successful registration answered (for a slave: its
  // master's addresses; empty for a master or while no master is live).
  std::string master_addr() const ABSL_LOCKS_EXCLUDED(mu_);
  std::string ha_master_addr() const ABSL_LOCKS_EXCLUDED(mu_);
  // Registrations that succeeded, counted per name server call.
  int64_t successful_registrations() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const BrokerRegistrarOptions options_;
  const TopicSnapshot topics_;
  std::vector<std::unique_ptr<namesrv::v1::NameServer::Stub>> stubs_;
  Scheduler scheduler_;

  mutable absl::Mutex mu_;
  std::string master_addr_ ABSL_GUARDED_BY(mu_);
  std::string ha_master_addr_ ABSL_GUARDED_BY(mu_);
  int64_t successes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_BROKER_REGISTRAR_H_
