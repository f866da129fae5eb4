// The name server's routing tables and the rules that change them, without
// any gRPC: brokers register and unregister, clients read topic routes, and a
// scan drops brokers that stopped registering.
#ifndef MQ_SERVICES_NAMESRV_ROUTE_INFO_MANAGER_H_
#define MQ_SERVICES_NAMESRV_ROUTE_INFO_MANAGER_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "proto/common.pb.h"
#include "proto/namesrv.pb.h"

namespace mq::namesrv {

struct RouteInfoOptions {
  // A broker not heard from for this long is dropped (RocketMQ: 120 s).
  absl::Duration broker_expiry = absl::Seconds(120);
};

// Thread-safe: every call takes the tables' lock (shared for reads).
//
// Invariants kept by every call:
//  - a broker name is in exactly one cluster;
//  - every address in broker_addr_table_ has an entry in broker_live_table_;
//  - a topic's queue data only names broker groups present in broker_addr_table_;
//  - only masters (broker id 0) write queue data.
// A call that fails validation changes nothing.
class RouteInfoManager {
 public:
  explicit RouteInfoManager(RouteInfoOptions options, const Clock* clock = Clock::Real());

  RouteInfoManager(const RouteInfoManager&) = delete;
  RouteInfoManager& operator=(const RouteInfoManager&) = delete;

  // Adds or refreshes a broker. A master's topics replace that group's queue
  // data when the data version changed (or on first registration); topics it
  // no longer lists lose that group. A slave gets its live master's addresses.
  // INVALID_ARGUMENT for bad names, ids, addresses or queue counts;
  // FAILED_PRECONDITION when the broker name belongs to another cluster.
  absl::StatusOr<namesrv::v1::RegisterBrokerResponse> RegisterBroker(
      const namesrv::v1::RegisterBrokerRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // Removes one broker. NOT_FOUND if that broker is not registered.
  absl::Status UnregisterBroker(const namesrv::v1::UnregisterBrokerRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The topic's queue data (sorted by broker name) and its groups' addresses.
  // NOT_FOUND for an unknown topic.
  absl::StatusOr<common::v1::TopicRouteData> GetRouteInfoByTopic(absl::string_view topic) const
      ABSL_LOCKS_EXCLUDED(mu_);

  namesrv::v1::GetClusterInfoResponse GetClusterInfo() const ABSL_LOCKS_EXCLUDED(mu_);

  // Sorted topic names.
  std::vector<std::string> GetAllTopics() const ABSL_LOCKS_EXCLUDED(mu_);

  // Removes a topic's route, or only the part on `cluster`'s groups when
  // `cluster` is not empty. NOT_FOUND for an unknown topic or cluster.
  absl::Status DeleteTopic(absl::string_view topic, absl::string_view cluster)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Drops brokers not heard from within the expiry; returns their addresses.
  std::vector<std::string> ScanNotActiveBrokers() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct LiveInfo {
    std::string cluster_name;
    std::string broker_name;
    int64_t broker_id = 0;
    std::string ha_server_addr;
    absl::Time last_update;
    common::v1::DataVersion data_version;
  };

  // Removes the broker at `addr` from every table, the group when it empties,
  // and the group's queue data with it.
  void RemoveBrokerLocked(const std::string& addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveBrokerGroupLocked(const std::string& broker_name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateQueueDataLocked(const namesrv::v1::RegisterBrokerRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RouteInfoOptions options_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  // topic -> broker name -> queue data.
  std::map<std::string, std::map<std::string, common::v1::QueueData>> topic_queue_table_
      ABSL_GUARDED_BY(mu_);
  // broker name -> cluster, name and id -> address.
  std::map<std::string, common::v1::BrokerData> broker_addr_table_ ABSL_GUARDED_BY(mu_);
  // cluster -> broker names.
  std::map<std::string, std::set<std::string>> cluster_addr_table_ ABSL_GUARDED_BY(mu_);
  // broker address -> liveness.
  std::map<std::string, LiveInfo> broker_live_table_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::namesrv

#endif  // MQ_SERVICES_NAMESRV_ROUTE_INFO_MANAGER_H_
