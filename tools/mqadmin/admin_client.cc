#include "tools/mqadmin/admin_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_join.h"
#include "common/grpc_options.h"

namespace mq {
namespace tools {

AdminClient::AdminClient(std::vector<std::string> name_servers, absl::Duration timeout,
                         ClientTls tls, acl::Credentials credentials)
    : name_servers_(std::move(name_servers)),
      timeout_(timeout),
      tls_(std::move(tls)),
      credentials_(std::move(credentials)) {}

std::unique_ptr<grpc::ClientContext> AdminClient::Context() const {
  auto context = std::make_unique<grpc::ClientContext>();
  SetDeadline(context.get(), timeout_);
  return context;
}

std::shared_ptr<grpc::Channel> AdminClient::Channel(const std::string& address) {
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) channel = CreateChannel(address, tls_, credentials_);
  return channel;
}

broker::v1::Broker::Stub& AdminClient::Broker(const std::string& address) {
  std::unique_ptr<broker::v1::Broker::Stub>& stub = brokers_[address];
  if (stub == nullptr) stub = broker::v1::Broker::NewStub(Channel(address));
  return *stub;
}

acl::v1::AclAdmin::Stub& AdminClient::Acl(const std::string& address) {
  std::unique_ptr<acl::v1::AclAdmin::Stub>& stub = acl_stubs_[address];
  if (stub == nullptr) stub = acl::v1::AclAdmin::NewStub(Channel(address));
  return *stub;
}

absl::Status AdminClient::OnNameServer(
    const std::function<grpc::Status(namesrv::v1::NameServer::Stub&, grpc::ClientContext&)>& call) {
  if (name_servers_.empty()) {
    return absl::InvalidArgumentError("no name server: pass -n HOST:PORT or set NAMESRV_ADDR");
  }
  absl::Status last;
  for (const std::string& address : name_servers_) {
    std::unique_ptr<namesrv::v1::NameServer::Stub>& stub = name_server_stubs_[address];
    if (stub == nullptr) stub = namesrv::v1::NameServer::NewStub(Channel(address));
    std::unique_ptr<grpc::ClientContext> context = Context();
    absl::Status status = WithTlsHint(FromGrpcStatus(call(*stub, *context), *context), tls_);
    // A name server's answer is final; a transport failure moves on.
    if (status.code() != absl::StatusCode::kUnavailable &&
        status.code() != absl::StatusCode::kDeadlineExceeded) {
      return status;
    }
    last =
        absl::Status(status.code(), absl::StrCat("name server ", address, ": ", status.message()));
  }
  return last;
}

absl::StatusOr<common::v1::TopicRouteData> AdminClient::GetRoute(const std::string& topic) {
  namesrv::v1::GetRouteInfoByTopicRequest request;
  request.set_topic(topic);
  namesrv::v1::GetRouteInfoByTopicResponse response;
  absl::Status status =
      OnNameServer([&](namesrv::v1::NameServer::Stub& stub, grpc::ClientContext& context) {
        return stub.GetRouteInfoByTopic(&context, request, &response);
      });
  if (!status.ok()) return status;
  return response.route();
}

absl::StatusOr<namesrv::v1::GetClusterInfoResponse> AdminClient::GetClusterInfo() {
  namesrv::v1::GetClusterInfoResponse response;
  absl::Status status =
      OnNameServer([&](namesrv::v1::NameServer::Stub& stub, grpc::ClientContext& context) {
        return stub.GetClusterInfo(&context, namesrv::v1::GetClusterInfoRequest(), &response);
      });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<std::vector<std::string>> AdminClient::GetAllTopics() {
  namesrv::v1::GetAllTopicsResponse response;
  absl::Status status =
      OnNameServer([&](namesrv::v1::NameServer::Stub& stub, grpc::ClientContext& context) {
        return stub.GetAllTopics(&context, namesrv::v1::GetAllTopicsRequest(), &response);
      });
  if (!status.ok()) return status;
  return std::vector<std::string>(response.topics().begin(), response.topics().end());
}

absl::Status AdminClient::DeleteTopicInNameServers(const std::string& topic,
                                                   const std::string& cluster) {
  if (name_servers_.empty()) {
    return absl::InvalidArgumentError("no name server: pass -n HOST:PORT or set NAMESRV_ADDR");
  }
  namesrv::v1::DeleteTopicRequest request;
  request.set_topic(topic);
  request.set_cluster_name(cluster);
  absl::Status first;
  for (const std::string& address : name_servers_) {
    std::unique_ptr<namesrv::v1::NameServer::Stub>& stub = name_server_stubs_[address];
    if (stub == nullptr) stub = namesrv::v1::NameServer::NewStub(Channel(address));
    std::unique_ptr<grpc::ClientContext> context = Context();
    namesrv::v1::DeleteTopicResponse response;
    absl::Status status =
        FromGrpcStatus(stub->DeleteTopic(context.get(), request, &response), *context);
    if (!status.ok() && first.ok()) {
      first = absl::Status(status.code(),
                           absl::StrCat("name server ", address, ": ", status.message()));
    }
  }
  return first;
}

absl::StatusOr<std::vector<std::string>> AdminClient::MasterAddresses(const std::string& cluster) {
  absl::StatusOr<std::map<std::string, std::string>> masters = MastersByName(cluster);
  if (!masters.ok()) return masters.status();
  std::vector<std::string> addresses;
  for (const auto& [name, address] : *masters) addresses.push_back(address);
  return addresses;
}

absl::StatusOr<std::map<std::string, std::string>> AdminClient::MastersByName(
    const std::string& cluster) {
  absl::StatusOr<namesrv::v1::GetClusterInfoResponse> info = GetClusterInfo();
  if (!info.ok()) return info.status();
  std::vector<std::string> names;
  if (cluster.empty()) {
    for (const auto& [name, data] : info->broker_addr_table()) names.push_back(name);
  } else {
    auto it = info->cluster_addr_table().find(cluster);
    if (it == info->cluster_addr_table().end()) {
      return absl::NotFoundError(
          absl::StrCat("cluster ", cluster, " is unknown to the name server"));
    }
    names.assign(it->second.broker_names().begin(), it->second.broker_names().end());
  }
  std::map<std::string, std::string> addresses;
  for (const std::string& name : names) {
    auto data = info->broker_addr_table().find(name);
    if (data == info->broker_addr_table().end()) continue;
    auto master = data->second.broker_addrs().find(0);
    if (master != data->second.broker_addrs().end()) addresses[name] = master->second;
  }
  if (addresses.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no live master in ", cluster.empty() ? std::string("any cluster") : "cluster " + cluster));
  }
  return addresses;
}

std::map<std::string, std::string> AdminClient::RouteMasters(
    const common::v1::TopicRouteData& route) {
  std::map<std::string, std::string> masters;
  for (const common::v1::BrokerData& bd : route.broker_datas()) {
    auto master = bd.broker_addrs().find(0);
    if (master != bd.broker_addrs().end()) masters[bd.broker_name()] = master->second;
  }
  return masters;
}

}  // namespace tools
}  // namespace mq
