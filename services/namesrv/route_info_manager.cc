#include "services/namesrv/route_info_manager.h"

#include <glog/logging.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/validation.h"

namespace mq::namesrv {

namespace {

constexpr uint32_t kAllPermissionBits = common::v1::PERM_INHERIT | common::v1::PERM_WRITE |
                                        common::v1::PERM_READ | common::v1::PERM_PRIORITY;

absl::Status ValidateTopicConfig(const common::v1::TopicConfig& config) {
  if (absl::Status s = ValidateTopic(config.topic_name()); !s.ok()) return s;
  if (absl::Status s = ValidateQueueNums(
          absl::StrCat("read queue nums of topic ", config.topic_name()), config.read_queue_nums());
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ValidateQueueNums(absl::StrCat("write queue nums of topic ", config.topic_name()),
                            config.write_queue_nums());
      !s.ok()) {
    return s;
  }
  if ((config.perm() & ~kAllPermissionBits) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("perm of topic ", config.topic_name(), " is ",
                                                   config.perm(), ", only bits 0..3 are defined"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRegistration(const namesrv::v1::RegisterBrokerRequest& request) {
  if (absl::Status s = ValidateName("cluster name", request.cluster_name()); !s.ok()) return s;
  if (absl::Status s = ValidateName("broker name", request.broker_name()); !s.ok()) return s;
  if (absl::Status s = ValidateBrokerId(request.broker_id()); !s.ok()) return s;
  if (absl::Status s = ValidateAddress("broker address", request.broker_addr()); !s.ok()) return s;
  if (!request.ha_server_addr().empty()) {
    if (absl::Status s = ValidateAddress("HA server address", request.ha_server_addr()); !s.ok()) {
      return s;
    }
  }
  for (const common::v1::TopicConfig& config : request.topic_configs()) {
    if (absl::Status s = ValidateTopicConfig(config); !s.ok()) return s;
  }
  return absl::OkStatus();
}

bool SameVersion(const common::v1::DataVersion& a, const common::v1::DataVersion& b) {
  return a.timestamp_ms() == b.timestamp_ms() && a.counter() == b.counter();
}

}  // namespace

RouteInfoManager::RouteInfoManager(RouteInfoOptions options, const Clock* clock)
    : options_(options), clock_(clock) {}

absl::StatusOr<namesrv::v1::RegisterBrokerResponse> RouteInfoManager::RegisterBroker(
    const namesrv::v1::RegisterBrokerRequest& request) {
  if (absl::Status s = ValidateRegistration(request); !s.ok()) return s;

  absl::MutexLock lock(&mu_);
  auto group_it = broker_addr_table_.find(request.broker_name());
  if (group_it != broker_addr_table_.end() &&
      group_it->second.cluster() != request.cluster_name()) {
    return absl::FailedPreconditionError(
        absl::StrCat("broker name ", request.broker_name(), " is registered in cluster ",
                     group_it->second.cluster(), ", not ", request.cluster_name(),
                     "; unregister it there (or wait for it to expire) before moving it"));
  }

  cluster_addr_table_[request.cluster_name()].insert(request.broker_name());
  bool first_registration = group_it == broker_addr_table_.end();
  common::v1::BrokerData& group = broker_addr_table_[request.broker_name()];
  group.set_cluster(request.cluster_name());
  group.set_broker_name(request.broker_name());
  auto* addrs = group.mutable_broker_addrs();

  // One address holds one role: a slave promoted to master (same address, new
  // id) must not stay listed as a slave.
  for (auto it = addrs->begin(); it != addrs->end();) {
    if (it->second == request.broker_addr() && it->first != request.broker_id()) {
      it = addrs->erase(it);
    } else {
      ++it;
    }
  }
  auto id_it = addrs->find(request.broker_id());
  if (id_it == addrs->end()) {
    first_registration = true;
  } else if (id_it->second != request.broker_addr()) {
    // The id moved to a new address: the old one is gone.
    LOG(INFO) << "broker " << request.broker_name() << " id " << request.broker_id()
              << " moved from " << id_it->second << " to " << request.broker_addr();
    broker_live_table_.erase(id_it->second);
    first_registration = true;
  }
  (*addrs)[request.broker_id()] = request.broker_addr();

  auto live_it = broker_live_table_.find(request.broker_addr());
  bool version_changed = live_it == broker_live_table_.end() ||
                         !SameVersion(live_it->second.data_version, request.data_version());
  if (request.broker_id() == 0 && (first_registration || version_changed)) {
    UpdateQueueDataLocked(request);
  }

  LiveInfo& live = broker_live_table_[request.broker_addr()];
  if (live_it == broker_live_table_.end()) {
    LOG(INFO) << "new broker registered: " << request.cluster_name() << "/" << request.broker_name()
              << " id " << request.broker_id() << " at " << request.broker_addr();
  }
  live.cluster_name = request.cluster_name();
  live.broker_name = request.broker_name();
  live.broker_id = request.broker_id();
  live.ha_server_addr = request.ha_server_addr();
  live.last_update = clock_->Now();
  live.data_version = request.data_version();

  namesrv::v1::RegisterBrokerResponse response;
  if (request.broker_id() != 0) {
    auto master_it = addrs->find(0);
    if (master_it != addrs->end()) {
      auto master_live = broker_live_table_.find(master_it->second);
      if (master_live != broker_live_table_.end()) {
        response.set_master_addr(master_it->second);
        response.set_ha_server_addr(master_live->second.ha_server_addr);
      }
    }
  }
  return response;
}

void RouteInfoManager::UpdateQueueDataLocked(const namesrv::v1::RegisterBrokerRequest& request) {
  std::set<std::string> listed;
  for (const common::v1::TopicConfig& config : request.topic_configs()) {
    listed.insert(config.topic_name());
    common::v1::QueueData& queue = topic_queue_table_[config.topic_name()][request.broker_name()];
    queue.set_broker_name(request.broker_name());
    queue.set_read_queue_nums(config.read_queue_nums());
    queue.set_write_queue_nums(config.write_queue_nums());
    queue.set_perm(config.perm());
    queue.set_topic_sys_flag(config.topic_sys_flag());
    *queue.mutable_attributes() = config.attributes();
  }
  // A topic the master no longer has (deleted, or TBW102 after auto-create was
  // turned off) must not keep routing clients to it.
  for (auto it = topic_queue_table_.begin(); it != topic_queue_table_.end();) {
    if (listed.count(it->first) == 0 && it->second.erase(request.broker_name()) > 0) {
      LOG(INFO) << "topic " << it->first << " no longer on broker " << request.broker_name();
    }
    it = it->second.empty() ? topic_queue_table_.erase(it) : std::next(it);
  }
}

absl::Status RouteInfoManager::UnregisterBroker(
    const namesrv::v1::UnregisterBrokerRequest& request) {
  if (absl::Status s = ValidateName("cluster name", request.cluster_name()); !s.ok()) return s;
  if (absl::Status s = ValidateName("broker name", request.broker_name()); !s.ok()) return s;
  if (absl::Status s = ValidateBrokerId(request.broker_id()); !s.ok()) return s;
  if (absl::Status s = ValidateAddress("broker address", request.broker_addr()); !s.ok()) return s;

  absl::MutexLock lock(&mu_);
  auto group_it = broker_addr_table_.find(request.broker_name());
  bool registered =
      group_it != broker_addr_table_.end() && group_it->second.cluster() == request.cluster_name();
  if (registered) {
    auto id_it = group_it->second.broker_addrs().find(request.broker_id());
    registered =
        id_it != group_it->second.broker_addrs().end() && id_it->second == request.broker_addr();
  }
  if (!registered) {
    return absl::NotFoundError(absl::StrCat("no broker ", request.cluster_name(), "/",
                                            request.broker_name(), " id ", request.broker_id(),
                                            " at ", request.broker_addr(), " is registered"));
  }
  LOG(INFO) << "broker unregistered: " << request.broker_name() << " id " << request.broker_id()
            << " at " << request.broker_addr();
  RemoveBrokerLocked(request.broker_addr());
  return absl::OkStatus();
}

void RouteInfoManager::RemoveBrokerLocked(const std::string& addr) {
  auto live_it = broker_live_table_.find(addr);
  if (live_it == broker_live_table_.end()) return;
  std::string broker_name = live_it->second.broker_name;
  broker_live_table_.erase(live_it);

  auto group_it = broker_addr_table_.find(broker_name);
  if (group_it == broker_addr_table_.end()) return;
  auto* addrs = group_it->second.mutable_broker_addrs();
  for (auto it = addrs->begin(); it != addrs->end();) {
    it = it->second == addr ? addrs->erase(it) : std::next(it);
  }
  // A group whose master died keeps its queue data while a slave lives, so
  // consumers can still read from the slave; producers skip it (no id 0).
  if (addrs->empty()) RemoveBrokerGroupLocked(broker_name);
}

void RouteInfoManager::RemoveBrokerGroupLocked(const std::string& broker_name) {
  auto group_it = broker_addr_table_.find(broker_name);
  if (group_it == broker_addr_table_.end()) return;
  std::string cluster = group_it->second.cluster();
  broker_addr_table_.erase(group_it);
  auto cluster_it = cluster_addr_table_.find(cluster);
  if (cluster_it != cluster_addr_table_.end()) {
    cluster_it->second.erase(broker_name);
    if (cluster_it->second.empty()) cluster_addr_table_.erase(cluster_it);
  }
  for (auto it = topic_queue_table_.begin(); it != topic_queue_table_.end();) {
    it->second.erase(broker_name);
    if (it->second.empty()) {
      LOG(INFO) << "topic " << it->first << " removed: its last broker group " << broker_name
                << " is gone";
      it = topic_queue_table_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<common::v1::TopicRouteData> RouteInfoManager::GetRouteInfoByTopic(
    absl::string_view topic) const {
  if (absl::Status s = ValidateTopic(topic); !s.ok()) return s;
  absl::ReaderMutexLock lock(&mu_);
  common::v1::TopicRouteData route;
  auto topic_it = topic_queue_table_.find(std::string(topic));
  if (topic_it != topic_queue_table_.end()) {
    for (const auto& [broker_name, queue] : topic_it->second) {
      auto group_it = broker_addr_table_.find(broker_name);
      if (group_it == broker_addr_table_.end()) continue;
      *route.add_queue_datas() = queue;
      *route.add_broker_datas() = group_it->second;
    }
  }
  if (route.queue_datas_size() == 0) {
    return absl::NotFoundError(
        absl::StrCat("No topic route info in name server for the topic: ", topic));
  }
  return route;
}

namesrv::v1::GetClusterInfoResponse RouteInfoManager::GetClusterInfo() const {
  absl::ReaderMutexLock lock(&mu_);
  namesrv::v1::GetClusterInfoResponse response;
  for (const auto& [name, group] : broker_addr_table_) {
    (*response.mutable_broker_addr_table())[name] = group;
  }
  for (const auto& [cluster, names] : cluster_addr_table_) {
    auto* brokers = (*response.mutable_cluster_addr_table())[cluster].mutable_broker_names();
    for (const std::string& name : names) brokers->Add(std::string(name));
  }
  for (const auto& [addr, live] : broker_live_table_) {
    namesrv::v1::BrokerLiveInfo* info = response.add_live_brokers();
    info->set_broker_addr(addr);
    info->set_cluster_name(live.cluster_name);
    info->set_broker_name(live.broker_name);
    info->set_broker_id(live.broker_id);
    info->set_ha_server_addr(live.ha_server_addr);
    info->set_last_update_timestamp_ms(absl::ToUnixMillis(live.last_update));
    *info->mutable_data_version() = live.data_version;
  }
  return response;
}

std::vector<std::string> RouteInfoManager::GetAllTopics() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> topics;
  topics.reserve(topic_queue_table_.size());
  for (const auto& entry : topic_queue_table_) topics.push_back(entry.first);
  return topics;
}

absl::Status RouteInfoManager::DeleteTopic(absl::string_view topic, absl::string_view cluster) {
  if (absl::Status s = ValidateTopic(topic); !s.ok()) return s;
  if (!cluster.empty()) {
    if (absl::Status s = ValidateName("cluster name", cluster); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  auto topic_it = topic_queue_table_.find(std::string(topic));
  if (topic_it == topic_queue_table_.end()) {
    return absl::NotFoundError(absl::StrCat("topic ", topic, " is not known to this name server"));
  }
  if (cluster.empty()) {
    topic_queue_table_.erase(topic_it);
    LOG(INFO) << "topic " << topic << " deleted";
    return absl::OkStatus();
  }
  auto cluster_it = cluster_addr_table_.find(std::string(cluster));
  if (cluster_it == cluster_addr_table_.end()) {
    return absl::NotFoundError(absl::StrCat("cluster ", cluster, " is not known"));
  }
  for (const std::string& broker_name : cluster_it->second) topic_it->second.erase(broker_name);
  if (topic_it->second.empty()) topic_queue_table_.erase(topic_it);
  LOG(INFO) << "topic " << topic << " deleted from cluster " << cluster;
  return absl::OkStatus();
}

std::vector<std::string> RouteInfoManager::ScanNotActiveBrokers() {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  std::vector<std::string> expired;
  for (const auto& [addr, live] : broker_live_table_) {
    if (now - live.last_update > options_.broker_expiry) expired.push_back(addr);
  }
  for (const std::string& addr : expired) {
    LOG(WARNING) << "broker at " << addr << " silent for more than "
                 << absl::FormatDuration(options_.broker_expiry) << ", removed";
    RemoveBrokerLocked(addr);
  }
  return expired;
}

}  // namespace mq::namesrv
