// Queue advances waiting to be written to one WatchQueues stream.
#ifndef MQ_SERVICES_STORE_ADVANCE_BUFFER_H_
#define MQ_SERVICES_STORE_ADVANCE_BUFFER_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/store.pb.h"

namespace mq::store {

// Thread-safe. Advances of the same queue are merged: only the newest max
// offset matters to a waiter. The writer takes everything pending at once, so
// one stream message carries a whole burst of the dispatcher's advances.
class AdvanceBuffer {
 public:
  void Push(const v1::QueueAdvance& advance) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits up to `timeout` for an advance; returns every pending one (the
  // newest of each queue, in the order their queues first advanced), possibly
  // none.
  v1::QueueAdvances Take(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  v1::QueueAdvances pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_ADVANCE_BUFFER_H_
