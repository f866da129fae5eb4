#include "services/broker/rebalance_lock_manager.h"

#include <glog/logging.h>

#include "common/validation.h"

namespace mq::broker {
namespace {

std::tuple<std::string, std::string, int32_t> KeyOf(const common::v1::MessageQueue& queue) {
  return {queue.broker_name(), queue.topic(), queue.queue_id()};
}

}  // namespace

RebalanceLockManager::RebalanceLockManager(absl::Duration max_live_time, const Clock* clock)
    : max_live_time_(max_live_time), clock_(clock) {}

absl::Status RebalanceLockManager::Validate(absl::string_view group, absl::string_view client_id,
                                            const std::vector<common::v1::MessageQueue>& queues) {
  if (absl::Status status = ValidateGroup(group); !status.ok()) return status;
  if (client_id.empty()) return absl::InvalidArgumentError("client id must not be empty");
  for (const common::v1::MessageQueue& queue : queues) {
    if (queue.topic().empty()) return absl::InvalidArgumentError("a queue has no topic");
  }
  return absl::OkStatus();
}

bool RebalanceLockManager::Expired(const Lock& lock, absl::Time now) const {
  return now - lock.last_update > max_live_time_;
}

absl::StatusOr<std::vector<common::v1::MessageQueue>> RebalanceLockManager::TryLockBatch(
    absl::string_view group, absl::string_view client_id,
    const std::vector<common::v1::MessageQueue>& queues) {
  if (absl::Status status = Validate(group, client_id, queues); !status.ok()) return status;
  const absl::Time now = clock_->Now();
  std::vector<common::v1::MessageQueue> locked;
  absl::MutexLock lock(&mu_);
  auto it = groups_.find(group);
  if (it == groups_.end())
    it = groups_.emplace(std::string(group), std::map<QueueKey, Lock>{}).first;
  std::map<QueueKey, Lock>& locks = it->second;
  for (const common::v1::MessageQueue& queue : queues) {
    auto [entry, inserted] = locks.try_emplace(KeyOf(queue), Lock{std::string(client_id), now});
    Lock& held = entry->second;
    if (!inserted && held.client_id != client_id) {
      if (!Expired(held, now)) continue;
      LOG(INFO) << "group " << group << ": lock of " << queue.topic() << "/" << queue.queue_id()
                << " expired for " << held.client_id << ", now held by " << client_id;
      held.client_id = std::string(client_id);
    }
    held.last_update = now;
    locked.push_back(queue);
  }
  return locked;
}

absl::Status RebalanceLockManager::UnlockBatch(
    absl::string_view group, absl::string_view client_id,
    const std::vector<common::v1::MessageQueue>& queues) {
  if (absl::Status status = Validate(group, client_id, queues); !status.ok()) return status;
  absl::MutexLock lock(&mu_);
  auto it = groups_.find(group);
  if (it == groups_.end()) return absl::OkStatus();
  for (const common::v1::MessageQueue& queue : queues) {
    auto held = it->second.find(KeyOf(queue));
    if (held != it->second.end() && held->second.client_id == client_id) it->second.erase(held);
  }
  if (it->second.empty()) groups_.erase(it);
  return absl::OkStatus();
}

int RebalanceLockManager::UnlockAll(absl::string_view group, absl::string_view client_id) {
  absl::MutexLock lock(&mu_);
  auto it = groups_.find(group);
  if (it == groups_.end()) return 0;
  int released = 0;
  for (auto held = it->second.begin(); held != it->second.end();) {
    if (held->second.client_id == client_id) {
      held = it->second.erase(held);
      ++released;
    } else {
      ++held;
    }
  }
  if (it->second.empty()) groups_.erase(it);
  return released;
}

}  // namespace mq::broker
