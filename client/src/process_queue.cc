#include "client/src/process_queue.h"

#include <algorithm>
#include <utility>

namespace mq::client_internal {

bool ProcessQueue::NeedsConsumer() {
  if (consuming_ || dropped_ || waiting_.empty()) return false;
  consuming_ = true;
  return true;
}

bool ProcessQueue::Put(std::vector<MessageExt> messages) {
  absl::MutexLock lock(&mu_);
  if (dropped_) return false;
  for (MessageExt& message : messages) {
    const int64_t size = static_cast<int64_t>(message.message.body().size());
    // A pull repeated from an older offset can return messages already held.
    if (!unconsumed_.emplace(message.queue_offset, size).second) continue;
    bytes_ += size;
    highest_offset_ = std::max(highest_offset_, message.queue_offset);
    waiting_.push_back(std::move(message));
  }
  return NeedsConsumer();
}

bool ProcessQueue::Requeue(std::vector<MessageExt> messages) {
  absl::MutexLock lock(&mu_);
  if (dropped_) return false;
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (unconsumed_.count(it->queue_offset) != 0) waiting_.push_front(std::move(*it));
  }
  return NeedsConsumer();
}

std::vector<MessageExt> ProcessQueue::TakeBatch(int max, absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<MessageExt> batch;
  if (dropped_ || waiting_.empty()) {
    consuming_ = false;
    return batch;
  }
  while (!waiting_.empty() && static_cast<int>(batch.size()) < max) {
    with_listener_.insert_or_assign(waiting_.front().queue_offset,
                                    std::make_pair(now, waiting_.front()));
    batch.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  return batch;
}

std::vector<MessageExt> ProcessQueue::Release(const std::vector<MessageExt>& batch) {
  absl::MutexLock lock(&mu_);
  std::vector<MessageExt> released;
  for (const MessageExt& message : batch) {
    auto it = with_listener_.find(message.queue_offset);
    if (it == with_listener_.end()) continue;
    with_listener_.erase(it);
    released.push_back(message);
  }
  return released;
}

std::vector<MessageExt> ProcessQueue::TakeExpired(absl::Time taken_before) {
  absl::MutexLock lock(&mu_);
  std::vector<MessageExt> expired;
  for (auto it = with_listener_.begin(); it != with_listener_.end();) {
    if (it->second.first < taken_before) {
      expired.push_back(std::move(it->second.second));
      it = with_listener_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

int64_t ProcessQueue::Remove(const std::vector<MessageExt>& messages) {
  absl::MutexLock lock(&mu_);
  for (const MessageExt& message : messages) {
    auto it = unconsumed_.find(message.queue_offset);
    if (it == unconsumed_.end()) continue;
    bytes_ -= it->second;
    unconsumed_.erase(it);
  }
  if (!unconsumed_.empty()) return unconsumed_.begin()->first;
  return highest_offset_ < 0 ? -1 : highest_offset_ + 1;
}

void ProcessQueue::Drop() {
  absl::MutexLock lock(&mu_);
  dropped_ = true;
  waiting_.clear();
  with_listener_.clear();
}

bool ProcessQueue::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

size_t ProcessQueue::message_count() const {
  absl::MutexLock lock(&mu_);
  return unconsumed_.size();
}

int64_t ProcessQueue::body_bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

int64_t ProcessQueue::offset_span() const {
  absl::MutexLock lock(&mu_);
  if (unconsumed_.empty()) return 0;
  return unconsumed_.rbegin()->first - unconsumed_.begin()->first;
}

bool ProcessQueue::empty() const {
  absl::MutexLock lock(&mu_);
  return unconsumed_.empty();
}

void ProcessQueue::MarkLocked(absl::Time now) {
  absl::MutexLock lock(&mu_);
  locked_ = true;
  last_lock_ = now;
}

void ProcessQueue::MarkUnlocked() {
  absl::MutexLock lock(&mu_);
  locked_ = false;
}

bool ProcessQueue::LockValid(absl::Time now, absl::Duration max_live_time) const {
  absl::MutexLock lock(&mu_);
  return locked_ && now - last_lock_ < max_live_time;
}

}  // namespace mq::client_internal
