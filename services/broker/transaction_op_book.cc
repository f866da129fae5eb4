#include "services/broker/transaction_op_book.h"

#include <algorithm>

namespace mq::broker {

void TransactionOpBook::Restore(const internal::TransactionProgress& progress) {
  settled_below_ = std::max<int64_t>(0, progress.settled_below());
  next_half_offset_ = settled_below_;
  next_op_offset_ = std::max<int64_t>(0, progress.next_op_offset());
  settled_.clear();
  pending_.clear();
  restored_check_times_.clear();
  for (int64_t offset : progress.settled()) {
    if (offset >= settled_below_) settled_.insert(offset);
  }
  for (const auto& [offset, times] : progress.check_times()) {
    if (offset >= settled_below_) restored_check_times_[offset] = times;
  }
}

internal::TransactionProgress TransactionOpBook::Snapshot() const {
  internal::TransactionProgress progress;
  progress.set_settled_below(settled_below_);
  progress.set_next_op_offset(next_op_offset_);
  for (int64_t offset : settled_) progress.add_settled(offset);
  auto& check_times = *progress.mutable_check_times();
  for (const auto& [offset, times] : restored_check_times_) check_times[offset] = times;
  for (const auto& [offset, half] : pending_) {
    if (half.check_times > 0) check_times[offset] = half.check_times;
  }
  return progress;
}

void TransactionOpBook::AddHalf(const PendingHalf& half) {
  if (half.queue_offset < next_half_offset_) return;
  HalvesReadTo(half.queue_offset);
  next_half_offset_ = half.queue_offset + 1;
  if (settled_.count(half.queue_offset) == 0) {
    PendingHalf& pending = pending_[half.queue_offset];
    pending = half;
    auto restored = restored_check_times_.find(half.queue_offset);
    if (restored != restored_check_times_.end()) {
      pending.check_times = std::max(pending.check_times, restored->second);
      restored_check_times_.erase(restored);
    }
  }
  Compact();
}

void TransactionOpBook::HalvesReadTo(int64_t next_offset) {
  for (int64_t skipped = next_half_offset_; skipped < next_offset; ++skipped) {
    settled_.insert(skipped);
  }
  next_half_offset_ = std::max(next_half_offset_, next_offset);
  Compact();
}

void TransactionOpBook::AddOp(int64_t op_offset, int64_t half_offset) {
  if (op_offset < next_op_offset_) return;
  next_op_offset_ = op_offset + 1;
  MarkSettled(half_offset);
}

void TransactionOpBook::OpsReadTo(int64_t next_offset) {
  next_op_offset_ = std::max(next_op_offset_, next_offset);
}

void TransactionOpBook::MarkSettled(int64_t half_offset) {
  if (half_offset < settled_below_) return;
  settled_.insert(half_offset);
  pending_.erase(half_offset);
  restored_check_times_.erase(half_offset);
  Compact();
}

bool TransactionOpBook::IsSettled(int64_t half_offset) const {
  return half_offset < settled_below_ || settled_.count(half_offset) > 0;
}

std::vector<PendingHalf> TransactionOpBook::DueBy(absl::Time cutoff) const {
  std::vector<PendingHalf> due;
  for (const auto& [offset, half] : pending_) {
    if (half.store_time <= cutoff) due.push_back(half);
  }
  return due;
}

int32_t TransactionOpBook::RecordCheck(int64_t half_offset) {
  auto it = pending_.find(half_offset);
  if (it == pending_.end()) return 0;
  return ++it->second.check_times;
}

void TransactionOpBook::Compact() {
  while (settled_below_ < next_half_offset_) {
    auto it = settled_.find(settled_below_);
    if (it == settled_.end()) break;
    settled_.erase(it);
    ++settled_below_;
  }
}

}  // namespace mq::broker
