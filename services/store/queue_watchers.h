// Listeners interested in queue advances (the broker's long-polling pulls),
// called by the dispatcher after it indexes messages.
#ifndef MQ_SERVICES_STORE_QUEUE_WATCHERS_H_
#define MQ_SERVICES_STORE_QUEUE_WATCHERS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/store.pb.h"
#include "services/store/store_api.h"

namespace mq::store {

// Thread-safe. Notify() holds the registry's lock while calling listeners, so
// a Watch destroyed on another thread waits for a call in progress; a
// listener must not destroy its own Watch.
class QueueWatchers {
 public:
  QueueWatchers() = default;
  QueueWatchers(const QueueWatchers&) = delete;
  QueueWatchers& operator=(const QueueWatchers&) = delete;

  std::unique_ptr<StoreApi::Watch> Add(StoreApi::QueueListener listener) ABSL_LOCKS_EXCLUDED(mu_);

  // Calls every listener with every advance.
  void Notify(const std::vector<v1::QueueAdvance>& advances) ABSL_LOCKS_EXCLUDED(mu_);

  bool empty() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class WatchImpl;
  void Remove(int64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, StoreApi::QueueListener> listeners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_QUEUE_WATCHERS_H_
