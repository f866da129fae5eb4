#include "services/broker/client_manager.h"

#include <glog/logging.h>

#include <utility>

#include "common/validation.h"

namespace mq::broker {

ClientManager::ClientManager(ClientManagerOptions options, const Clock* clock)
    : options_(options), clock_(clock) {}

bool ClientManager::Live(absl::Time last_heartbeat, absl::Time now) const {
  return now - last_heartbeat <= options_.client_expiry;
}

absl::Status ClientManager::Heartbeat(const broker::v1::HeartbeatRequest& request) {
  if (request.client_id().empty()) return absl::InvalidArgumentError("client id must not be empty");
  for (const broker::v1::ProducerData& producer : request.producers()) {
    absl::Status status = ValidateGroup(producer.group_name());
    if (!status.ok()) return status;
  }
  for (const broker::v1::ConsumerData& consumer : request.consumers()) {
    absl::Status status = ValidateGroup(consumer.group_name());
    if (!status.ok()) return status;
  }
  absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (const broker::v1::ProducerData& producer : request.producers()) {
    producers_[producer.group_name()][request.client_id()] = {now, request.language(),
                                                              request.version()};
  }
  for (const broker::v1::ConsumerData& consumer : request.consumers()) {
    ConsumerGroup& group = consumers_[consumer.group_name()];
    if (group.clients.emplace(request.client_id(), now).second) {
      LOG(INFO) << "consumer " << request.client_id() << " joined group " << consumer.group_name();
    } else {
      group.clients[request.client_id()] = now;
    }
    group.data = consumer;
  }
  return absl::OkStatus();
}

void ClientManager::SetConsumerGoneListener(
    std::function<void(const std::string& group, const std::string& client_id)> listener) {
  consumer_gone_ = std::move(listener);
}

absl::Status ClientManager::Unregister(absl::string_view client_id,
                                       absl::string_view producer_group,
                                       absl::string_view consumer_group) {
  if (client_id.empty()) return absl::InvalidArgumentError("client id must not be empty");
  bool consumer_left = false;
  {
    absl::MutexLock lock(&mu_);
    if (!producer_group.empty()) {
      auto group = producers_.find(producer_group);
      if (group != producers_.end()) {
        auto client = group->second.find(client_id);
        if (client != group->second.end()) group->second.erase(client);
        if (group->second.empty()) producers_.erase(group);
      }
    }
    if (!consumer_group.empty()) {
      auto group = consumers_.find(consumer_group);
      if (group != consumers_.end()) {
        auto client = group->second.clients.find(client_id);
        if (client != group->second.clients.end()) {
          group->second.clients.erase(client);
          LOG(INFO) << "consumer " << client_id << " left group " << consumer_group;
          consumer_left = true;
        }
        if (group->second.clients.empty()) consumers_.erase(group);
      }
    }
  }
  if (consumer_left && consumer_gone_) {
    consumer_gone_(std::string(consumer_group), std::string(client_id));
  }
  return absl::OkStatus();
}

std::vector<std::string> ClientManager::GetConsumerList(absl::string_view group) const {
  std::vector<std::string> ids;
  absl::Time now = clock_->Now();
  absl::ReaderMutexLock lock(&mu_);
  auto it = consumers_.find(group);
  if (it == consumers_.end()) return ids;
  for (const auto& [id, last] : it->second.clients) {
    if (Live(last, now)) ids.push_back(id);
  }
  return ids;
}

std::vector<std::string> ClientManager::GetProducerList(absl::string_view group) const {
  std::vector<std::string> ids;
  absl::Time now = clock_->Now();
  absl::ReaderMutexLock lock(&mu_);
  auto it = producers_.find(group);
  if (it == producers_.end()) return ids;
  for (const auto& [id, producer] : it->second) {
    if (Live(producer.last_heartbeat, now)) ids.push_back(id);
  }
  return ids;
}

std::vector<broker::v1::ProducerConnection> ClientManager::GetProducerConnections(
    absl::string_view group) const {
  std::vector<broker::v1::ProducerConnection> connections;
  absl::Time now = clock_->Now();
  absl::ReaderMutexLock lock(&mu_);
  auto it = producers_.find(group);
  if (it == producers_.end()) return connections;
  for (const auto& [id, producer] : it->second) {
    if (!Live(producer.last_heartbeat, now)) continue;
    broker::v1::ProducerConnection& connection = connections.emplace_back();
    connection.set_client_id(id);
    connection.set_language(producer.language);
    connection.set_version(producer.version);
    connection.set_last_heartbeat_ms(absl::ToUnixMillis(producer.last_heartbeat));
  }
  return connections;
}

absl::optional<broker::v1::SubscriptionData> ClientManager::FindSubscription(
    absl::string_view group, absl::string_view topic) const {
  absl::Time now = clock_->Now();
  absl::ReaderMutexLock lock(&mu_);
  auto it = consumers_.find(group);
  if (it == consumers_.end()) return absl::nullopt;
  bool any_live = false;
  for (const auto& [id, last] : it->second.clients) any_live = any_live || Live(last, now);
  if (!any_live) return absl::nullopt;
  for (const broker::v1::SubscriptionData& subscription : it->second.data.subscriptions()) {
    if (subscription.topic() == topic) return subscription;
  }
  return absl::nullopt;
}

int ClientManager::ScanExpired() {
  absl::Time now = clock_->Now();
  int dropped = 0;
  // (group, client id) of the consumers dropped.
  std::vector<std::pair<std::string, std::string>> gone;
  {
    absl::MutexLock lock(&mu_);
    for (auto group = producers_.begin(); group != producers_.end();) {
      for (auto client = group->second.begin(); client != group->second.end();) {
        if (Live(client->second.last_heartbeat, now)) {
          ++client;
          continue;
        }
        LOG(INFO) << "producer " << client->first << " of group " << group->first << " expired";
        client = group->second.erase(client);
        ++dropped;
      }
      group = group->second.empty() ? producers_.erase(group) : std::next(group);
    }
    for (auto group = consumers_.begin(); group != consumers_.end();) {
      auto& clients = group->second.clients;
      for (auto client = clients.begin(); client != clients.end();) {
        if (Live(client->second, now)) {
          ++client;
          continue;
        }
        LOG(INFO) << "consumer " << client->first << " of group " << group->first << " expired";
        gone.emplace_back(group->first, client->first);
        client = clients.erase(client);
        ++dropped;
      }
      group = clients.empty() ? consumers_.erase(group) : std::next(group);
    }
  }
  if (consumer_gone_) {
    for (const auto& [group, client_id] : gone) consumer_gone_(group, client_id);
  }
  return dropped;
}

int ClientManager::producer_count() const {
  absl::Time now = clock_->Now();
  int count = 0;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [name, clients] : producers_) {
    for (const auto& [id, producer] : clients) count += Live(producer.last_heartbeat, now) ? 1 : 0;
  }
  return count;
}

std::map<std::string, int> ClientManager::ConsumerGroupSizes() const {
  std::map<std::string, int> sizes;
  absl::Time now = clock_->Now();
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [name, group] : consumers_) {
    int live = 0;
    for (const auto& [id, last] : group.clients) live += Live(last, now) ? 1 : 0;
    if (live > 0) sizes[name] = live;
  }
  return sizes;
}

int ClientManager::consumer_count() const {
  absl::Time now = clock_->Now();
  int count = 0;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [name, group] : consumers_) {
    for (const auto& [id, last] : group.clients) count += Live(last, now) ? 1 : 0;
  }
  return count;
}

}  // namespace mq::broker
