// The proxy's one backend: our own gRPC API. Routes come from the name servers
// (mq.namesrv.v1), sends, transaction ends, heartbeats, check-back streams and
// POP consumption go to the brokers (mq.broker.v1). The deployment differs only in the
// channels: a separate proxy process dials every address over the network
// (cluster mode); a proxy inside a broker or the standalone server reaches its
// own process through an in-process channel (local mode).
#ifndef MQ_SERVICES_PROXY_BACKEND_H_
#define MQ_SERVICES_PROXY_BACKEND_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/acl/signature.h"
#include "common/rpc.h"
#include "common/tls.h"
#include "proto/acl.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "proto/namesrv.grpc.pb.h"
#include "services/proxy/route_cache.h"

namespace mq::proxy {

struct BackendOptions {
  // "host:port" of the name servers, tried in turn.
  std::vector<std::string> namesrv_addrs;
  // How name servers and brokers are dialled (CreateChannel): as the
  // process's other peers (--peer_tls), or, in the standalone server with a
  // TLS-only port, as the server dials itself.
  ClientTls tls;
  // Access control: the identity the calls are signed with (the cluster's,
  // for a front that checks its clients itself: MessagingServiceOptions::
  // authorizer); empty: unsigned.
  acl::Credentials credentials;
  // Deadline of each call to a name server or broker.
  absl::Duration call_timeout = absl::Seconds(3);
  // How long routes are cached (Route()).
  RouteCacheOptions route_cache;
};

// Thread-safe.
class Backend {
 public:
  explicit Backend(BackendOptions options);

  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // Replaces BackendOptions::namesrv_addrs (for a server that learns its own
  // address when it binds).
  void SetNameServerAddresses(std::vector<std::string> addresses) ABSL_LOCKS_EXCLUDED(mu_);

  // The topic's route from the first name server that answers; NOT_FOUND
  // (TOPIC_NOT_EXIST) when they do not know the topic. Cached (RouteCache,
  // BackendOptions::route_cache); a broker call below that finds the broker
  // unreachable (UNAVAILABLE) drops the cached routes naming it.
  absl::StatusOr<common::v1::TopicRouteData> Route(const std::string& topic) const;

  absl::StatusOr<broker::v1::SendMessageResponse> Send(
      const std::string& address, const broker::v1::SendMessageRequest& request) const;
  absl::StatusOr<broker::v1::EndTransactionResponse> EndTransaction(
      const std::string& address, const broker::v1::EndTransactionRequest& request) const;
  absl::Status Heartbeat(const std::string& address,
                         const broker::v1::HeartbeatRequest& request) const;
  absl::Status Unregister(const std::string& address,
                          const broker::v1::UnregisterClientRequest& request) const;

  // POP consumption (mq.broker.v1 PopMessage ...). The pop is asynchronous
  // (it long-polls): `done` runs on a gRPC thread once the broker answered or
  // `context` (the caller's, with its deadline; it may cancel) ended the call;
  // `request`, `response` and `context` must outlive it.
  void Pop(const std::string& address, grpc::ClientContext* context,
           const broker::v1::PopMessageRequest* request, broker::v1::PopMessageResponse* response,
           std::function<void(absl::Status)> done) const;
  absl::StatusOr<broker::v1::AckMessageResponse> Ack(
      const std::string& address, const broker::v1::AckMessageRequest& request) const;
  absl::StatusOr<broker::v1::ChangeInvisibleTimeResponse> ChangeInvisibleTime(
      const std::string& address, const broker::v1::ChangeInvisibleTimeRequest& request) const;
  absl::StatusOr<broker::v1::ForwardToDeadLetterResponse> ForwardToDeadLetter(
      const std::string& address, const broker::v1::ForwardToDeadLetterRequest& request) const;
  // The broker's config of consumer `group`; NOT_FOUND when it has none.
  absl::StatusOr<broker::v1::SubscriptionGroupConfig> SubscriptionGroup(
      const std::string& address, const std::string& group) const;
  // The access-control users of the cluster (AclAdmin.ExportUsers), from the
  // first master broker the name servers list that answers; the calls must be
  // signed as the cluster identity (BackendOptions::credentials).
  absl::StatusOr<acl::v1::UserTable> ExportUsers() const;

  // The broker stub for a streaming call the caller drives itself.
  std::shared_ptr<broker::v1::Broker::Stub> BrokerStub(const std::string& address) const;

 private:
  std::shared_ptr<grpc::Channel> Channel(const std::string& address) const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> NameServers() const ABSL_LOCKS_EXCLUDED(mu_);
  // Route() uncached.
  absl::StatusOr<common::v1::TopicRouteData> LookupRoute(const std::string& topic) const;
  // `status` of a call to broker `address`; UNAVAILABLE drops the cached
  // routes naming it.
  absl::Status Noted(const std::string& address, absl::Status status) const;
  void SetDeadline(grpc::ClientContext* context) const;
  // The blocking unary `method` of broker `address` (CallUnary with the call
  // timeout), its status Noted.
  template <typename Request, typename Response>
  absl::StatusOr<Response> CallBroker(const std::string& address,
                                      grpc::Status (broker::v1::Broker::Stub::*method)(
                                          grpc::ClientContext*, const Request&, Response*),
                                      const Request& request) const {
    std::shared_ptr<broker::v1::Broker::Stub> stub = BrokerStub(address);
    absl::StatusOr<Response> response = CallUnary(*stub, method, request, options_.call_timeout);
    if (!response.ok()) return Noted(address, response.status());
    return response;
  }

  const BackendOptions options_;
  mutable absl::Mutex mu_;
  std::vector<std::string> namesrv_addrs_ ABSL_GUARDED_BY(mu_);
  mutable std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
  // Thread-safe itself.
  mutable RouteCache route_cache_;
};

}  // namespace mq::proxy

#endif  // MQ_SERVICES_PROXY_BACKEND_H_
