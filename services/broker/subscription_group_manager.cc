#include "services/broker/subscription_group_manager.h"

#include <glog/logging.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/retry_topics.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/broker/broker_metadata.pb.h"
#include "services/broker/metadata_json.h"

namespace mq::broker {

broker::v1::SubscriptionGroupConfig DefaultSubscriptionGroupConfig(absl::string_view group) {
  broker::v1::SubscriptionGroupConfig config;
  config.set_group_name(std::string(group));
  config.set_consume_enable(true);
  config.set_consume_broadcast_enable(true);
  config.set_retry_queue_nums(1);
  config.set_retry_max_times(kDefaultMaxReconsumeTimes);
  config.set_consume_from_min_enable(true);
  return config;
}

absl::Status ValidateSubscriptionGroupConfig(const broker::v1::SubscriptionGroupConfig& config) {
  if (absl::Status group = ValidateGroup(config.group_name()); !group.ok()) return group;
  // The retry and DLQ topics are named after the group.
  if (absl::Status topic = ValidateTopic(DlqTopic(config.group_name())); !topic.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("group ", QuoteInput(config.group_name()),
                     " is too long for its retry and dead-letter topics: ", topic.message()));
  }
  if (absl::Status queues = ValidateQueueNums("retry queue nums", config.retry_queue_nums());
      !queues.ok()) {
    return queues;
  }
  if (config.retry_max_times() < 0 || config.retry_max_times() > kMaxRetryMaxTimes) {
    return absl::InvalidArgumentError(absl::StrFormat("retry max times %d is outside 0..%d",
                                                      config.retry_max_times(), kMaxRetryMaxTimes));
  }
  return absl::OkStatus();
}

absl::Status SubscriptionGroupNotExist(absl::string_view group) {
  return WithResponseCode(absl::NotFoundError(absl::StrCat("subscription group ", QuoteInput(group),
                                                           " does not exist on this broker")),
                          common::v1::SUBSCRIPTION_GROUP_NOT_EXIST);
}

absl::StatusOr<common::v1::TopicConfig> FindOrCreateRetryTopic(
    TopicConfigManager* topics, const broker::v1::SubscriptionGroupConfig& group) {
  return topics->FindOrCreateSystemTopic(RetryTopic(group.group_name()), group.retry_queue_nums(),
                                         kPermReadWrite);
}

absl::StatusOr<common::v1::TopicConfig> FindOrCreateDlqTopic(TopicConfigManager* topics,
                                                             absl::string_view group) {
  return topics->FindOrCreateSystemTopic(DlqTopic(group), 1, kDlqTopicPerm);
}

bool ConsumerGroupReady(const SubscriptionGroupManager& groups, const TopicConfigManager& topics,
                        absl::string_view group) {
  return groups.Find(group).has_value() && topics.Find(RetryTopic(group)).has_value();
}

absl::Status PrepareConsumerGroup(SubscriptionGroupManager* groups, TopicConfigManager* topics,
                                  absl::string_view group) {
  absl::StatusOr<broker::v1::SubscriptionGroupConfig> config = groups->FindOrAutoCreate(group);
  if (!config.ok()) return config.status();
  return FindOrCreateRetryTopic(topics, *config).status();
}

SubscriptionGroupManager::SubscriptionGroupManager(store::StoreApi* store,
                                                   SubscriptionGroupOptions options)
    : store_(store), options_(options) {}

absl::Status SubscriptionGroupManager::Load() {
  absl::MutexLock write_lock(&write_mu_);
  store::v1::GetMetadataRequest request;
  request.set_key(std::string(kSubscriptionGroupsMetadataKey));
  absl::StatusOr<store::v1::GetMetadataResponse> response = store_->GetMetadata(request);
  if (!response.ok()) return response.status();
  internal::SubscriptionGroupTable stored;
  if (response->found()) {
    absl::Status parsed = ParseMetadataJson(response->value(), &stored);
    if (!parsed.ok()) {
      return absl::DataLossError(absl::StrCat("metadata \"", kSubscriptionGroupsMetadataKey,
                                              "\" is unreadable: ", parsed.message()));
    }
  }
  Table table;
  for (broker::v1::SubscriptionGroupConfig& config : *stored.mutable_configs()) {
    std::string name = config.group_name();
    table[name] = std::move(config);
  }
  absl::MutexLock lock(&mu_);
  table_ = std::move(table);
  return absl::OkStatus();
}

