#include "services/store/queue_watchers.h"

#include <utility>

namespace mq::store {

class QueueWatchers::WatchImpl final : public StoreApi::Watch {
 public:
  WatchImpl(QueueWatchers* owner, int64_t id) : owner_(owner), id_(id) {}
  ~WatchImpl() override { owner_->Remove(id_); }

 private:
  QueueWatchers* const owner_;
  const int64_t id_;
};

std::unique_ptr<StoreApi::Watch> QueueWatchers::Add(StoreApi::QueueListener listener) {
  absl::MutexLock lock(&mu_);
  int64_t id = next_id_++;
  listeners_.emplace(id, std::move(listener));
  return std::make_unique<WatchImpl>(this, id);
}

void QueueWatchers::Remove(int64_t id) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(id);
}

void QueueWatchers::Notify(const std::vector<v1::QueueAdvance>& advances) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, listener] : listeners_) {
    for (const v1::QueueAdvance& advance : advances) listener(advance);
  }
}

bool QueueWatchers::empty() const {
  absl::MutexLock lock(&mu_);
  return listeners_.empty();
}

}  // namespace mq::store
