#include "services/broker/admin_processor.h"

#include <glog/logging.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/broker/broker_errors.h"

namespace mq::broker {

AdminProcessor::AdminProcessor(store::StoreApi* store, TopicConfigManager* topics,
                               ConsumerOffsetManager* offsets, BrokerStats* stats,
                               BrokerIdentity identity, absl::Time start_time,
                               ExtraStats extra_stats)
    : store_(store),
      topics_(topics),
      offsets_(offsets),
      stats_(stats),
      identity_(std::move(identity)),
      start_time_(start_time),
      extra_stats_(std::move(extra_stats)) {}

absl::Status AdminProcessor::CheckMaster() const {
  if (identity_.role == store::v1::SLAVE) {
    return absl::FailedPreconditionError(
        absl::StrCat("broker ", identity_.broker_name, " is a slave; change topics on its master"));
  }
  return absl::OkStatus();
}

absl::Status AdminProcessor::CreateOrUpdateTopic(const common::v1::TopicConfig& config) {
  absl::Status status = CheckMaster();
  if (!status.ok()) return status;
  return topics_->CreateOrUpdate(config);
}

absl::Status AdminProcessor::DeleteTopic(const std::string& topic) {
  absl::Status status = CheckMaster();
  if (!status.ok()) return status;
  status = ValidateTopic(topic);
  if (!status.ok()) return status;
  absl::Status deleted = topics_->Delete(topic);
  if (!deleted.ok() && deleted.code() != absl::StatusCode::kNotFound) return deleted;
  store::v1::DeleteTopicRequest request;
  request.set_topic(topic);
  absl::Status dropped = store_->DeleteTopic(request);
  if (!dropped.ok()) {
    LOG(WARNING) << "topic " << topic << ": config removed, store queues not: " << dropped;
    return StoreCallError(absl::StrCat("cannot drop the store queues of topic ", topic), dropped);
  }
  offsets_->RemoveTopic(topic);
  return deleted;
}

broker::v1::GetAllTopicConfigsResponse AdminProcessor::GetAllTopicConfigs() const {
  TopicConfigManager::Snapshot snapshot = topics_->GetSnapshot();
  broker::v1::GetAllTopicConfigsResponse response;
  for (common::v1::TopicConfig& config : snapshot.configs) {
    *response.add_configs() = std::move(config);
  }
  *response.mutable_data_version() = snapshot.data_version;
  return response;
}

absl::StatusOr<broker::v1::GetTopicStatsResponse> AdminProcessor::GetTopicStats(
    const std::string& topic) {
  absl::optional<common::v1::TopicConfig> config = topics_->Find(topic);
  if (!config.has_value()) {
    return WithResponseCode(absl::NotFoundError(absl::StrCat("topic[", topic, "] not exist")),
                            common::v1::TOPIC_NOT_EXIST);
  }
  broker::v1::GetTopicStatsResponse response;
  int32_t queues = std::max(config->read_queue_nums(), config->write_queue_nums());
  for (int32_t queue_id = 0; queue_id < queues; ++queue_id) {
    store::v1::GetQueueOffsetsRequest request;
    request.set_topic(topic);
    request.set_queue_id(queue_id);
    absl::StatusOr<store::v1::GetQueueOffsetsResponse> offsets = store_->GetQueueOffsets(request);
    if (!offsets.ok()) return StoreCallError("store read failed", offsets.status());
    broker::v1::QueueStats* stats = response.add_queues();
    stats->mutable_queue()->set_topic(topic);
    stats->mutable_queue()->set_broker_name(identity_.broker_name);
    stats->mutable_queue()->set_queue_id(queue_id);
    stats->set_min_offset(offsets->min_offset());
    stats->set_max_offset(offsets->max_offset());
    stats->set_last_update_timestamp_ms(offsets->last_store_timestamp_ms());
  }
  return response;
}

int64_t AdminProcessor::StoreTimestampAt(const std::string& topic, int32_t queue_id,
                                         int64_t offset) {
  store::v1::GetMessagesRequest request;
  request.set_topic(topic);
  request.set_queue_id(queue_id);
  request.set_offset(offset);
  request.set_max_count(1);
  absl::StatusOr<store::v1::GetMessagesResponse> got = store_->GetMessages(request);
  if (!got.ok() || got->messages().empty()) return 0;
  return got->messages(0).store_timestamp_ms();
}

absl::StatusOr<broker::v1::GetConsumeStatsResponse> AdminProcessor::GetConsumeStats(
    const broker::v1::GetConsumeStatsRequest& request) {
  absl::Status status = ValidateGroup(request.consumer_group());
  if (!status.ok()) return status;
  if (!request.topic().empty()) {
    status = ValidateTopic(request.topic());
    if (!status.ok()) return status;
  }
  ConsumerOffsetManager::QueueOffsetMap committed =
      offsets_->GroupOffsets(request.consumer_group(), request.topic());
  // Every queue of each topic, so queues the group never committed show too.
  std::set<std::pair<std::string, int32_t>> queues;
  std::set<std::string> topic_names;
  if (!request.topic().empty()) topic_names.insert(request.topic());
  for (const auto& [queue, offset] : committed) {
    queues.insert(queue);
    topic_names.insert(queue.first);
  }
  for (const std::string& topic : topic_names) {
    absl::optional<common::v1::TopicConfig> config = topics_->Find(topic);
    if (!config.has_value()) continue;
    for (int32_t queue_id = 0; queue_id < config->read_queue_nums(); ++queue_id) {
      queues.insert({topic, queue_id});
    }
  }

  broker::v1::GetConsumeStatsResponse response;
  int64_t diff_total = 0;
  for (const auto& queue : queues) {
    store::v1::GetQueueOffsetsRequest get;
    get.set_topic(queue.first);
    get.set_queue_id(queue.second);
    absl::StatusOr<store::v1::GetQueueOffsetsResponse> offsets = store_->GetQueueOffsets(get);
    if (!offsets.ok()) return StoreCallError("store read failed", offsets.status());
    auto it = committed.find(queue);
    int64_t consumer_offset = it == committed.end() ? 0 : it->second;
    broker::v1::QueueConsumeStats* stats = response.add_queues();
    stats->mutable_queue()->set_topic(queue.first);
    stats->mutable_queue()->set_broker_name(identity_.broker_name);
    stats->mutable_queue()->set_queue_id(queue.second);
    stats->set_broker_offset(offsets->max_offset());
    stats->set_consumer_offset(consumer_offset);
    if (consumer_offset > 0) {
      stats->set_last_timestamp_ms(
          StoreTimestampAt(queue.first, queue.second, consumer_offset - 1));
    }
    diff_total += std::max<int64_t>(0, offsets->max_offset() - consumer_offset);
  }
  response.set_diff_total(diff_total);
  return response;
}

absl::StatusOr<broker::v1::ListConsumerGroupsResponse> AdminProcessor::ListConsumerGroups(
    const std::map<std::string, int>& online) {
  std::set<std::string> groups;
  for (std::string& group : offsets_->Groups()) groups.insert(std::move(group));
  for (const auto& [group, members] : online) groups.insert(group);
  broker::v1::ListConsumerGroupsResponse response;
  for (const std::string& group : groups) {
    broker::v1::ConsumerGroupSummary* summary = response.add_groups();
    summary->set_consumer_group(group);
    auto members = online.find(group);
    summary->set_online_clients(members == online.end() ? 0 : members->second);
    broker::v1::GetConsumeStatsRequest request;
    request.set_consumer_group(group);
    absl::StatusOr<broker::v1::GetConsumeStatsResponse> stats = GetConsumeStats(request);
    if (!stats.ok()) return stats.status();
    std::set<std::string> topics;
    for (const broker::v1::QueueConsumeStats& queue : stats->queues()) {
      topics.insert(queue.queue().topic());
    }
    for (const std::string& topic : topics) summary->add_topics(topic);
    summary->set_diff_total(stats->diff_total());
  }
  return response;
}

broker::v1::GetRuntimeStatsResponse AdminProcessor::GetRuntimeStats() {
  broker::v1::GetRuntimeStatsResponse response;
  response.set_cluster_name(identity_.cluster_name);
  response.set_broker_name(identity_.broker_name);
  response.set_broker_id(identity_.broker_id);
  response.set_role(store::v1::BrokerRole_Name(identity_.role));
  response.set_put_tps(stats_->put_tps());
  response.set_get_tps(stats_->get_tps());
  response.set_total_put_messages(stats_->total_puts());
  response.set_total_get_messages(stats_->total_gets());
  response.set_start_timestamp_ms(absl::ToUnixMillis(start_time_));
  auto& extra = *response.mutable_extra();
  absl::StatusOr<store::v1::GetStatsResponse> store = store_->GetStats();
  if (store.ok()) {
    response.set_commit_log_min_offset(store->min_physical_offset());
    response.set_commit_log_max_offset(store->max_physical_offset());
    response.set_disk_used_ratio(store->disk_used_ratio());
    extra["store_role"] = store::v1::BrokerRole_Name(store->role());
    extra["store_flushed_offset"] = absl::StrCat(store->flushed_offset());
    extra["store_dispatch_behind_bytes"] = absl::StrCat(store->dispatch_behind_bytes());
    extra["store_disk_full"] = store->disk_full() ? "true" : "false";
    extra["store_put_tps"] = absl::StrCat(store->put_tps());
    extra["store_get_tps"] = absl::StrCat(store->get_tps());
    for (const store::v1::SlaveProgress& slave : store->slaves()) {
      extra[absl::StrCat("slave_", slave.broker_id(), "_acked_offset")] =
          absl::StrCat(slave.acked_offset());
    }
  } else {
    extra["store_error"] = std::string(store.status().message());
  }
  if (extra_stats_) {
    std::map<std::string, std::string> more;
    extra_stats_(&more);
    for (auto& [key, value] : more) extra[key] = std::move(value);
  }
  return response;
}

}  // namespace mq::broker
