#include "client/src/client_instance.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_options.h"
#include "common/rpc.h"
#include "common/status.h"
#include "glog/logging.h"

namespace mq::client_internal {
namespace {

using common::v1::TopicRouteData;

// The first route poll runs right after start, as RocketMQ's does (10 ms).
constexpr absl::Duration kFirstRoutePollDelay = absl::Milliseconds(10);
constexpr absl::Duration kFirstHeartbeatDelay = absl::Seconds(1);

bool IsTransportFailure(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

// Calls every broker in `addresses` at once (`start` begins the async call on
// a stub) and waits until all have answered or timed out; failures are logged.
template <typename Response, typename Start>
void CallAllBrokers(BrokerConnections& connections, const std::vector<std::string>& addresses,
                    absl::Duration timeout, absl::string_view what, Start start) {
  std::vector<std::shared_ptr<broker::v1::Broker::Stub>> stubs;
  for (const std::string& address : addresses) stubs.push_back(connections.BrokerStub(address));
  std::vector<absl::StatusOr<Response>> results = CallEach<Response>(stubs, timeout, start);
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      LOG(WARNING) << what << " to broker " << addresses[i] << " failed: " << results[i].status();
    }
  }
}

}  // namespace

ClientInstance::ClientInstance(std::string client_id, ClientOptions options)
    : client_id_(std::move(client_id)),
      options_(std::move(options)),
      connections_(ChannelTls(options_.tls),
                   acl::Credentials{options_.access_key, options_.secret_key},
                   SendCoalescing{options_.coalesce_sends, options_.coalesce_max_bytes,
                                  options_.coalesce_max_frames_in_flight}) {
  absl::BitGen gen;
  namesrv_index_ = options_.name_server_addresses.empty()
                       ? 0
                       : absl::Uniform<size_t>(gen, 0, options_.name_server_addresses.size());
}

ClientInstance::~ClientInstance() { Shutdown(); }

absl::Status ClientInstance::Start() {
  absl::MutexLock lock(&mu_);
  switch (state_) {
    case ServiceState::kRunning:
      return absl::OkStatus();
    case ServiceState::kStartFailed:
    case ServiceState::kShutdownAlready:
      return absl::FailedPreconditionError(absl::StrCat(
          "client instance ", client_id_, " cannot start: state is ", ServiceStateName(state_)));
    case ServiceState::kCreateJust:
      break;
  }
  if (options_.name_server_addresses.empty()) {
    state_ = ServiceState::kStartFailed;
    return absl::InvalidArgumentError(
        absl::StrCat("client instance ", client_id_, ": no name server address"));
  }
  scheduler_.Schedule("update topic routes", kFirstRoutePollDelay,
                      options_.poll_name_server_interval, [this] { UpdateAllTopicRoutes(); });
  // The first heartbeat after 1 s, as RocketMQ: by then the first route poll
  // has found the brokers of the members' topics.
  scheduler_.Schedule("clean offline brokers and heartbeat",
                      std::min(kFirstHeartbeatDelay, options_.heartbeat_broker_interval),
                      options_.heartbeat_broker_interval, [this] {
                        CleanOfflineBrokers();
                        SendHeartbeatToAllBrokers();
                      });
  scheduler_.Start();
  send_deadline_sweeper_.Schedule("expire overdue sends", kSendDeadlineSweep, kSendDeadlineSweep,
                                  [this] { connections_.ExpireOverdueSends(absl::Now()); });
  send_deadline_sweeper_.Start();
  state_ = ServiceState::kRunning;
  VLOG(1) << "client instance " << client_id_
          << " started; name servers: " << absl::StrJoin(options_.name_server_addresses, ";");
  return absl::OkStatus();
}

void ClientInstance::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (state_ == ServiceState::kShutdownAlready) return;
    state_ = ServiceState::kShutdownAlready;
  }
  scheduler_.Stop();
  std::vector<std::shared_ptr<BrokerSendStream>> streams = connections_.TakeSendStreams();
  const absl::Time deadline = absl::Now() + options_.api_timeout;
  for (const auto& stream : streams) stream->CloseBy(deadline);
  send_deadline_sweeper_.Stop();
  VLOG(1) << "client instance " << client_id_ << " shut down";
}

