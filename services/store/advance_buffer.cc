#include "services/store/advance_buffer.h"

#include <utility>

namespace mq::store {

void AdvanceBuffer::Push(const v1::QueueAdvance& advance) {
  absl::MutexLock lock(&mu_);
  for (v1::QueueAdvance& pending : *pending_.mutable_advances()) {
    if (pending.queue_id() == advance.queue_id() && pending.topic() == advance.topic()) {
      pending = advance;
      return;
    }
  }
  *pending_.add_advances() = advance;
}

v1::QueueAdvances AdvanceBuffer::Take(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_.advances_size() > 0; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  v1::QueueAdvances taken;
  taken.Swap(&pending_);
  return taken;
}

}  // namespace mq::store
