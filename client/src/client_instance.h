// The per-process client shared by producers (and consumers) with the same
// client id: gRPC channels, the route table, name-server choice, and the
// scheduled route refresh and heartbeats (RocketMQ's MQClientInstance).
#ifndef MQ_CLIENT_SRC_CLIENT_INSTANCE_H_
#define MQ_CLIENT_SRC_CLIENT_INSTANCE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "client/src/broker_connections.h"
#include "client/src/route_table.h"
#include "common/scheduler.h"
#include "mq/client_options.h"
#include "proto/broker.grpc.pb.h"
#include "proto/common.pb.h"

namespace mq::client_internal {

// How often sends on the send streams are checked against their deadlines
// (asynchronous sends may see their timeout this much late; a synchronous
// send waits exactly its own).
inline constexpr absl::Duration kSendDeadlineSweep = absl::Milliseconds(50);

// What the instance needs from a registered producer. Calls come from the
// scheduler thread or from any thread that refreshes a route, while the
// membership is read-locked: they must not register or remove members.
// Members read routes from the instance's RouteTable; nothing is pushed.
class ProducerMember {
 public:
  virtual ~ProducerMember() = default;
  // Topics whose routes the instance keeps fresh.
  virtual std::vector<std::string> TopicsInUse() const = 0;
};

// What the instance needs from a registered consumer; called as for
// ProducerMember.
class ConsumerMember {
 public:
  virtual ~ConsumerMember() = default;
  virtual std::vector<std::string> TopicsInUse() const = 0;
  // The group's entry in heartbeats.
  virtual broker::v1::ConsumerData HeartbeatData() const = 0;
  // The route of `topic` changed (or was fetched for the first time); a push
  // consumer rebalances the topic if it subscribes to it.
  virtual void OnTopicRouteChanged(const std::string& topic) {}
};

// Membership (producer and consumer groups), the name-server choice and the
// scheduled tasks; the routes and the connections are objects of their own
// that members use directly.
//
// Thread-safe. Must not be destroyed on a gRPC callback thread (it owns the
// channels); members keep it alive until their in-flight calls are done.
class ClientInstance {
 public:
  // `options` must name at least one name server (see ClientRegistry).
  ClientInstance(std::string client_id, ClientOptions options);
  // Shuts down.
  ~ClientInstance();

  ClientInstance(const ClientInstance&) = delete;
  ClientInstance& operator=(const ClientInstance&) = delete;

  const std::string& client_id() const { return client_id_; }
  const ClientOptions& options() const { return options_; }

  // CREATE_JUST -> RUNNING: starts the scheduled tasks. OK when already
  // running (the instance is shared); FAILED_PRECONDITION after a failed
  // start or a shutdown.
  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the scheduled tasks and closes the send streams (sends still
  // pending get up to options().api_timeout for their answers);
  // SHUTDOWN_ALREADY. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  ServiceState state() const ABSL_LOCKS_EXCLUDED(mu_);

  // FAILED_PRECONDITION if `group` is already registered. `producer` must stay
  // valid until UnregisterProducer(group).
  absl::Status RegisterProducer(const std::string& group, ProducerMember* producer)
      ABSL_LOCKS_EXCLUDED(members_mu_);
  // Forgets the group and tells every known broker (UnregisterClient).
  void UnregisterProducer(const std::string& group) ABSL_LOCKS_EXCLUDED(members_mu_);
  // Forgets the group without telling the brokers.
  void RemoveProducer(const std::string& group) ABSL_LOCKS_EXCLUDED(members_mu_);
  // As for producers; consumer groups are a separate name space.
  absl::Status RegisterConsumer(const std::string& group, ConsumerMember* consumer)
      ABSL_LOCKS_EXCLUDED(members_mu_);
  void UnregisterConsumer(const std::string& group) ABSL_LOCKS_EXCLUDED(members_mu_);
  void RemoveConsumer(const std::string& group) ABSL_LOCKS_EXCLUDED(members_mu_);
  // True while any producer or consumer is registered.
  bool HasMembers() const ABSL_LOCKS_EXCLUDED(members_mu_);

  // Asks the chosen name server for `topic`'s route; on a transport failure
  // moves to the next name server and asks again, once around the list. Each
  // call waits at most api_timeout, and none goes past `deadline` (a send's
  // budget covers its route lookup): DEADLINE_EXCEEDED once it has passed.
  absl::StatusOr<common::v1::TopicRouteData> QueryTopicRoute(
      const std::string& topic, absl::Time deadline = absl::InfiniteFuture())
      ABSL_LOCKS_EXCLUDED(mu_);

  // Fetches `topic`'s route and, if it changed, records it in routes() and
  // tells the consumers.
  absl::Status UpdateTopicRouteFromNameServer(const std::string& topic,
                                              absl::Time deadline = absl::InfiniteFuture())
      ABSL_LOCKS_EXCLUDED(mu_);

  // For a topic the name servers do not know: takes `default_topic`'s route,
  // with every queue count cut to min(`queue_nums`, the route's read queue
  // count), as `topic`'s route, so the first send lets a broker create it.
  absl::Status UpdateTopicRouteFromDefault(const std::string& topic,
                                           const std::string& default_topic, int32_t queue_nums,
                                           absl::Time deadline = absl::InfiniteFuture())
      ABSL_LOCKS_EXCLUDED(mu_);

  // Refreshes the route of every topic a member uses (the scheduled task).
  void UpdateAllTopicRoutes() ABSL_LOCKS_EXCLUDED(members_mu_);

  // Drops broker addresses no route refers to any more, with their channels
  // and send streams, and failed send streams whose call has ended.
  void CleanOfflineBrokers();

  // Sends one heartbeat (client id, producer groups, consumer groups) in
  // parallel to every master, or to every broker when there are consumers,
  // and waits for the answers (at most options().api_timeout).
  void SendHeartbeatToAllBrokers() ABSL_LOCKS_EXCLUDED(members_mu_);

  // The name server in use.
  std::string CurrentNameServer() const ABSL_LOCKS_EXCLUDED(mu_);

  RouteTable& routes() { return routes_; }
  BrokerConnections& connections() { return connections_; }

 private:
  // Records `route` as `topic`'s and, if it changed, tells the consumers.
  void ApplyRoute(const std::string& topic, const common::v1::TopicRouteData& route)
      ABSL_LOCKS_EXCLUDED(members_mu_);
  // UnregisterClient to every known broker; either group may be empty.
  void UnregisterFromBrokers(const std::string& producer_group, const std::string& consumer_group);

  const std::string client_id_;
  const ClientOptions options_;
  RouteTable routes_;
  BrokerConnections connections_;
  Scheduler scheduler_;
  // Its own thread: the other tasks wait on the network for seconds.
  Scheduler send_deadline_sweeper_;

  mutable absl::Mutex mu_;
  ServiceState state_ ABSL_GUARDED_BY(mu_) = ServiceState::kCreateJust;
  // Index into options_.name_server_addresses of the name server in use.
  size_t namesrv_index_ ABSL_GUARDED_BY(mu_) = 0;

  // Calls into members hold it for reading, so a member is not removed (and
  // destroyed) during a call; no other lock of the instance is held then.
  mutable absl::Mutex members_mu_;
  std::map<std::string, ProducerMember*> producers_ ABSL_GUARDED_BY(members_mu_);
  std::map<std::string, ConsumerMember*> consumers_ ABSL_GUARDED_BY(members_mu_);
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_CLIENT_INSTANCE_H_
