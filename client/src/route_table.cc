#include "client/src/route_table.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "glog/logging.h"

namespace mq::client_internal {
namespace {

using common::v1::TopicRouteData;

// Sorted copies compare equal when only the order of queue and broker data differ.
bool SameRoute(const TopicRouteData& a, const TopicRouteData& b) {
  auto sorted = [](TopicRouteData route) {
    std::sort(route.mutable_queue_datas()->begin(), route.mutable_queue_datas()->end(),
              [](const auto& x, const auto& y) { return x.broker_name() < y.broker_name(); });
    std::sort(route.mutable_broker_datas()->begin(), route.mutable_broker_datas()->end(),
              [](const auto& x, const auto& y) { return x.broker_name() < y.broker_name(); });
    return route;
  };
  return google::protobuf::util::MessageDifferencer::Equals(sorted(a), sorted(b));
}

}  // namespace

bool RouteTable::Update(const std::string& topic, const TopicRouteData& route) {
  {
    absl::MutexLock lock(&mu_);
    auto old = routes_.find(topic);
    if (old != routes_.end() && SameRoute(old->second.route, route)) return false;
  }
  // Built outside the lock; a concurrent update of the same topic with
  // another route is settled by whichever takes the lock last.
  std::shared_ptr<const TopicPublishInfo> publish = TopicPublishInfo::FromRoute(topic, route);
  absl::MutexLock lock(&mu_);
  VLOG(1) << "route of topic " << topic << " changed: " << route.ShortDebugString();
  for (const common::v1::BrokerData& bd : route.broker_datas()) {
    std::map<int64_t, std::string>& addresses = brokers_[bd.broker_name()];
    addresses.clear();
    addresses.insert(bd.broker_addrs().begin(), bd.broker_addrs().end());
  }
  routes_[topic] = Entry{route, std::move(publish)};
  return true;
}

absl::optional<TopicRouteData> RouteTable::Route(const std::string& topic) const {
  absl::MutexLock lock(&mu_);
  auto it = routes_.find(topic);
  if (it == routes_.end()) return absl::nullopt;
  return it->second.route;
}

std::shared_ptr<const TopicPublishInfo> RouteTable::PublishInfo(const std::string& topic) const {
  absl::MutexLock lock(&mu_);
  auto it = routes_.find(topic);
  return it == routes_.end() ? nullptr : it->second.publish;
}

absl::optional<std::string> RouteTable::FindMasterAddress(const std::string& broker_name) const {
  absl::MutexLock lock(&mu_);
  auto it = brokers_.find(broker_name);
  if (it == brokers_.end()) return absl::nullopt;
  auto master = it->second.find(0);
  if (master == it->second.end()) return absl::nullopt;
  return master->second;
}

absl::optional<std::map<int64_t, std::string>> RouteTable::FindBrokerAddresses(
    const std::string& broker_name) const {
  absl::MutexLock lock(&mu_);
  auto it = brokers_.find(broker_name);
  if (it == brokers_.end()) return absl::nullopt;
  return it->second;
}

std::vector<std::string> RouteTable::MasterAddresses() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> addresses;
  for (const auto& [name, by_id] : brokers_) {
    auto master = by_id.find(0);
    if (master != by_id.end()) addresses.push_back(master->second);
  }
  return addresses;
}

std::vector<std::string> RouteTable::AllBrokerAddresses() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> addresses;
  for (const auto& [name, by_id] : brokers_) {
    for (const auto& [id, address] : by_id) addresses.push_back(address);
  }
  return addresses;
}

std::vector<std::string> RouteTable::ForgetUnreferencedBrokers() {
  absl::MutexLock lock(&mu_);
  absl::flat_hash_set<std::string> referenced;
  for (const auto& [topic, entry] : routes_) {
    for (const common::v1::BrokerData& bd : entry.route.broker_datas()) {
      for (const auto& [id, address] : bd.broker_addrs()) referenced.insert(address);
    }
  }
  std::vector<std::string> forgotten;
  for (auto group = brokers_.begin(); group != brokers_.end();) {
    for (auto it = group->second.begin(); it != group->second.end();) {
      if (referenced.contains(it->second)) {
        ++it;
        continue;
      }
      VLOG(1) << "broker " << group->first << " id " << it->first << " at " << it->second
              << " is offline; forgetting it";
      forgotten.push_back(it->second);
      it = group->second.erase(it);
    }
    group = group->second.empty() ? brokers_.erase(group) : std::next(group);
  }
  return forgotten;
}

}  // namespace mq::client_internal