ServiceState ClientInstance::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::Status ClientInstance::RegisterProducer(const std::string& group, ProducerMember* producer) {
  absl::MutexLock lock(&members_mu_);
  if (!producers_.emplace(group, producer).second) {
    return absl::FailedPreconditionError(
        absl::StrCat("producer group ", group, " is already registered in client instance ",
                     client_id_, "; use another group or another instance_name"));
  }
  return absl::OkStatus();
}

void ClientInstance::RemoveProducer(const std::string& group) {
  absl::MutexLock lock(&members_mu_);
  producers_.erase(group);
}

void ClientInstance::UnregisterProducer(const std::string& group) {
  RemoveProducer(group);
  UnregisterFromBrokers(group, "");
}

absl::Status ClientInstance::RegisterConsumer(const std::string& group, ConsumerMember* consumer) {
  absl::MutexLock lock(&members_mu_);
  if (!consumers_.emplace(group, consumer).second) {
    return absl::FailedPreconditionError(
        absl::StrCat("consumer group ", group, " is already registered in client instance ",
                     client_id_, "; use another group or another instance_name"));
  }
  return absl::OkStatus();
}

void ClientInstance::RemoveConsumer(const std::string& group) {
  absl::MutexLock lock(&members_mu_);
  consumers_.erase(group);
}

void ClientInstance::UnregisterConsumer(const std::string& group) {
  RemoveConsumer(group);
  UnregisterFromBrokers("", group);
}

void ClientInstance::UnregisterFromBrokers(const std::string& producer_group,
                                           const std::string& consumer_group) {
  broker::v1::UnregisterClientRequest request;
  request.set_client_id(client_id_);
  request.set_producer_group(producer_group);
  request.set_consumer_group(consumer_group);
  CallAllBrokers<broker::v1::UnregisterClientResponse>(
      connections_, routes_.AllBrokerAddresses(), options_.api_timeout, "UnregisterClient",
      [&request](const std::shared_ptr<broker::v1::Broker::Stub>& stub,
                 grpc::ClientContext* context, broker::v1::UnregisterClientResponse* response,
                 std::function<void(grpc::Status)> done) {
        stub->async()->UnregisterClient(context, &request, response, std::move(done));
      });
}

bool ClientInstance::HasMembers() const {
  absl::MutexLock lock(&members_mu_);
  return !producers_.empty() || !consumers_.empty();
}

absl::StatusOr<TopicRouteData> ClientInstance::QueryTopicRoute(const std::string& topic,
                                                               absl::Time deadline) {
  const std::vector<std::string>& addresses = options_.name_server_addresses;
  if (addresses.empty()) return absl::FailedPreconditionError("no name server address");
  absl::Status last_error;
  std::vector<std::string> tried;
  auto out_of_time = [&] {
    return absl::DeadlineExceededError(
        absl::StrCat("the send timeout ran out in the route lookup of topic ", topic, " (asked ",
                     tried.empty() ? "no name server" : absl::StrJoin(tried, ", "),
                     last_error.ok() ? "" : absl::StrCat(": ", last_error.message()), ")"));
  };
  for (size_t i = 0; i < addresses.size(); ++i) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return out_of_time();
    size_t index;
    {
      absl::MutexLock lock(&mu_);
      index = namesrv_index_;
    }
    const std::string& address = addresses[index];
    tried.push_back(address);
    namesrv::v1::GetRouteInfoByTopicRequest request;
    request.set_topic(topic);
    namesrv::v1::GetRouteInfoByTopicResponse response;
    grpc::ClientContext context;
    SetDeadline(&context, std::min(options_.api_timeout, left));
    absl::Status status = WithTlsHint(
        FromGrpcStatus(
            connections_.NameServerStub(address)->GetRouteInfoByTopic(&context, request, &response),
            context),
        connections_.tls());
    if (status.ok()) return std::move(*response.mutable_route());
    if (!IsTransportFailure(status)) return status;
    LOG(WARNING) << "name server " << address << " failed (" << status
                 << "); moving to the next one";
    last_error = status;
    absl::MutexLock lock(&mu_);
    // Another thread may have moved on already; move only from the failed one.
    if (namesrv_index_ == index) namesrv_index_ = (index + 1) % addresses.size();
  }
  if (absl::Now() >= deadline) return out_of_time();
  return absl::UnavailableError(absl::StrCat("no name server answered for topic ", topic,
                                             " (tried ", absl::StrJoin(tried, ", "),
                                             "): ", last_error.message()));
}