absl::optional<broker::v1::SubscriptionGroupConfig> SubscriptionGroupManager::Find(
    absl::string_view group) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = table_.find(group);
  if (it == table_.end()) return absl::nullopt;
  return it->second;
}

absl::StatusOr<broker::v1::SubscriptionGroupConfig> SubscriptionGroupManager::FindOrAutoCreate(
    absl::string_view group) {
  absl::optional<broker::v1::SubscriptionGroupConfig> found = Find(group);
  if (found.has_value()) return *std::move(found);
  if (!options_.auto_create_subscription_group) return SubscriptionGroupNotExist(group);
  broker::v1::SubscriptionGroupConfig config = DefaultSubscriptionGroupConfig(group);
  if (absl::Status valid = ValidateSubscriptionGroupConfig(config); !valid.ok()) return valid;
  {
    absl::MutexLock write_lock(&write_mu_);
    Table table;
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = table_.find(group);
      if (it != table_.end()) return it->second;  // created meanwhile
      table = table_;
    }
    table[config.group_name()] = config;
    if (absl::Status committed = CommitLocked(std::move(table)); !committed.ok()) return committed;
  }
  LOG(INFO) << "auto-created subscription group " << group;
  return config;
}

absl::Status SubscriptionGroupManager::CreateOrUpdate(
    const broker::v1::SubscriptionGroupConfig& config) {
  if (absl::Status valid = ValidateSubscriptionGroupConfig(config); !valid.ok()) return valid;
  {
    absl::MutexLock write_lock(&write_mu_);
    Table table;
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = table_.find(config.group_name());
      if (it != table_.end() && it->second.SerializeAsString() == config.SerializeAsString()) {
        return absl::OkStatus();
      }
      table = table_;
    }
    table[config.group_name()] = config;
    if (absl::Status committed = CommitLocked(std::move(table)); !committed.ok()) return committed;
  }
  LOG(INFO) << "subscription group " << config.group_name()
            << " set: " << config.ShortDebugString();
  return absl::OkStatus();
}

absl::Status SubscriptionGroupManager::Delete(absl::string_view group) {
  {
    absl::MutexLock write_lock(&write_mu_);
    Table table;
    {
      absl::ReaderMutexLock lock(&mu_);
      if (table_.find(group) == table_.end()) return SubscriptionGroupNotExist(group);
      table = table_;
    }
    table.erase(table.find(group));
    if (absl::Status committed = CommitLocked(std::move(table)); !committed.ok()) return committed;
  }
  LOG(INFO) << "subscription group " << group << " deleted";
  return absl::OkStatus();
}

std::vector<broker::v1::SubscriptionGroupConfig> SubscriptionGroupManager::GetAll() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<broker::v1::SubscriptionGroupConfig> configs;
  configs.reserve(table_.size());
  for (const auto& [name, config] : table_) configs.push_back(config);
  return configs;
}

absl::Status SubscriptionGroupManager::CommitLocked(Table table) {
  internal::SubscriptionGroupTable stored;
  for (const auto& [name, config] : table) *stored.add_configs() = config;
  absl::StatusOr<std::string> json = ToMetadataJson(stored);
  if (!json.ok()) return json.status();
  store::v1::PutMetadataRequest request;
  store::v1::MetadataEntry* entry = request.add_entries();
  entry->set_key(std::string(kSubscriptionGroupsMetadataKey));
  entry->set_value(*std::move(json));
  if (absl::Status put = store_->PutMetadata(request); !put.ok()) {
    LOG(WARNING) << "cannot persist subscription groups: " << put;
    return put;
  }
  absl::MutexLock lock(&mu_);
  table_ = std::move(table);
  return absl::OkStatus();
}

}  // namespace mq::broker
