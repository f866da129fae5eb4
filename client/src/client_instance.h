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
#include "client/src/broker_send_stream.h"
#include "client/src/scheduler.h"
#include "client/src/topic_publish_info.h"
#include "mq/client_options.h"
#include "proto/broker.grpc.pb.h"
#include "proto/common.pb.h"
#include "proto/namesrv.grpc.pb.h"

namespace mq {
namespace client_internal {

// How often sends on the send streams are checked against their deadlines
// (asynchronous sends may see their timeout this much late; a synchronous
// send waits exactly its own).
inline constexpr absl::Duration kSendDeadlineSweep = absl::Milliseconds(50);
// Send streams per broker: each carries one write and one read at a time, so
// more than one keeps the broker busy. Each has a connection of its own:
// streams sharing one HTTP/2 connection share its socket and its transport
// lock, and cost about twice the context switches per send on both ends
// (benchmarks/README.md, issue 9).
inline constexpr size_t kSendStreamsPerBroker = 4;
// Failed send streams kept before the ended ones are dropped on the spot.
inline constexpr size_t kFailedStreamsKept = 16;

// What the instance needs from a registered producer. Both calls may come from
// the scheduler thread or from any sending thread, with the instance's lock
// held, so they must not call back into the instance.
class ProducerMember {
 public:
  virtual ~ProducerMember() = default;
  // Topics whose routes the instance keeps fresh.
  virtual std::vector<std::string> TopicsInUse() const = 0;
  // A new route for `topic`; ignored if the producer does not use the topic.
  virtual void UpdateTopicPublishInfo(const std::string& topic,
                                      std::shared_ptr<const TopicPublishInfo> info) = 0;
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
      ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the group and tells every known broker (UnregisterClient).
  void UnregisterProducer(const std::string& group) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the group without telling the brokers.
  void RemoveProducer(const std::string& group) ABSL_LOCKS_EXCLUDED(mu_);
  // As for producers; consumer groups are a separate name space.
  absl::Status RegisterConsumer(const std::string& group, ConsumerMember* consumer)
      ABSL_LOCKS_EXCLUDED(mu_);
  void UnregisterConsumer(const std::string& group) ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveConsumer(const std::string& group) ABSL_LOCKS_EXCLUDED(mu_);
  // True while any producer or consumer is registered.
  bool HasMembers() const ABSL_LOCKS_EXCLUDED(mu_);

  // Asks the chosen name server for `topic`'s route; on a transport failure
  // moves to the next name server and asks again, once around the list. Each
  // call waits at most api_timeout, and none goes past `deadline` (a send's
  // budget covers its route lookup): DEADLINE_EXCEEDED once it has passed.
  absl::StatusOr<common::v1::TopicRouteData> QueryTopicRoute(
      const std::string& topic, absl::Time deadline = absl::InfiniteFuture())
      ABSL_LOCKS_EXCLUDED(mu_);

  // Fetches `topic`'s route and, if it changed, records it and its brokers and
  // tells the consumers; always hands the publish info to the producers using
  // the topic.
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
  void UpdateAllTopicRoutes() ABSL_LOCKS_EXCLUDED(mu_);

  absl::optional<common::v1::TopicRouteData> TopicRoute(const std::string& topic) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The master's address of broker group `broker_name`, if known.
  absl::optional<std::string> FindBrokerMasterAddress(const std::string& broker_name) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Broker id -> address of group `broker_name`, if known.
  absl::optional<std::map<int64_t, std::string>> FindBrokerAddresses(
      const std::string& broker_name) const ABSL_LOCKS_EXCLUDED(mu_);

  // Drops broker addresses no route refers to any more, with their channels
  // and send streams, and failed send streams whose call has ended.
  void CleanOfflineBrokers() ABSL_LOCKS_EXCLUDED(mu_);

  // Sends one heartbeat (client id, producer groups, consumer groups) in
  // parallel to every master, or to every broker when there are consumers,
  // and waits for the answers (at most options().api_timeout).
  void SendHeartbeatToAllBrokers() ABSL_LOCKS_EXCLUDED(mu_);

