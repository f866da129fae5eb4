// The topic routes a client instance knows and the broker addresses they name
// (RocketMQ's topicRouteTable and brokerAddrTable). Producers and consumers
// read it; it calls nobody.
#ifndef MQ_CLIENT_SRC_ROUTE_TABLE_H_
#define MQ_CLIENT_SRC_ROUTE_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "client/src/topic_publish_info.h"
#include "proto/common.pb.h"

namespace mq::client_internal {

// Thread-safe.
class RouteTable {
 public:
  // Records `route` as `topic`'s route, and the broker addresses it names.
  // Returns true when it differs from the route held (queue and broker
  // order aside); an equal route leaves the table as it was.
  bool Update(const std::string& topic, const common::v1::TopicRouteData& route)
      ABSL_LOCKS_EXCLUDED(mu_);

  absl::optional<common::v1::TopicRouteData> Route(const std::string& topic) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The producers' view of `topic`'s route, built once per route change and
  // shared; null when the topic has no route.
  std::shared_ptr<const TopicPublishInfo> PublishInfo(const std::string& topic) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The master's address of broker group `broker_name`, if known.
  absl::optional<std::string> FindMasterAddress(const std::string& broker_name) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Broker id -> address of group `broker_name` (id 0 is the master), if known.
  absl::optional<std::map<int64_t, std::string>> FindBrokerAddresses(
      const std::string& broker_name) const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> MasterAddresses() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> AllBrokerAddresses() const ABSL_LOCKS_EXCLUDED(mu_);

  // Forgets the broker addresses no route names any more and returns them.
  std::vector<std::string> ForgetUnreferencedBrokers() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    common::v1::TopicRouteData route;
    std::shared_ptr<const TopicPublishInfo> publish;
  };

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> routes_ ABSL_GUARDED_BY(mu_);
  // broker name -> broker id -> address.
  std::map<std::string, std::map<int64_t, std::string>> brokers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_ROUTE_TABLE_H_
