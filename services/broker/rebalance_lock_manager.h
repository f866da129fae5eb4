// The queue locks of orderly consumers (RocketMQ's RebalanceLockManager): per
// consumer group, which member (client id) may consume each queue of this
// broker. A member locks its queues before consuming them and renews the
// locks periodically (the client every 20 s); a lock not renewed within the
// max live time (RocketMQ: 60 s) is free for another member. Locks live in
// memory only: after a broker restart the members lock their queues again.
#ifndef MQ_SERVICES_BROKER_REBALANCE_LOCK_MANAGER_H_
#define MQ_SERVICES_BROKER_REBALANCE_LOCK_MANAGER_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "proto/common.pb.h"

namespace mq::broker {

// Thread-safe.
class RebalanceLockManager {
 public:
  // `max_live_time` must be positive.
  explicit RebalanceLockManager(absl::Duration max_live_time, const Clock* clock = Clock::Real());

  RebalanceLockManager(const RebalanceLockManager&) = delete;
  RebalanceLockManager& operator=(const RebalanceLockManager&) = delete;

  // Locks for `client_id` each queue that is free, expired or already its own
  // (renewing it), and returns the requested queues the client holds now, in
  // request order; queues another client holds unexpired are left out.
  // INVALID_ARGUMENT (nothing locked) for a bad group name, an empty client
  // id or a queue without a topic.
  absl::StatusOr<std::vector<common::v1::MessageQueue>> TryLockBatch(
      absl::string_view group, absl::string_view client_id,
      const std::vector<common::v1::MessageQueue>& queues) ABSL_LOCKS_EXCLUDED(mu_);

  // Releases the queues `client_id` holds among `queues`; others' locks stay.
  // Same INVALID_ARGUMENT cases as TryLockBatch().
  absl::Status UnlockBatch(absl::string_view group, absl::string_view client_id,
                           const std::vector<common::v1::MessageQueue>& queues)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Releases every lock of `client_id` in `group` (the client left the group
  // or its heartbeats stopped); returns how many.
  int UnlockAll(absl::string_view group, absl::string_view client_id) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // (broker name, topic, queue id).
  using QueueKey = std::tuple<std::string, std::string, int32_t>;
  struct Lock {
    std::string client_id;
    absl::Time last_update;
  };

  static absl::Status Validate(absl::string_view group, absl::string_view client_id,
                               const std::vector<common::v1::MessageQueue>& queues);
  bool Expired(const Lock& lock, absl::Time now) const;

  const absl::Duration max_live_time_;
  const Clock* const clock_;

  absl::Mutex mu_;
  // group -> queue -> lock.
  std::map<std::string, std::map<QueueKey, Lock>, std::less<>> groups_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_REBALANCE_LOCK_MANAGER_H_
