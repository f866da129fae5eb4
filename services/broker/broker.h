// A broker: the parts of the client-facing service (send pipeline with flow
// control, pulls with long polling, client tables, consumer offsets, topic
// administration, queries), its registration with the name servers, and the
// gRPC service over them. It keeps no files: every durable thing goes through
// its store (StoreApi), in-process in the standalone server or a RemoteStore
// client of a store process in the broker binary.
//
// Lifecycle: construct; register service() with a gRPC server; optionally
// SetAdvertisedAddress() once the port is known; Start(); ... Stop() (the
// graceful shutdown: sends stop, held pulls are answered, offsets persisted,
// name servers told); shut the gRPC server down; destroy the broker; then the
// store.
#ifndef MQ_SERVICES_BROKER_BROKER_H_
#define MQ_SERVICES_BROKER_BROKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/acl/authorizer.h"
#include "common/executor.h"
#include "common/metrics/registry.h"
#include "common/scheduler.h"
#include "common/tls.h"
#include "proto/store.pb.h"
#include "services/broker/acl_user_manager.h"
#include "services/broker/admin_processor.h"
#include "services/broker/broker_metrics.h"
#include "services/broker/broker_registrar.h"
#include "services/broker/broker_stats.h"
#include "services/broker/client_manager.h"
#include "services/broker/consumer_offset_manager.h"
#include "services/broker/consumer_send_back_processor.h"
#include "services/broker/dead_letter_processor.h"
#include "services/broker/grpc_acl_admin.h"
#include "services/broker/grpc_broker.h"
#include "services/broker/pop_service.h"
#include "services/broker/producer_channels.h"
#include "services/broker/pull_message_processor.h"
#include "services/broker/pull_request_hold_service.h"
#include "services/broker/query_message_processor.h"
#include "services/broker/rebalance_lock_manager.h"
#include "services/broker/send_hook.h"
#include "services/broker/send_message_processor.h"
#include "services/broker/subscription_group_manager.h"
#include "services/broker/topic_config_manager.h"
#include "services/broker/transaction_service.h"
#include "services/store/store_api.h"

namespace mq::broker {

inline constexpr absl::string_view kDefaultClusterName = "DefaultCluster";
inline constexpr int kDefaultBrokerPort = 10911;

// Defaults follow RocketMQ's BrokerConfig unless a comment says otherwise.
struct BrokerOptions {
  std::string cluster_name = std::string(kDefaultClusterName);
  // The broker group (a master and its slaves). Required.
  std::string broker_name;
  // 0 for a master; > 0 for a slave.
  int64_t broker_id = 0;
  store::v1::BrokerRole role = store::v1::ASYNC_MASTER;
  // "host:port" clients and name servers use to reach this broker. Required
  // by Start(); may be set later with Broker::SetAdvertisedAddress().
  std::string advertised_address;
  // "a.b.c.d:port" recorded as the store host of each message (and so in
  // offset message ids). Empty: the advertised address, its host resolved to
  // IPv4 if it is a name (127.0.0.1 if it does not resolve).
  std::string store_host;
  // "host:port" where slaves reach this broker's store for replication.
  std::string ha_server_addr;
  std::vector<std::string> namesrv_addrs;
  // How the name servers are dialed (plaintext by default).
  ClientTls namesrv_tls;
  // Clamped to 10-60 s at Start().
  absl::Duration register_interval = absl::Seconds(30);
  absl::Duration register_timeout = absl::Seconds(6);
  TopicConfigOptions topics;
  SubscriptionGroupOptions groups;
  int64_t max_message_size = format::kDefaultMaxMessageBodyBytes;
  // The send queue: RocketMQ's capacity (10000) and wait (200 ms); more
  // threads than RocketMQ's min(cpus, 4) because StoreApi::AppendBatch blocks
  // for a sync flush or slave ack where RocketMQ's put is asynchronous, so
  // concurrent sends (which the store group-commits) need threads.
  ExecutorOptions send_queue = {"send", 16, 10000, absl::Milliseconds(200), absl::Milliseconds(10)};
  // The pull queue (waitTimeMillsInPullQueue: 5 s). Threads: 16 + 2 * cpus
  // when <= 0.
  ExecutorOptions pull_queue = {"pull", 0, 100000, absl::Seconds(5), absl::Milliseconds(10)};
  // Store-bound admin and query calls.
  ExecutorOptions admin_queue = {"admin", 4, 10000, absl::Seconds(10), absl::Milliseconds(10)};
  ClientManagerOptions clients;
  absl::Duration flush_consumer_offset_interval = absl::Seconds(5);
  PullOptions pull;
  PullHoldOptions pull_hold;
  // POP consumption (broker_name and slave are set from the above).
  PopOptions pop;
  // How often a slave re-reads topics and offsets its store replicated from
  // the master (RocketMQ's SlaveSynchronize runs every 60 s; the store here
  // replicates continuously, so reading it is cheap).
  absl::Duration slave_sync_interval = absl::Seconds(10);
  // Transactional messages: half messages, EndTransaction, the check round.
  TransactionOptions transactions;
  // Where the broker's metrics go (BrokerMetrics, and the gauges of
  // CollectMetrics); null: none kept. Must outlive the broker, and not be
  // read after it is destroyed.
  metrics::Registry* metrics = nullptr;
  // Orderly consumption: a queue lock not renewed this long is free for
  // another member of the group (RocketMQ's rebalance.lockMaxLiveTime).
  absl::Duration rebalance_lock_max_live_time = absl::Seconds(60);
  // Access control (shared with the server's other services; must outlive
  // the broker): every call of the broker's services is checked by it, and
  // the broker hands it the users of its store's table, re-read every
  // acl_reload_interval (hot reload). Null: no checks.
  acl::Authorizer* authorizer = nullptr;
  absl::Duration acl_reload_interval = absl::Seconds(1);
  // The cluster identity the broker's own calls (to name servers) are signed
  // with; empty: unsigned.
  acl::Credentials cluster_credentials;
};

// INVALID_ARGUMENT naming the first bad option (advertised_address is only
// checked when set).
absl::Status ValidateBrokerOptions(const BrokerOptions& options);

// Thread-safe.
class Broker {
 public:
  // `store` must outlive the broker.
  Broker(store::StoreApi* store, BrokerOptions options);
  // Stops.
  ~Broker();

  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // The gRPC service; answers UNAVAILABLE until Start() and after Stop().
  grpc::Service* service() { return &service_; }
  // Access control's user management (mq.acl.v1.AclAdmin).
  grpc::Service* acl_service() { return acl_service_.get(); }

