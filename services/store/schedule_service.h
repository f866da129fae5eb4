// Delivers the scheduled messages of a master store when they are due
// (RocketMQ's ScheduleMessageService and, for timer messages, the role of its
// TimerMessageStore). Where messages wait is delay_policy.h; this file is the
// delivery and its crash safety.
//
// Delivery. Each round reads the schedule topic's consume queues: a FIFO
// queue (a level or a roll queue) is read at its cursor while the unit's tag
// code (the due time) has passed; the timer queue's units, due within
// kTimerWindow, are loaded into an in-memory heap ordered by due time, bounded
// by max_timer_entries_in_memory. A due entry's record is read, turned back
// into its real topic and queue (REAL_TOPIC / REAL_QID kept, as RocketMQ;
// DELAY and SCHEDULE_DUE_MS removed; the deliver time removed on the last hop)
// and appended again through the store's append path, which routes a rolled
// timer message to its next wait. Memory: one cursor per queue, the heap of
// the timer window, and the exactly-once set below; nothing per message
// further out (those stay in the commit log and consume queues).
//
// Exactly once. Every copy the schedule appends carries SCHEDULE_SOURCE =
// "<queueId>:<offset>" of the entry it came from. A checkpoint in the
// replicated metadata (key kScheduleProgressKey) holds, per queue, the low
// mark L (every entry below it is delivered) and one commit-log offset P such
// that any copy of an entry at or above its queue's L lies at or after P (P =
// the log end when the checkpoint was taken, or earlier: when the oldest
// timer entry still pending was loaded). Recovery reads the checkpoint, scans
// the log from P to its end for SCHEDULE_SOURCE, and skips the entries found
// there: a crash between appending a copy and writing the checkpoint delivers
// nothing twice. Only the copies since the last checkpoint (at most a window
// and a checkpoint interval of deliveries) are remembered.
//
// A slave never runs this: it holds the same schedule (the commit log and
// the checkpoint both replicate) and delivers nothing.
//
// Thread-safety: Recover, RunOnce and Checkpoint are called from one thread
// at a time (the store's schedule thread); the counters are atomic.
#ifndef MQ_SERVICES_STORE_SCHEDULE_SERVICE_H_
#define MQ_SERVICES_STORE_SCHEDULE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "common/clock.h"
#include "proto/store.pb.h"
#include "services/store/commit_log.h"
#include "services/store/consume_queue_table.h"

namespace mq::store {

inline constexpr absl::string_view kScheduleProgressKey = "schedule_progress";

struct ScheduleServiceOptions {
  // Most entries delivered in one append.
  int max_batch = 512;
  // Timer entries (due within kTimerWindow) held in memory at most; further
  // ones wait in their queue until the heap drains.
  int64_t max_timer_entries_in_memory = 2'000'000;
};

// The progress checkpoint (see the header comment).
struct ScheduleProgress {
  int64_t scan_from = 0;
  // Queue id -> low mark.
  absl::btree_map<int32_t, int64_t> low_marks;

  std::string Encode() const;
  // INVALID_ARGUMENT for text Encode did not write.
  static absl::StatusOr<ScheduleProgress> Decode(absl::string_view text);
};

class ScheduleService {
 public:
  // Appends delivered copies (already in their real topic, or routed again by
  // the append path), one result per entry, in order.
  using AppendFn = std::function<std::vector<v1::AppendResult>(std::vector<v1::AppendEntry>)>;
  using GetMetadataFn = std::function<absl::optional<std::string>(absl::string_view key)>;
  using PutMetadataFn = std::function<absl::Status(absl::string_view key, std::string value)>;

  // The log, the queues and the clock must outlive the service.
  ScheduleService(const CommitLog* commit_log, const ConsumeQueueTable* queues, AppendFn append,
                  GetMetadataFn get_metadata, PutMetadataFn put_metadata,
                  ScheduleServiceOptions options, const Clock* clock);
  ScheduleService(const ScheduleService&) = delete;
  ScheduleService& operator=(const ScheduleService&) = delete;

  // Loads the checkpoint and finds the copies appended after it. Call once,
  // after the store recovered and dispatched its log, before RunOnce.
  absl::Status Recover();

  // Delivers what is due now; returns how many entries it delivered (or
  // routed to their next wait). An append that fails is retried next round.
  int64_t RunOnce();

  // Writes the progress checkpoint if it moved.
  absl::Status Checkpoint();

  int64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  // Timer entries in memory now.
  int64_t timer_entries_in_memory() const { return heap_size_.load(std::memory_order_relaxed); }

 private:
  struct TimerEntry {
    int64_t due_ms;
    int64_t offset;
    PhysicalOffset physical_offset;
    friend bool operator>(const TimerEntry& a, const TimerEntry& b) {
      return a.due_ms != b.due_ms ? a.due_ms > b.due_ms : a.offset > b.offset;
    }
  };
  struct Due {
    int32_t queue_id;
    int64_t offset;
    PhysicalOffset physical_offset;
  };

  std::vector<std::shared_ptr<ConsumeQueue>> ScheduleQueues() const;
  // The entries of a FIFO queue due at `now_ms`, from its cursor.
  void CollectFifo(const ConsumeQueue& queue, int64_t now_ms, std::vector<Due>* due);
  void LoadTimerEntries(const ConsumeQueue& queue, int64_t now_ms);
  // Appends copies of `due`; returns how many (a prefix) were stored.
  size_t Deliver(const std::vector<Due>& due);
  absl::StatusOr<v1::AppendEntry> MakeCopy(const Due& due) const;
  // True when recovery found a copy of this entry.
  bool DeliveredBefore(int32_t queue_id, int64_t offset) const;
  // Drops what recovery found below `offset` of the queue (passed by now).
  void ForgetDeliveredBelow(int32_t queue_id, int64_t offset);
  int64_t LowMark(int32_t queue_id) const;

  const CommitLog* const commit_log_;
  const ConsumeQueueTable* const queues_;
  const AppendFn append_;
  const GetMetadataFn get_metadata_;
  const PutMetadataFn put_metadata_;
  const ScheduleServiceOptions options_;
  const Clock* const clock_;

  // Next offset to read, per queue.
  absl::flat_hash_map<int32_t, int64_t> cursors_;
  // Entries at or above the low marks that were delivered before a crash.
  absl::flat_hash_map<int32_t, absl::btree_set<int64_t>> delivered_before_;
  // The timer window: by due time, and by offset -> the log end when loaded.
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<TimerEntry>> heap_;
  absl::btree_map<int64_t, int64_t> timer_pending_;
  // Where recovery scanned from: the checkpoint's scan start while
  // delivered_before_ still holds entries.
  int64_t recovered_scan_from_ = 0;
  // The low marks last written (unset before the first checkpoint).
  absl::optional<std::string> last_checkpoint_;
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> heap_size_{0};
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_SCHEDULE_SERVICE_H_
