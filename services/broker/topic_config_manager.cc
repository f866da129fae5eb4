#include "services/broker/topic_config_manager.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/broker/broker_metadata.pb.h"
#include "services/broker/metadata_json.h"

namespace mq::broker {

namespace {

constexpr uint32_t kKnownPermBits = common::v1::PERM_INHERIT | common::v1::PERM_WRITE |
                                    common::v1::PERM_READ | common::v1::PERM_PRIORITY;

absl::Status TopicNotExist(absl::string_view topic) {
  return WithResponseCode(
      absl::NotFoundError(absl::StrCat("topic[", topic, "] not exist, apply first please!")),
      common::v1::TOPIC_NOT_EXIST);
}

absl::Status ValidateConfig(const common::v1::TopicConfig& config) {
  absl::Status status = ValidateTopic(config.topic_name());
  if (status.ok()) status = ValidateQueueNums("read queue nums", config.read_queue_nums());
  if (status.ok()) status = ValidateQueueNums("write queue nums", config.write_queue_nums());
  if (status.ok() && (config.perm() & ~kKnownPermBits) != 0) {
    status = absl::InvalidArgumentError(
        absl::StrCat("perm ", config.perm(), " has bits outside INHERIT|WRITE|READ|PRIORITY"));
  }
  for (const auto& [key, value] : config.attributes()) {
    if (status.ok()) status = ValidateTopicAttribute(key, value);
  }
  return status;
}

bool SameConfig(const common::v1::TopicConfig& a, const common::v1::TopicConfig& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

}  // namespace

TopicConfigManager::TopicConfigManager(store::StoreApi* store, TopicConfigOptions options,
                                       const Clock* clock)
    : store_(store), options_(options), clock_(clock) {}

void TopicConfigManager::SetChangeListener(std::function<void()> listener) {
  change_listener_ = std::move(listener);
}

absl::StatusOr<std::pair<TopicConfigManager::Table, common::v1::DataVersion>>
TopicConfigManager::ReadFromStore() const {
  store::v1::GetMetadataRequest request;
  request.set_key(std::string(kTopicsMetadataKey));
  absl::StatusOr<store::v1::GetMetadataResponse> response = store_->GetMetadata(request);
  if (!response.ok()) return response.status();
  internal::TopicConfigTable stored;
  if (response->found()) {
    absl::Status parsed = ParseMetadataJson(response->value(), &stored);
    if (!parsed.ok()) {
      return absl::DataLossError(
          absl::StrCat("metadata \"", kTopicsMetadataKey, "\" is unreadable: ", parsed.message()));
    }
  }
  Table table;
  for (common::v1::TopicConfig& config : *stored.mutable_configs()) {
    std::string name = config.topic_name();
    table[name] = std::move(config);
  }
  return std::make_pair(std::move(table), stored.data_version());
}

absl::Status TopicConfigManager::Load() {
  absl::MutexLock write_lock(&write_mu_);
  absl::StatusOr<std::pair<Table, common::v1::DataVersion>> stored = ReadFromStore();
  if (!stored.ok()) return stored.status();
  Table table = std::move(stored->first);
  {
    absl::MutexLock lock(&mu_);
    table_ = table;
    data_version_ = stored->second;
  }
  LOG(INFO) << "loaded " << table.size() << " topic configs, data version "
            << stored->second.timestamp_ms() << "/" << stored->second.counter();
  if (options_.auto_create_topic_enable && table.count(kDefaultTopic) == 0) {
    common::v1::TopicConfig config;
    config.set_topic_name(std::string(kDefaultTopic));
    config.set_read_queue_nums(options_.default_topic_queue_nums);
    config.set_write_queue_nums(options_.default_topic_queue_nums);
    config.set_perm(common::v1::PERM_INHERIT | kPermReadWrite);
    table[config.topic_name()] = config;
    return CommitLocked(std::move(table));
  }
  return absl::OkStatus();
}

absl::Status TopicConfigManager::Reload() {
  bool changed = false;
  {
    absl::MutexLock write_lock(&write_mu_);
    absl::StatusOr<std::pair<Table, common::v1::DataVersion>> stored = ReadFromStore();
    if (!stored.ok()) return stored.status();
    absl::MutexLock lock(&mu_);
    changed = stored->second.counter() != data_version_.counter() ||
              stored->second.timestamp_ms() != data_version_.timestamp_ms();
    if (changed) {
      table_ = std::move(stored->first);
      data_version_ = stored->second;
    }
  }
  if (changed) NotifyChanged();
  return absl::OkStatus();
}

absl::optional<common::v1::TopicConfig> TopicConfigManager::Find(absl::string_view topic) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = table_.find(topic);
  if (it == table_.end()) return absl::nullopt;
  return it->second;
}

absl::StatusOr<common::v1::TopicConfig> TopicConfigManager::FindExisting(
    absl::string_view topic) const {
  if (absl::Status valid = ValidateTopic(topic); !valid.ok()) return valid;
  absl::optional<common::v1::TopicConfig> config = Find(topic);
  if (!config.has_value()) {
    return WithResponseCode(absl::NotFoundError(absl::StrCat("topic[", topic, "] not exist")),
                            common::v1::TOPIC_NOT_EXIST);
  }
  return *std::move(config);
}

absl::Status TopicConfigManager::CheckReadQueue(absl::string_view topic, int32_t queue_id) const {
  absl::StatusOr<common::v1::TopicConfig> config = FindExisting(topic);
  if (!config.ok()) return config.status();
  return CheckReadQueueId(*config, queue_id);
}

absl::Status CheckReadQueueId(const common::v1::TopicConfig& config, int32_t queue_id) {
  if (queue_id < 0 || queue_id >= config.read_queue_nums()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("queueId[%d] is illegal, topic %s has %d read queues", queue_id,
                        config.topic_name(), config.read_queue_nums()));
  }
  return absl::OkStatus();
}

