#include "services/broker/consumer_offset_manager.h"

#include <glog/logging.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "services/broker/broker_metadata.pb.h"
#include "services/broker/metadata_json.h"

namespace mq::broker {

namespace {

// RocketMQ's "topic@group"; neither name can contain '@'.
std::string TableKey(absl::string_view group, absl::string_view topic) {
  return absl::StrCat(topic, "@", group);
}

}  // namespace

absl::Status ConsumerOffsetManager::Load() {
  absl::MutexLock persist_lock(&persist_mu_);
  store::v1::GetMetadataRequest request;
  request.set_key(std::string(kConsumerOffsetsMetadataKey));
  absl::StatusOr<store::v1::GetMetadataResponse> response = store_->GetMetadata(request);
  if (!response.ok()) return response.status();
  internal::ConsumerOffsetTable stored;
  if (response->found()) {
    absl::Status parsed = ParseMetadataJson(response->value(), &stored);
    if (!parsed.ok()) {
      return absl::DataLossError(absl::StrCat("metadata \"", kConsumerOffsetsMetadataKey,
                                              "\" is unreadable: ", parsed.message()));
    }
  }
  Table table;
  for (const auto& [key, queues] : stored.tables()) {
    size_t at = key.rfind('@');
    if (at == std::string::npos) {
      LOG(WARNING) << "skipping consumer offsets under malformed key \"" << key << "\"";
      continue;
    }
    auto& offsets = table[{key.substr(at + 1), key.substr(0, at)}];
    for (const auto& [queue_id, offset] : queues.offsets()) offsets[queue_id] = offset;
  }
  absl::MutexLock lock(&mu_);
  LOG(INFO) << "loaded consumer offsets of " << table.size() << " group/topic pairs";
  table_ = std::move(table);
  persisted_version_ = version_;
  return absl::OkStatus();
}

absl::optional<int64_t> ConsumerOffsetManager::Query(absl::string_view group,
                                                     absl::string_view topic,
                                                     int32_t queue_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = table_.find({std::string(group), std::string(topic)});
  if (it == table_.end()) return absl::nullopt;
  auto queue = it->second.find(queue_id);
  if (queue == it->second.end()) return absl::nullopt;
  return queue->second;
}

void ConsumerOffsetManager::Commit(absl::string_view group, absl::string_view topic,
                                   int32_t queue_id, int64_t offset) {
  absl::MutexLock lock(&mu_);
  table_[{std::string(group), std::string(topic)}][queue_id] = offset;
  ++version_;
}

ConsumerOffsetManager::QueueOffsetMap ConsumerOffsetManager::GroupOffsets(
    absl::string_view group, absl::string_view topic) const {
  QueueOffsetMap result;
  absl::ReaderMutexLock lock(&mu_);
  for (auto it = table_.lower_bound({std::string(group), std::string(topic)});
       it != table_.end() && it->first.first == group; ++it) {
    if (!topic.empty() && it->first.second != topic) break;
    for (const auto& [queue_id, offset] : it->second) {
      result[{it->first.second, queue_id}] = offset;
    }
  }
  return result;
}

std::vector<std::string> ConsumerOffsetManager::Groups() const {
  std::vector<std::string> groups;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [key, queues] : table_) {
    if (groups.empty() || groups.back() != key.first) groups.push_back(key.first);
  }
  return groups;
}

void ConsumerOffsetManager::RemoveTopic(absl::string_view topic) {
  absl::MutexLock lock(&mu_);
  bool removed = false;
  for (auto it = table_.begin(); it != table_.end();) {
    if (it->first.second == topic) {
      it = table_.erase(it);
      removed = true;
    } else {
      ++it;
    }
  }
  if (removed) ++version_;
}

absl::Status ConsumerOffsetManager::Persist() {
  absl::MutexLock persist_lock(&persist_mu_);
  internal::ConsumerOffsetTable stored;
  int64_t version = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (version_ == persisted_version_) return absl::OkStatus();
    version = version_;
    for (const auto& [key, queues] : table_) {
      auto* offsets = (*stored.mutable_tables())[TableKey(key.first, key.second)].mutable_offsets();
      for (const auto& [queue_id, offset] : queues) (*offsets)[queue_id] = offset;
    }
  }
  absl::StatusOr<std::string> json = ToMetadataJson(stored);
  if (!json.ok()) return json.status();
  store::v1::PutMetadataRequest request;
  store::v1::MetadataEntry* entry = request.add_entries();
  entry->set_key(std::string(kConsumerOffsetsMetadataKey));
  entry->set_value(*std::move(json));
  absl::Status put = store_->PutMetadata(request);
  if (!put.ok()) return put;
  absl::MutexLock lock(&mu_);
  persisted_version_ = version;
  return absl::OkStatus();
}

}  // namespace mq::broker
