#include "services/proxy/route_cache.h"

#include <utility>

namespace mq::proxy {
namespace {

bool NamesBroker(const common::v1::TopicRouteData& route, const std::string& address) {
  for (const common::v1::BrokerData& broker : route.broker_datas()) {
    for (const auto& [id, broker_address] : broker.broker_addrs()) {
      if (broker_address == address) return true;
    }
  }
  return false;
}

}  // namespace

RouteCache::RouteCache(RouteCacheOptions options, Lookup lookup)
    : options_(options), lookup_(std::move(lookup)) {}

absl::StatusOr<common::v1::TopicRouteData> RouteCache::Get(const std::string& topic) {
  if (options_.ttl <= absl::ZeroDuration()) return lookup_(topic);
  std::shared_ptr<Flight> flight;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = options_.clock->Now();
    DropIdle(now);
    auto it = entries_.find(topic);
    if (it == entries_.end() && entries_.size() < options_.max_topics) {
      it = entries_.emplace(topic, Entry()).first;
    }
    // Else full of topics in use: this one is looked up uncached.
    if (it != entries_.end()) {
      Entry& entry = it->second;
      entry.last_used = now;
      if (entry.route.has_value() && now < entry.expires) return *entry.route;
      if (entry.flight != nullptr) {
        // Being looked up: the expired route meanwhile, else that lookup's
        // answer.
        if (entry.route.has_value()) return *entry.route;
        flight = entry.flight;
        ++waiting_;
        mu_.Await(absl::Condition(&flight->done));
        --waiting_;
        return flight->result;
      }
      flight = entry.flight = std::make_shared<Flight>();
    }
  }
  absl::StatusOr<common::v1::TopicRouteData> route = lookup_(topic);
  if (flight == nullptr) return route;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(topic);
  // Forget() may have dropped the entry meanwhile (the answer may name the
  // broker it forgot): then the answer goes to this call and its waiters only.
  if (it != entries_.end() && it->second.flight == flight) {
    Entry& entry = it->second;
    entry.flight = nullptr;
    if (route.ok()) {
      entry.route = *route;
      entry.expires = options_.clock->Now() + options_.ttl;
    } else if (route.status().code() != absl::StatusCode::kNotFound && entry.route.has_value()) {
      // The name servers could not answer: the last route they gave, asked
      // again at the next call.
      route = *entry.route;
    } else {
      entries_.erase(it);
    }
  }
  flight->result = route;
  flight->done = true;
  return route;
}

void RouteCache::Forget(const std::string& address) {
  absl::MutexLock lock(&mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.route.has_value() && NamesBroker(*it->second.route, address)) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t RouteCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

size_t RouteCache::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

void RouteCache::DropIdle(absl::Time now) {
  if (now < next_drop_) return;
  next_drop_ = now + options_.idle;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.flight == nullptr && now - it->second.last_used >= options_.idle) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mq::proxy
