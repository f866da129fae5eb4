// How far the slaves of a master store have acknowledged its commit log, and
// the wait of SYNC_MASTER appends for that acknowledgement (RocketMQ's
// HAService.push2SlaveMaxOffset, isSlaveOK and GroupTransferService). An
// appender, after releasing the append lock, waits until some slave has
// acknowledged the end of its records; each ack wakes every waiter it
// satisfies, so one ack serves all the appends it covers. One slave is enough.
//
// Thread-safe. Stop() releases every waiter and makes later waits fail.
#ifndef MQ_SERVICES_STORE_SLAVE_ACK_WAITER_H_
#define MQ_SERVICES_STORE_SLAVE_ACK_WAITER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/units.h"

namespace mq::store {

struct SlaveAckWaiterOptions {
  // RocketMQ's slaveTimeout: how long an append waits for an ack.
  absl::Duration slave_timeout = absl::Seconds(3);
  // RocketMQ's haSlaveFallbehindMax: an append does not wait (and is answered
  // SLAVE_NOT_AVAILABLE) when the best connected slave lags more than this.
  int64_t slave_fallbehind_max_bytes = 256_MiB;
};

class SlaveAckWaiter {
 public:
  explicit SlaveAckWaiter(SlaveAckWaiterOptions options) : options_(options) {}
  SlaveAckWaiter(const SlaveAckWaiter&) = delete;
  SlaveAckWaiter& operator=(const SlaveAckWaiter&) = delete;

  // A slave stream `session` opened with everything below `acked_offset`
  // already on the slave; it stays connected until RemoveSlave(session).
  void AddSlave(int64_t session, int64_t acked_offset) ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveSlave(int64_t session) ABSL_LOCKS_EXCLUDED(mu_);
  // The slave of `session` has everything below `offset`. Offsets only move
  // forward; a lower ack is ignored.
  void OnAck(int64_t session, int64_t offset) ABSL_LOCKS_EXCLUDED(mu_);

  // Whether an append ending at `end_offset` may wait for an ack: a slave is
  // connected and the best connected one lags less than the fall-behind
  // maximum (RocketMQ's isSlaveOK).
  bool IsSlaveOk(int64_t end_offset) const ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until a slave acknowledged `end_offset`. OK when one did;
  // DEADLINE_EXCEEDED (FLUSH_SLAVE_TIMEOUT) after the slave timeout;
  // UNAVAILABLE once stopped. Must not be called with the append lock held.
  absl::Status WaitForAck(int64_t end_offset) ABSL_LOCKS_EXCLUDED(mu_);

  // Releases every waiter (UNAVAILABLE) and refuses later waits. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // The highest offset any slave acknowledged (also slaves gone since).
  int64_t acked_offset() const ABSL_LOCKS_EXCLUDED(mu_);
  int connected_slaves() const ABSL_LOCKS_EXCLUDED(mu_);
  // Appends blocked in WaitForAck now.
  int waiters() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const SlaveAckWaiterOptions options_;
  mutable absl::Mutex mu_;
  // Session -> its acked offset, for the connected slaves.
  absl::flat_hash_map<int64_t, int64_t> slaves_ ABSL_GUARDED_BY(mu_);
  int64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  int waiters_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_SLAVE_ACK_WAITER_H_
