#include "services/proxy/backend.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_options.h"
#include "common/rpc.h"
#include "common/status.h"

namespace mq::proxy {

Backend::Backend(BackendOptions options)
    : options_(std::move(options)),
      namesrv_addrs_(options_.namesrv_addrs),
      route_cache_(options_.route_cache,
                   [this](const std::string& topic) { return LookupRoute(topic); }) {}

void Backend::SetNameServerAddresses(std::vector<std::string> addresses) {
  absl::MutexLock lock(&mu_);
  namesrv_addrs_ = std::move(addresses);
}

std::shared_ptr<grpc::Channel> Backend::Channel(const std::string& address) const {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) {
    channel = CreateChannel(address, options_.tls, options_.credentials);
  }
  return channel;
}

std::shared_ptr<broker::v1::Broker::Stub> Backend::BrokerStub(const std::string& address) const {
  return broker::v1::Broker::NewStub(Channel(address));
}

void Backend::SetDeadline(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
}

std::vector<std::string> Backend::NameServers() const {
  absl::MutexLock lock(&mu_);
  return namesrv_addrs_;
}

absl::StatusOr<common::v1::TopicRouteData> Backend::Route(const std::string& topic) const {
  return route_cache_.Get(topic);
}

absl::Status Backend::Noted(const std::string& address, absl::Status status) const {
  if (status.code() == absl::StatusCode::kUnavailable) route_cache_.Forget(address);
  return status;
}

absl::StatusOr<common::v1::TopicRouteData> Backend::LookupRoute(const std::string& topic) const {
  std::vector<std::string> name_servers = NameServers();
  if (name_servers.empty()) return absl::UnavailableError("the proxy knows no name server yet");
  absl::Status last;
  for (const std::string& address : name_servers) {
    auto stub = namesrv::v1::NameServer::NewStub(Channel(address));
    namesrv::v1::GetRouteInfoByTopicRequest request;
    request.set_topic(topic);
    namesrv::v1::GetRouteInfoByTopicResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    absl::Status status =
        FromGrpcStatus(stub->GetRouteInfoByTopic(&context, request, &response), context);
    if (status.ok()) return std::move(*response.mutable_route());
    // A name server that does not know the topic is an answer; try the others
    // only when it could not answer.
    if (status.code() == absl::StatusCode::kNotFound) return status;
    last = PrefixStatus(absl::StrCat("name server ", address, ": "), status);
  }
  return last;
}

absl::StatusOr<broker::v1::SendMessageResponse> Backend::Send(
    const std::string& address, const broker::v1::SendMessageRequest& request) const {
  return CallBroker(address, &broker::v1::Broker::Stub::SendMessage, request);
}

absl::StatusOr<broker::v1::EndTransactionResponse> Backend::EndTransaction(
    const std::string& address, const broker::v1::EndTransactionRequest& request) const {
  return CallBroker(address, &broker::v1::Broker::Stub::EndTransaction, request);
}

absl::Status Backend::Heartbeat(const std::string& address,
                                const broker::v1::HeartbeatRequest& request) const {
  return CallBroker(address, &broker::v1::Broker::Stub::Heartbeat, request).status();
}

absl::Status Backend::Unregister(const std::string& address,
                                 const broker::v1::UnregisterClientRequest& request) const {
  return CallBroker(address, &broker::v1::Broker::Stub::UnregisterClient, request).status();
}

void Backend::Pop(const std::string& address, grpc::ClientContext* context,
                  const broker::v1::PopMessageRequest* request,
                  broker::v1::PopMessageResponse* response,
                  std::function<void(absl::Status)> done) const {
  BrokerStub(address)->async()->PopMessage(
      context, request, response,
      [this, address, context, done = std::move(done)](grpc::Status status) {
        done(Noted(address, FromGrpcStatus(status, *context)));
      });
}

absl::StatusOr<broker::v1::AckMessageResponse> Backend::Ack(
    const std::string& address, const broker::v1::AckMessageRequest& request) const {
  return CallBroker(address, &broker::v1::Broker::Stub::AckMessage, request);
}

absl::StatusOr<broker::v1::ChangeInvisibleTimeResponse> Backend::ChangeInvisibleTime(
    const std::string& address, const broker::v1::ChangeInvisibleTimeRequest& request) const {
  return CallBroker(address, &broker::v1::Broker::Stub::ChangeInvisibleTime, request);
}

absl::StatusOr<broker::v1::ForwardToDeadLetterResponse> Backend::ForwardToDeadLetter(
    const std::string& address, const broker::v1::ForwardToDeadLetterRequest& request) const {
  return CallBroker(address, &broker::v1::Broker::Stub::ForwardToDeadLetter, request);
}

absl::StatusOr<broker::v1::SubscriptionGroupConfig> Backend::SubscriptionGroup(
    const std::string& address, const std::string& group) const {
  absl::StatusOr<broker::v1::GetAllSubscriptionGroupsResponse> response =
      CallBroker(address, &broker::v1::Broker::Stub::GetAllSubscriptionGroups,
                 broker::v1::GetAllSubscriptionGroupsRequest());
  if (!response.ok()) return response.status();
  for (broker::v1::SubscriptionGroupConfig& config : *response->mutable_configs()) {
    if (config.group_name() == group) return std::move(config);
  }
  return absl::NotFoundError(absl::StrCat("broker ", address, " has no consumer group ", group));
}

absl::StatusOr<acl::v1::UserTable> Backend::ExportUsers() const {
  std::vector<std::string> name_servers = NameServers();
  if (name_servers.empty()) return absl::UnavailableError("the proxy knows no name server yet");
  absl::Status last = absl::UnavailableError("the name servers list no master broker");
  std::set<std::string> masters;
  for (const std::string& address : name_servers) {
    auto stub = namesrv::v1::NameServer::NewStub(Channel(address));
    namesrv::v1::GetClusterInfoResponse cluster;
    grpc::ClientContext context;
    SetDeadline(&context);
    absl::Status status = FromGrpcStatus(
        stub->GetClusterInfo(&context, namesrv::v1::GetClusterInfoRequest(), &cluster), context);
    if (!status.ok()) {
      last = PrefixStatus(absl::StrCat("name server ", address, ": "), status);
      continue;
    }
    for (const auto& [name, group] : cluster.broker_addr_table()) {
      auto master = group.broker_addrs().find(0);
      if (master != group.broker_addrs().end()) masters.insert(master->second);
    }
  }
  for (const std::string& address : masters) {
    auto stub = acl::v1::AclAdmin::NewStub(Channel(address));
    acl::v1::ExportUsersResponse response;
    grpc::ClientContext context;
    SetDeadline(&context);
    absl::Status status = FromGrpcStatus(
        stub->ExportUsers(&context, acl::v1::ExportUsersRequest(), &response), context);
    if (status.ok()) return std::move(*response.mutable_table());
    last = PrefixStatus(absl::StrCat("broker ", address, ": "), status);
  }
  return last;
}

}  // namespace mq::proxy