  // A stub on the cached long-lived channel to `address`.
  std::shared_ptr<broker::v1::Broker::Stub> BrokerStub(const std::string& address)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The send stream to `address` that every producer of this instance
  // shares, opened on first use and again after the previous one failed.
  // Sends on it that outlive their deadline are expired within
  // kSendDeadlineSweep.
  std::shared_ptr<BrokerSendStream> SendStream(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);
  // Failed send streams not dropped yet.
  size_t FailedSendStreams() const ABSL_LOCKS_EXCLUDED(mu_);

  // The name server in use.
  std::string CurrentNameServer() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void ApplyRoute(const std::string& topic, const common::v1::TopicRouteData& route)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<grpc::Channel> ChannelLocked(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<broker::v1::Broker::Stub> BrokerStubLocked(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops broker addresses no route refers to any more, with their channels,
  // stubs and send streams (the streams are handed back to be closed).
  void ForgetOfflineBrokersLocked(std::vector<std::shared_ptr<BrokerSendStream>>* retired_streams)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops failed send streams whose call has ended. Safe on any thread: the
  // instance still holds their channels.
  void DropEndedStreamsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Expires overdue sends on every send stream (the sweeper's task).
  void ExpireOverdueSends() ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<namesrv::v1::NameServer::Stub> NameServerStub(const std::string& address)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> MasterAddresses() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> AllBrokerAddresses() const ABSL_LOCKS_EXCLUDED(mu_);
  // UnregisterClient to every known broker; either group may be empty.
  void UnregisterFromBrokers(const std::string& producer_group, const std::string& consumer_group)
      ABSL_LOCKS_EXCLUDED(mu_);

  const std::string client_id_;
  const ClientOptions options_;
  Scheduler scheduler_;
  // Its own thread: the other tasks wait on the network for seconds.
  Scheduler send_deadline_sweeper_;

  mutable absl::Mutex mu_;
  ServiceState state_ ABSL_GUARDED_BY(mu_) = ServiceState::kCreateJust;
  std::map<std::string, ProducerMember*> producers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ConsumerMember*> consumers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, common::v1::TopicRouteData> route_table_ ABSL_GUARDED_BY(mu_);
  // broker name -> broker id -> address (id 0 is the master).
  std::map<std::string, std::map<int64_t, std::string>> broker_addr_table_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
  // Channels of forgotten brokers, kept until no call holds them: the last
  // reference to a channel must not be dropped on one of gRPC's callback
  // threads (grpc/grpc#37858), so it is dropped here, by CleanOfflineBrokers().
  std::vector<std::shared_ptr<grpc::Channel>> retired_channels_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<broker::v1::Broker::Stub>> broker_stubs_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<namesrv::v1::NameServer::Stub>> namesrv_stubs_
      ABSL_GUARDED_BY(mu_);
  // One send stream and the connection it runs on.
  struct SendStreamSlot {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<broker::v1::Broker::Stub> stub;
    // Null until first used.
    std::shared_ptr<BrokerSendStream> stream;
  };
  // kSendStreamsPerBroker slots per address, used in turn.
  absl::flat_hash_map<std::string, std::vector<SendStreamSlot>> send_streams_ ABSL_GUARDED_BY(mu_);
  size_t next_send_stream_ ABSL_GUARDED_BY(mu_) = 0;
  // Failed send streams, kept until their call has ended and then dropped by
  // SendStream() (past kFailedStreamsKept), CleanOfflineBrokers() or
  // Shutdown(), while the instance still holds their channels (see
  // BrokerSendStream::Open).
  std::vector<std::shared_ptr<BrokerSendStream>> failed_streams_ ABSL_GUARDED_BY(mu_);
  // Index into options_.name_server_addresses of the name server in use.
  size_t namesrv_index_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace client_internal
}  // namespace mq

#endif  // MQ_CLIENT_SRC_CLIENT_INSTANCE_H_
