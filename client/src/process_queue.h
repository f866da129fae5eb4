// The messages a push consumer pulled from one queue and has not consumed yet
// (RocketMQ's ProcessQueue): what waits for the listener, what the listener
// holds, and from them the offset that is safe to commit.
#ifndef MQ_CLIENT_SRC_PROCESS_QUEUE_H_
#define MQ_CLIENT_SRC_PROCESS_QUEUE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mq/message_ext.h"

namespace mq::client_internal {

// One consume task at a time per queue: Put() and Requeue() return true when
// the caller must start one (none is running and messages wait); the task
// calls TakeBatch() until it returns nothing, which also ends its turn. So
// the listener sees a queue's messages one batch at a time, in offset order
// (a redelivered message goes first when it is due again).
//
// For orderly consumption it also holds what RocketMQ's ProcessQueue does:
// whether the member holds the queue's lock on the broker, and a mutex held
// around each listener call.
//
// A taken message is "with the listener" until Release() (the listener
// answered) or TakeExpired() (it held the message too long); only the first
// of the two gets it, so a timed-out message is not handled twice.
//
// Thread-safe.
class ProcessQueue {
 public:
  ProcessQueue() = default;
  ProcessQueue(const ProcessQueue&) = delete;
  ProcessQueue& operator=(const ProcessQueue&) = delete;

  // Adds pulled messages (ascending offsets). Ignored once dropped.
  bool Put(std::vector<MessageExt> messages) ABSL_LOCKS_EXCLUDED(mu_);
  // Puts messages the listener asked to see again ahead of the waiting ones.
  // They are still unconsumed, so they kept their place in the commit offset.
  // Called by the running consume task itself (orderly: a suspended batch),
  // it returns false and the task keeps its turn.
  bool Requeue(std::vector<MessageExt> messages) ABSL_LOCKS_EXCLUDED(mu_);
  // Up to `max` waiting messages, with the listener from `now`; empty (ending
  // the consume task's turn) when none wait or the queue was dropped.
  std::vector<MessageExt> TakeBatch(int max, absl::Time now = absl::Now()) ABSL_LOCKS_EXCLUDED(mu_);
  // The listener answered for `batch`: the messages of it still with the
  // listener (not taken by TakeExpired meanwhile), no longer with it.
  std::vector<MessageExt> Release(const std::vector<MessageExt>& batch) ABSL_LOCKS_EXCLUDED(mu_);
  // The messages with the listener since before `taken_before`, no longer
  // with it (still unconsumed: Remove() or Requeue() them).
  std::vector<MessageExt> TakeExpired(absl::Time taken_before) ABSL_LOCKS_EXCLUDED(mu_);
  // Marks messages consumed and returns the offset to commit: the lowest
  // offset still unconsumed, or one past the highest offset ever put when
  // everything is consumed; -1 when nothing was ever put.
  int64_t Remove(const std::vector<MessageExt>& messages) ABSL_LOCKS_EXCLUDED(mu_);

  // After a drop nothing more is taken or put (the queue went to another
  // consumer or the consumer stops).
  void Drop() ABSL_LOCKS_EXCLUDED(mu_);
  bool dropped() const ABSL_LOCKS_EXCLUDED(mu_);

  // For flow control: unconsumed messages, their body bytes, and the distance
  // between the lowest and highest unconsumed offsets.
  size_t message_count() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t body_bytes() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t offset_span() const ABSL_LOCKS_EXCLUDED(mu_);
  // True when no message is unconsumed.
  bool empty() const ABSL_LOCKS_EXCLUDED(mu_);

  // Orderly consumption in clustering: the member locked the queue on its
  // broker at `now` (a renewal too), or lost the lock.
  void MarkLocked(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  void MarkUnlocked() ABSL_LOCKS_EXCLUDED(mu_);
  // Locked, and the last lock is younger than `max_live_time`.
  bool LockValid(absl::Time now, absl::Duration max_live_time) const ABSL_LOCKS_EXCLUDED(mu_);
  // Orderly consumption: held around each listener call, so a member
  // releasing the queue waits for the call in flight before it unlocks.
  absl::Mutex* consume_mutex() ABSL_LOCK_RETURNED(consume_mu_) { return &consume_mu_; }

 private:
  bool NeedsConsumer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // Offset -> body bytes of every unconsumed message (waiting or with the listener).
  std::map<int64_t, int64_t> unconsumed_ ABSL_GUARDED_BY(mu_);
  std::deque<MessageExt> waiting_ ABSL_GUARDED_BY(mu_);
  // Offset -> (taken at, message) of the messages with the listener.
  std::map<int64_t, std::pair<absl::Time, MessageExt>> with_listener_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t highest_offset_ ABSL_GUARDED_BY(mu_) = -1;
  bool consuming_ ABSL_GUARDED_BY(mu_) = false;
  bool dropped_ ABSL_GUARDED_BY(mu_) = false;
  bool locked_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_lock_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  absl::Mutex consume_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_PROCESS_QUEUE_H_