  // For a server that learns its port when it binds (--port=0). Before Start().
  void SetAdvertisedAddress(std::string address);
  // For a server hosting its own name server on a port it learns when it
  // binds. Before Start().
  void SetNameServerAddresses(std::vector<std::string> addresses);

  // Loads topics and offsets from the store, starts the queues and tasks,
  // registers with the name servers (waiting up to the register timeout;
  // failures are retried in the background), then serves. INVALID_ARGUMENT
  // for bad options; the store's error if loading fails. Call once.
  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Graceful shutdown, in order: refuse new calls (UNAVAILABLE); finish
  // running sends and fail queued ones; answer held pulls; stop the tasks;
  // persist consumer offsets; unregister from the name servers. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  const BrokerOptions& options() const { return options_; }
  TopicConfigManager* topics() { return &topics_; }
  SubscriptionGroupManager* groups() { return &groups_; }
  ConsumerOffsetManager* offsets() { return &offsets_; }
  ClientManager* clients() { return &clients_; }
  RebalanceLockManager* locks() { return &locks_; }
  BrokerSendHookRegistry* send_hooks() { return &hooks_; }
  BrokerStats* stats() { return &stats_; }
  // Null before Start().
  BrokerRegistrar* registrar() { return registrar_.get(); }
  // Null before Start() and on a slave.
  TransactionService* transactions() { return transactions_.get(); }

 private:
  void FillExtraStats(std::map<std::string, std::string>* extra);
  // The gauges read at each scrape: connections, long-poll waiters, consumer
  // lag (messages and age) per group, topic and queue.
  void CollectMetrics(metrics::Collection* out);
  void PersistOffsets();
  void SyncFromStore();

  store::StoreApi* const store_;
  BrokerOptions options_;

  // Null without options_.metrics.
  const std::unique_ptr<BrokerMetrics> metrics_;
  BrokerStats stats_;
  BrokerSendHookRegistry hooks_;
  TopicConfigManager topics_;
  SubscriptionGroupManager groups_;
  ConsumerOffsetManager offsets_;
  ClientManager clients_;
  RebalanceLockManager locks_;
  Executor send_executor_;
  Executor pull_executor_;
  Executor admin_executor_;
  QueryMessageProcessor queries_;
  std::unique_ptr<PullRequestHoldService> hold_;
  std::unique_ptr<PullMessageProcessor> pull_;
  // Created by Start(), when the addresses are final.
  std::unique_ptr<SendMessageProcessor> send_;
  std::unique_ptr<AdminProcessor> admin_;
  std::unique_ptr<ConsumerSendBackProcessor> send_back_;
  std::unique_ptr<DeadLetterProcessor> dead_letters_;
  // POP consumption (Start() creates it; the hold service passes it the
  // store's queue advances).
  std::unique_ptr<PopService> pop_;
  std::unique_ptr<BrokerRegistrar> registrar_;
  // Transactional messages, on a master only.
  std::unique_ptr<ProducerChannels> producer_channels_;
  std::unique_ptr<TransactionService> transactions_;
  std::vector<std::unique_ptr<Scheduler>> tasks_;
  BrokerService service_;
  AclUserManager acl_users_;
  std::unique_ptr<AclAdminService> acl_service_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_BROKER_H_