absl::Status ClientInstance::UpdateTopicRouteFromNameServer(const std::string& topic,
                                                            absl::Time deadline) {
  absl::StatusOr<TopicRouteData> route = QueryTopicRoute(topic, deadline);
  if (!route.ok()) return route.status();
  ApplyRoute(topic, *route);
  return absl::OkStatus();
}

absl::Status ClientInstance::UpdateTopicRouteFromDefault(const std::string& topic,
                                                         const std::string& default_topic,
                                                         int32_t queue_nums, absl::Time deadline) {
  absl::StatusOr<TopicRouteData> route = QueryTopicRoute(default_topic, deadline);
  if (!route.ok()) return route.status();
  for (common::v1::QueueData& qd : *route->mutable_queue_datas()) {
    const int32_t nums = std::min(queue_nums, qd.read_queue_nums());
    qd.set_read_queue_nums(nums);
    qd.set_write_queue_nums(nums);
  }
  ApplyRoute(topic, *route);
  return absl::OkStatus();
}

void ClientInstance::ApplyRoute(const std::string& topic, const TopicRouteData& route) {
  if (!routes_.Update(topic, route)) return;
  absl::ReaderMutexLock lock(&members_mu_);
  for (auto& [group, consumer] : consumers_) consumer->OnTopicRouteChanged(topic);
}

void ClientInstance::UpdateAllTopicRoutes() {
  std::vector<std::string> topics;
  {
    absl::ReaderMutexLock lock(&members_mu_);
    for (const auto& [group, producer] : producers_) {
      std::vector<std::string> used = producer->TopicsInUse();
      topics.insert(topics.end(), used.begin(), used.end());
    }
    for (const auto& [group, consumer] : consumers_) {
      std::vector<std::string> used = consumer->TopicsInUse();
      topics.insert(topics.end(), used.begin(), used.end());
    }
  }
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  for (const std::string& topic : topics) {
    absl::Status status = UpdateTopicRouteFromNameServer(topic);
    // A topic not created yet (or the default topic where auto-creation is
    // off) is normal and needs no action.
    if (status.code() == absl::StatusCode::kNotFound) {
      VLOG(1) << "route refresh of topic " << topic << ": " << status;
    } else if (!status.ok()) {
      LOG(WARNING) << "route refresh of topic " << topic << ": " << status;
    }
  }
}

void ClientInstance::CleanOfflineBrokers() {
  std::vector<std::shared_ptr<BrokerSendStream>> retired_streams =
      connections_.Forget(routes_.ForgetUnreferencedBrokers());
  const absl::Time deadline = absl::Now() + options_.api_timeout;
  for (const auto& stream : retired_streams) stream->CloseBy(deadline);
}

void ClientInstance::SendHeartbeatToAllBrokers() {
  broker::v1::HeartbeatRequest request;
  request.set_client_id(client_id_);
  request.set_language("CPP");
  {
    absl::ReaderMutexLock lock(&members_mu_);
    if (producers_.empty() && consumers_.empty()) return;
    for (const auto& [group, producer] : producers_) {
      request.add_producers()->set_group_name(group);
    }
    for (const auto& [group, consumer] : consumers_) {
      *request.add_consumers() = consumer->HeartbeatData();
    }
  }
  // Consumers may read from slaves, so slaves hear of them too.
  CallAllBrokers<broker::v1::HeartbeatResponse>(
      connections_,
      request.consumers().empty() ? routes_.MasterAddresses() : routes_.AllBrokerAddresses(),
      options_.api_timeout, "Heartbeat",
      [&request](const std::shared_ptr<broker::v1::Broker::Stub>& stub,
                 grpc::ClientContext* context, broker::v1::HeartbeatResponse* response,
                 std::function<void(grpc::Status)> done) {
        stub->async()->Heartbeat(context, &request, response, std::move(done));
      });
}

std::string ClientInstance::CurrentNameServer() const {
  absl::MutexLock lock(&mu_);
  return options_.name_server_addresses.empty() ? std::string()
                                                : options_.name_server_addresses[namesrv_index_];
}

}  // namespace mq::client_internal
