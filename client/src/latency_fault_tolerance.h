// Which brokers are in a penalty window after slow or failed sends.
#ifndef MQ_CLIENT_SRC_LATENCY_FAULT_TOLERANCE_H_
#define MQ_CLIENT_SRC_LATENCY_FAULT_TOLERANCE_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "common/clock.h"

namespace mq::client_internal {

// One entry per broker name: its last latency and the end of its penalty
// window. Thread-safe.
class LatencyFaultTolerance {
 public:
  // `clock` must outlive this object.
  explicit LatencyFaultTolerance(const Clock* clock) : clock_(clock) {}

  // Records `latency` and benches `broker_name` for `not_available` from now.
  void UpdateFaultItem(const std::string& broker_name, absl::Duration latency,
                       absl::Duration not_available) ABSL_LOCKS_EXCLUDED(mu_);

  // True unless the broker is inside its penalty window.
  bool IsAvailable(absl::string_view broker_name) const ABSL_LOCKS_EXCLUDED(mu_);

  void Remove(absl::string_view broker_name) ABSL_LOCKS_EXCLUDED(mu_);

  // When every candidate is benched, the least bad one: entries sorted by
  // (available first, lower latency, earlier window end), then rotating over
  // the better half. Nullopt when there are no entries.
  absl::optional<std::string> PickOneAtLeast() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct FaultItem {
    absl::Duration latency;
    absl::Time available_from;
  };

  const Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, FaultItem> items_ ABSL_GUARDED_BY(mu_);
  uint32_t which_item_worst_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_LATENCY_FAULT_TOLERANCE_H_