absl::StatusOr<common::v1::TopicConfig> TopicConfigManager::FindOrCreateForSend(
    absl::string_view topic, absl::string_view default_topic, int32_t client_queue_nums) {
  absl::optional<common::v1::TopicConfig> found = Find(topic);
  if (found.has_value()) return *std::move(found);
  // With auto-creation off nothing is created, not even from another topic
  // with INHERIT (RocketMQ issue #8801).
  if (!options_.auto_create_topic_enable || default_topic.empty() || default_topic == topic) {
    return TopicNotExist(topic);
  }
  absl::Status valid = ValidateTopic(topic);
  if (!valid.ok()) return valid;

  common::v1::TopicConfig created;
  {
    absl::MutexLock write_lock(&write_mu_);
    Table table;
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = table_.find(topic);
      if (it != table_.end()) return it->second;  // another send created it meanwhile
      table = table_;
    }
    auto def = table.find(default_topic);
    if (def == table.end() || !HasPerm(def->second.perm(), common::v1::PERM_INHERIT)) {
      return TopicNotExist(topic);
    }
    if (client_queue_nums <= 0) client_queue_nums = kDefaultClientTopicQueueNums;
    int32_t queues = std::min(client_queue_nums, def->second.write_queue_nums());
    created.set_topic_name(std::string(topic));
    created.set_read_queue_nums(queues);
    created.set_write_queue_nums(queues);
    created.set_perm(def->second.perm() & ~static_cast<uint32_t>(common::v1::PERM_INHERIT));
    created.set_topic_sys_flag(def->second.topic_sys_flag());
    table[created.topic_name()] = created;
    absl::Status committed = CommitLocked(std::move(table));
    if (!committed.ok()) return committed;
  }
  LOG(INFO) << "auto-created topic " << topic << " from " << default_topic << " with "
            << created.write_queue_nums() << " queues, perm " << created.perm();
  NotifyChanged();
  return created;
}

