#include "services/store/slave_ack_waiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace mq::store {

void SlaveAckWaiter::AddSlave(int64_t session, int64_t acked_offset) {
  absl::MutexLock lock(&mu_);
  slaves_[session] = acked_offset;
  acked_ = std::max(acked_, acked_offset);
}

void SlaveAckWaiter::RemoveSlave(int64_t session) {
  absl::MutexLock lock(&mu_);
  slaves_.erase(session);
}

void SlaveAckWaiter::OnAck(int64_t session, int64_t offset) {
  absl::MutexLock lock(&mu_);
  auto it = slaves_.find(session);
  if (it != slaves_.end()) it->second = std::max(it->second, offset);
  // Waiters whose offset this reaches wake when the lock is released.
  acked_ = std::max(acked_, offset);
}

bool SlaveAckWaiter::IsSlaveOk(int64_t end_offset) const {
  absl::MutexLock lock(&mu_);
  if (stopped_ || slaves_.empty()) return false;
  int64_t best = 0;
  for (const auto& [session, acked] : slaves_) best = std::max(best, acked);
  return end_offset - best < options_.slave_fallbehind_max_bytes;
}

absl::Status SlaveAckWaiter::WaitForAck(int64_t end_offset) {
  absl::MutexLock lock(&mu_);
  if (acked_ >= end_offset) return absl::OkStatus();
  if (stopped_) return absl::UnavailableError("replication has stopped");
  ++waiters_;
  struct Waiter {
    const SlaveAckWaiter* waiter;
    int64_t end_offset;
    bool Done() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(waiter->mu_) {
      return waiter->acked_ >= end_offset || waiter->stopped_;
    }
  } waiter{this, end_offset};
  mu_.AwaitWithTimeout(absl::Condition(&waiter, &Waiter::Done), options_.slave_timeout);
  --waiters_;
  if (acked_ >= end_offset) return absl::OkStatus();
  if (stopped_) {
    return absl::UnavailableError(
        absl::StrCat("replication stopped before a slave acknowledged offset ", end_offset));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("flush slave timeout: no slave acknowledged offset ", end_offset, " within ",
                   absl::FormatDuration(options_.slave_timeout), " (acknowledged up to ", acked_,
                   ", ", slaves_.size(), " slaves connected)"));
}

void SlaveAckWaiter::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

int64_t SlaveAckWaiter::acked_offset() const {
  absl::MutexLock lock(&mu_);
  return acked_;
}

int SlaveAckWaiter::connected_slaves() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(slaves_.size());
}

int SlaveAckWaiter::waiters() const {
  absl::MutexLock lock(&mu_);
  return waiters_;
}

}  // namespace mq::store
