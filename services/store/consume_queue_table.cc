#include "services/store/consume_queue_table.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace mq::store {

ConsumeQueueTable::ConsumeQueueTable(ConsumeQueueTableOptions options)
    : options_(std::move(options)) {}

std::string ConsumeQueueTable::QueueDir(absl::string_view topic, int32_t queue_id) const {
  return absl::StrCat(options_.dir, "/", topic, "/", queue_id);
}

absl::Status ConsumeQueueTable::Load() {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(options_.dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("create directory ", options_.dir, ": ", error.message()));
  }
  std::vector<std::shared_ptr<ConsumeQueue>> loaded;
  for (const fs::directory_entry& topic_entry : fs::directory_iterator(options_.dir, error)) {
    const std::string topic = topic_entry.path().filename().string();
    if (!topic_entry.is_directory() || !ValidateTopic(topic).ok()) {
      LOG(WARNING) << "ignoring " << topic_entry.path() << ": not a topic directory";
      continue;
    }
    for (const fs::directory_entry& queue_entry :
         fs::directory_iterator(topic_entry.path(), error)) {
      const std::string name = queue_entry.path().filename().string();
      int32_t queue_id = -1;
      if (!queue_entry.is_directory() || !absl::SimpleAtoi(name, &queue_id) || queue_id < 0 ||
          name != absl::StrCat(queue_id)) {
        LOG(WARNING) << "ignoring " << queue_entry.path() << ": not a queue directory";
        continue;
      }
      auto queue = std::make_shared<ConsumeQueue>(topic, queue_id, queue_entry.path().string(),
                                                  options_.queue);
      if (absl::Status status = queue->Load(); !status.ok()) {
        return absl::Status(status.code(), absl::StrCat("loading consume queue ", topic, "/",
                                                        queue_id, ": ", status.message()));
      }
      loaded.push_back(std::move(queue));
    }
    if (error) break;
  }
  if (error) {
    return absl::InternalError(absl::StrCat("list ", options_.dir, ": ", error.message()));
  }
  absl::MutexLock lock(&mu_);
  for (std::shared_ptr<ConsumeQueue>& queue : loaded) {
    queues_[queue->topic()][queue->queue_id()] = std::move(queue);
  }
  LOG(INFO) << "loaded " << loaded.size() << " consume queues from " << options_.dir;
  return absl::OkStatus();
}

std::shared_ptr<ConsumeQueue> ConsumeQueueTable::Find(absl::string_view topic,
                                                      int32_t queue_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto topic_it = queues_.find(topic);
  if (topic_it == queues_.end()) return nullptr;
  auto queue_it = topic_it->second.find(queue_id);
  return queue_it == topic_it->second.end() ? nullptr : queue_it->second;
}

absl::StatusOr<std::shared_ptr<ConsumeQueue>> ConsumeQueueTable::FindOrCreate(
    absl::string_view topic, int32_t queue_id) {
  if (std::shared_ptr<ConsumeQueue> queue = Find(topic, queue_id); queue != nullptr) {
    return queue;
  }
  if (absl::Status status = ValidateTopic(topic); !status.ok()) return status;
  if (queue_id < 0) {
    return absl::InvalidArgumentError(absl::StrCat("queue id ", queue_id, " is negative"));
  }
  absl::MutexLock lock(&mu_);
  std::shared_ptr<ConsumeQueue>& slot = queues_[std::string(topic)][queue_id];
  if (slot != nullptr) return slot;
  auto queue = std::make_shared<ConsumeQueue>(std::string(topic), queue_id,
                                              QueueDir(topic, queue_id), options_.queue);
  if (absl::Status status = queue->Load(); !status.ok()) {
    auto topic_it = queues_.find(topic);
    topic_it->second.erase(queue_id);
    if (topic_it->second.empty()) queues_.erase(topic_it);
    return status;
  }
  slot = queue;
  return queue;
}

std::vector<std::shared_ptr<ConsumeQueue>> ConsumeQueueTable::QueuesOf(
    absl::string_view topic) const {
  std::vector<std::shared_ptr<ConsumeQueue>> queues;
  absl::ReaderMutexLock lock(&mu_);
  auto topic_it = queues_.find(topic);
  if (topic_it == queues_.end()) return queues;
  for (const auto& [queue_id, queue] : topic_it->second) queues.push_back(queue);
  return queues;
}

std::vector<std::shared_ptr<ConsumeQueue>> ConsumeQueueTable::All() const {
  std::vector<std::shared_ptr<ConsumeQueue>> queues;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [topic, by_id] : queues_) {
    for (const auto& [queue_id, queue] : by_id) queues.push_back(queue);
  }
  return queues;
}

absl::Status ConsumeQueueTable::DeleteTopic(absl::string_view topic) {
  // Holding the lock keeps FindOrCreate from making a queue of this topic
  // while its directory is being removed.
  absl::MutexLock lock(&mu_);
  auto topic_it = queues_.find(topic);
  absl::Status result;
  if (topic_it != queues_.end()) {
    for (const auto& [queue_id, queue] : topic_it->second) result.Update(queue->Destroy());
    queues_.erase(topic_it);
  }
  std::error_code error;
  const std::string dir = absl::StrCat(options_.dir, "/", topic);
  if (ValidateTopic(topic).ok()) std::filesystem::remove_all(dir, error);
  if (error) {
    result.Update(absl::InternalError(absl::StrCat("remove ", dir, ": ", error.message())));
  }
  LOG(INFO) << "deleted consume queues of topic " << topic;
  return result;
}

PhysicalOffset ConsumeQueueTable::MaxPhysicalOffset() const {
  PhysicalOffset max_physical(0);
  for (const auto& queue : All()) max_physical = std::max(max_physical, queue->MaxPhysicalOffset());
  return max_physical;
}

absl::Status ConsumeQueueTable::TruncateByPhysicalOffset(PhysicalOffset commit_log_offset) {
  for (const auto& queue : All()) {
    if (absl::Status status = queue->TruncateByPhysicalOffset(commit_log_offset); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

int ConsumeQueueTable::DeleteFilesBelowPhysicalOffset(PhysicalOffset min_commit_log_offset) {
  int deleted = 0;
  for (const auto& queue : All()) {
    deleted += queue->DeleteFilesBelowPhysicalOffset(min_commit_log_offset);
  }
  return deleted;
}

absl::Status ConsumeQueueTable::Flush(int least_pages) {
  absl::Status result;
  for (const auto& queue : All()) result.Update(queue->Flush(least_pages));
  return result;
}

}  // namespace mq::store