absl::StatusOr<common::v1::TopicConfig> TopicConfigManager::FindOrCreateSystemTopic(
    absl::string_view topic, int32_t queue_nums, uint32_t perm) {
  absl::optional<common::v1::TopicConfig> found = Find(topic);
  if (found.has_value()) return *std::move(found);
  common::v1::TopicConfig created;
  created.set_topic_name(std::string(topic));
  created.set_read_queue_nums(queue_nums);
  created.set_write_queue_nums(queue_nums);
  created.set_perm(perm);
  if (absl::Status valid = ValidateConfig(created); !valid.ok()) return valid;
  {
    absl::MutexLock write_lock(&write_mu_);
    Table table;
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = table_.find(topic);
      if (it != table_.end()) return it->second;  // created meanwhile
      table = table_;
    }
    table[created.topic_name()] = created;
    if (absl::Status committed = CommitLocked(std::move(table)); !committed.ok()) return committed;
  }
  LOG(INFO) << "created topic " << topic << " with " << queue_nums << " queues, perm " << perm;
  NotifyChanged();
  return created;
}

absl::Status TopicConfigManager::CreateOrUpdate(const common::v1::TopicConfig& config) {
  absl::Status valid = ValidateConfig(config);
  if (!valid.ok()) return valid;
  {
    absl::MutexLock write_lock(&write_mu_);
    Table table;
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = table_.find(config.topic_name());
      if (it != table_.end() && SameConfig(it->second, config)) return absl::OkStatus();
      table = table_;
    }
    table[config.topic_name()] = config;
    absl::Status committed = CommitLocked(std::move(table));
    if (!committed.ok()) return committed;
  }
  LOG(INFO) << "topic " << config.topic_name() << " set: " << config.read_queue_nums() << " read, "
            << config.write_queue_nums() << " write queues, perm " << config.perm();
  NotifyChanged();
  return absl::OkStatus();
}

absl::Status TopicConfigManager::Delete(absl::string_view topic) {
  {
    absl::MutexLock write_lock(&write_mu_);
    Table table;
    {
      absl::ReaderMutexLock lock(&mu_);
      if (table_.find(topic) == table_.end()) return TopicNotExist(topic);
      table = table_;
    }
    table.erase(table.find(topic));
    absl::Status committed = CommitLocked(std::move(table));
    if (!committed.ok()) return committed;
  }
  LOG(INFO) << "topic " << topic << " deleted";
  NotifyChanged();
  return absl::OkStatus();
}

TopicConfigManager::Snapshot TopicConfigManager::GetSnapshot() const {
  Snapshot snapshot;
  absl::ReaderMutexLock lock(&mu_);
  snapshot.configs.reserve(table_.size());
  for (const auto& [name, config] : table_) snapshot.configs.push_back(config);
  snapshot.data_version = data_version_;
  return snapshot;
}

absl::Status TopicConfigManager::CommitLocked(Table table) {
  common::v1::DataVersion version;
  {
    absl::ReaderMutexLock lock(&mu_);
    version = data_version_;
  }
  version.set_timestamp_ms(absl::ToUnixMillis(clock_->Now()));
  version.set_counter(version.counter() + 1);

  internal::TopicConfigTable stored;
  for (const auto& [name, config] : table) *stored.add_configs() = config;
  *stored.mutable_data_version() = version;
  store::v1::PutMetadataRequest request;
  store::v1::MetadataEntry* entry = request.add_entries();
  entry->set_key(std::string(kTopicsMetadataKey));
  absl::StatusOr<std::string> json = ToMetadataJson(stored);
  if (!json.ok()) return json.status();
  entry->set_value(*std::move(json));
  absl::Status put = store_->PutMetadata(request);
  if (!put.ok()) {
    LOG(WARNING) << "cannot persist topic configs: " << put;
    return put;
  }
  absl::MutexLock lock(&mu_);
  table_ = std::move(table);
  data_version_ = version;
  return absl::OkStatus();
}

void TopicConfigManager::NotifyChanged() {
  if (change_listener_) change_listener_();
}

}  // namespace mq::broker
