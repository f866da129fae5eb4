// Topic administration and the broker's statistics: create, update and delete
// topics (a deletion also drops the store's queues and the groups' offsets),
// list them, per-queue offsets of a topic, a consumer group's progress, and the
// broker's runtime figures.
#ifndef MQ_SERVICES_BROKER_ADMIN_PROCESSOR_H_
#define MQ_SERVICES_BROKER_ADMIN_PROCESSOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/broker.pb.h"
#include "proto/store.pb.h"
#include "services/broker/broker_stats.h"
#include "services/broker/consumer_offset_manager.h"
#include "services/broker/topic_config_manager.h"
#include "services/store/store_api.h"

namespace mq::broker {

// Who the broker is, for GetRuntimeStats.
struct BrokerIdentity {
  std::string cluster_name;
  std::string broker_name;
  int64_t broker_id = 0;
  store::v1::BrokerRole role = store::v1::ASYNC_MASTER;
};

// Thread-safe. Every pointer must outlive the processor.
class AdminProcessor {
 public:
  // Adds figures of other parts of the broker to GetRuntimeStats' `extra`.
  using ExtraStats = std::function<void(std::map<std::string, std::string>* extra)>;

  AdminProcessor(store::StoreApi* store, TopicConfigManager* topics, ConsumerOffsetManager* offsets,
                 BrokerStats* stats, BrokerIdentity identity, absl::Time start_time,
                 ExtraStats extra_stats);

  AdminProcessor(const AdminProcessor&) = delete;
  AdminProcessor& operator=(const AdminProcessor&) = delete;

  // FAILED_PRECONDITION on a slave (its topics follow its master's);
  // otherwise as TopicConfigManager::CreateOrUpdate.
  absl::Status CreateOrUpdateTopic(const common::v1::TopicConfig& config);
  // Removes the config, the store's queues and every group's offsets of the
  // topic. NOT_FOUND + TOPIC_NOT_EXIST when the config is missing (the
  // store's queues are still dropped, so a retry after a partial failure
  // cleans up). FAILED_PRECONDITION on a slave.
  absl::Status DeleteTopic(const std::string& topic);
  broker::v1::GetAllTopicConfigsResponse GetAllTopicConfigs() const;
  // Offsets of each queue of the topic. NOT_FOUND + TOPIC_NOT_EXIST.
  absl::StatusOr<broker::v1::GetTopicStatsResponse> GetTopicStats(const std::string& topic);
  // For each queue of the group's topics (or of `request.topic()`): the
  // queue's max offset, the group's committed offset (0 if none), and the
  // store time of the last consumed message.
  absl::StatusOr<broker::v1::GetConsumeStatsResponse> GetConsumeStats(
      const broker::v1::GetConsumeStatsRequest& request);
  // The groups with committed offsets here and those in `online` (group ->
  // live members), each with its lag.
  absl::StatusOr<broker::v1::ListConsumerGroupsResponse> ListConsumerGroups(
      const std::map<std::string, int>& online);
  // Never fails: figures the store cannot give are left out and
  // extra["store_error"] says why.
  broker::v1::GetRuntimeStatsResponse GetRuntimeStats();
  // Store time of the message at `offset` of a queue, 0 if unknown.
  int64_t StoreTimestampAt(const std::string& topic, int32_t queue_id, int64_t offset);

 private:
  absl::Status CheckMaster() const;

  store::StoreApi* const store_;
  TopicConfigManager* const topics_;
  ConsumerOffsetManager* const offsets_;
  BrokerStats* const stats_;
  const BrokerIdentity identity_;
  const absl::Time start_time_;
  const ExtraStats extra_stats_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_ADMIN_PROCESSOR_H_
