// The consume queue of one topic/queue id (RocketMQ's ConsumeQueue): for each
// message of the queue, in queue-offset order, a fixed 20-byte unit pointing
// at its commit-log record. Queue offset n lives at log byte 20 * n of a
// MappedFileQueue in `<root>/consumequeue/<topic>/<queueId>/`, files named by
// their first byte's log offset, 300,000 units (6,000,000 bytes) per file.
//
// Unit layout, big-endian (as RocketMQ's, so files move between hosts):
//   0  commit-log offset  int64
//   8  record size        int32
//   12 tag hash code      int64  (deliver time for scheduled messages)
// An all-zero unit (size 0) was never written: it marks the end of the data
// at recovery. A blank unit (offset 0, size INT32_MAX, tag 0, as RocketMQ's)
// fills queue offsets that have no message: the offsets before the first unit
// of a queue that starts past 0, and any gap the dispatcher left (a bug,
// logged). Readers skip blank units.
//
// Offsets: MinOffset() is the first readable unit (not deleted by retention,
// not blank), MaxOffset() one past the last unit; both are queue offsets.
//
// Thread-safety: writes (PutUnit, Recover, TruncateByPhysicalOffset, Destroy)
// are serialized internally and are meant for the single dispatcher thread.
// Reads (GetUnit, GetUnits, the offsets, OffsetByTime), Flush and
// DeleteFilesBelowPhysicalOffset are safe from any thread at any time.
#ifndef MQ_SERVICES_STORE_CONSUME_QUEUE_H_
#define MQ_SERVICES_STORE_CONSUME_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "services/store/mapped_file_queue.h"
#include "services/store/offsets.h"

namespace mq::store {

struct ConsumeQueueUnit {
  static constexpr int64_t kBytes = 20;
  static constexpr int32_t kBlankSize = std::numeric_limits<int32_t>::max();

  QueueOffset queue_offset;
  PhysicalOffset commit_log_offset;
  int32_t size = 0;
  int64_t tag_code = 0;

  bool is_blank() const { return size == kBlankSize; }
};

// Files are created when needed, without a MappedFileAllocator (as RocketMQ's
// consume queues): a 6 MB file is quick to create, and a file prepared ahead
// at an offset the queue then abandons (a queue restarting past its end)
// would be taken for data at recovery.
struct ConsumeQueueOptions {
  // Units per file (RocketMQ's mappedFileSizeConsumeQueue / 20).
  int64_t units_per_file = 300'000;
};

class ConsumeQueue {
 public:
  // Returns the store timestamp (ms) of the record at a commit-log offset;
  // NOT_FOUND if the record is gone (retention).
  using StoreTimeLookup =
      absl::FunctionRef<absl::StatusOr<int64_t>(PhysicalOffset commit_log_offset, int32_t size)>;

  // `dir` is `<root>/consumequeue/<topic>/<queueId>`. Nothing is read until Load().
  ConsumeQueue(std::string topic, int32_t queue_id, std::string dir,
               ConsumeQueueOptions options = {});
  ConsumeQueue(const ConsumeQueue&) = delete;
  ConsumeQueue& operator=(const ConsumeQueue&) = delete;

  const std::string& topic() const { return topic_; }
  int32_t queue_id() const { return queue_id_; }
  const std::string& dir() const { return files_.dir(); }

  // Maps the files of the directory (created if missing), then Recover().
  absl::Status Load() ABSL_LOCKS_EXCLUDED(write_mu_);

  // Finds the end of the data after a restart: walks the units of the last
  // three files (as RocketMQ) and cuts everything from the first unit that was
  // never written (size 0) or is invalid, zeroing the rest of its file and
  // deleting later files. Sets the offsets.
  absl::Status Recover() ABSL_LOCKS_EXCLUDED(write_mu_);

  // Files the message at `queue_offset`:
  //  - below MaxOffset(): already there (re-dispatch); skipped, OK;
  //  - equal: appended;
  //  - above, in a queue that holds no readable unit: the queue (re)starts at
  //    `queue_offset` (its files are dropped, the new first file is padded
  //    with blank units up to it); this is how a slave or a recreated queue
  //    begins past 0;
  //  - above, otherwise: the gap is filled with blank units and logged as a
  //    bug. Refusing would stall the queue for good: every later message
  //    would be past the end too; blanks keep the offsets the producers were
  //    told and let consumers move on.
  // INVALID_ARGUMENT for a negative offset or a size outside [1, INT32_MAX);
  // FAILED_PRECONDITION after Destroy; file errors from the MappedFileQueue.
  absl::Status PutUnit(QueueOffset queue_offset, PhysicalOffset commit_log_offset, int32_t size,
                       int64_t tag_code) ABSL_LOCKS_EXCLUDED(write_mu_);

  // The unit at `queue_offset` (possibly blank), or nullopt outside
  // [MinOffset(), MaxOffset()) or when retention just deleted its file.
  absl::optional<ConsumeQueueUnit> GetUnit(QueueOffset queue_offset) const;

  // Up to `max_units` consecutive units from `queue_offset`, blank ones
  // included (callers skip them and go on after the last one returned); empty
  // outside [MinOffset(), MaxOffset()).
  std::vector<ConsumeQueueUnit> GetUnits(QueueOffset queue_offset, int64_t max_units) const;

  QueueOffset MinOffset() const { return QueueOffset(min_offset_.load(std::memory_order_acquire)); }
  QueueOffset MaxOffset() const { return QueueOffset(max_offset_.load(std::memory_order_acquire)); }
  // One past the last commit-log byte referenced (offset + size of the last
  // non-blank unit); 0 for a queue without units. Dispatch resumes from the
  // maximum of this over all queues.
  PhysicalOffset MaxPhysicalOffset() const {
    return PhysicalOffset(max_physical_offset_.load(std::memory_order_acquire));
  }

  // The first queue offset in [MinOffset(), MaxOffset()) whose message was
  // stored at or after `timestamp_ms`, by binary search over the store times
  // that `lookup` returns (store times grow with the queue offset); MaxOffset()
  // when every message is older. A record `lookup` reports NOT_FOUND counts as
  // older; other lookup errors are returned.
  absl::StatusOr<QueueOffset> OffsetByTime(int64_t timestamp_ms, StoreTimeLookup lookup) const;

  // Recovery, after the commit log was cut at `commit_log_offset`: drops
  // every unit whose record starts at or after it (and blank units right
  // before them), so re-dispatch refiles them.
  absl::Status TruncateByPhysicalOffset(PhysicalOffset commit_log_offset)
      ABSL_LOCKS_EXCLUDED(write_mu_);

  // Retention: deletes files, oldest first, whose every unit points below
  // `min_commit_log_offset` (the commit log's first kept offset), never the
  // last file, then moves MinOffset() to the first unit at or above it.
  // Returns how many files were deleted.
  int DeleteFilesBelowPhysicalOffset(PhysicalOffset min_commit_log_offset);

  // Flushes files with at least `least_pages` dirty 4 KiB pages (0: all dirty
  // data), oldest first, stopping at the first that has fewer.
  absl::Status Flush(int least_pages);

  // Deletes every file; later writes fail with FAILED_PRECONDITION.
  absl::Status Destroy() ABSL_LOCKS_EXCLUDED(write_mu_);

 private:
  absl::optional<ConsumeQueueUnit> ReadUnit(const MappedFile& file, QueueOffset queue_offset) const;
  // Appends `count` blank units at MaxOffset().
  absl::Status AppendBlanks(int64_t count) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status AppendUnit(const ConsumeQueueUnit& unit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Sets max offset and max physical offset from the files (the physical one
  // by a backward walk to the last non-blank unit).
  void ResetEndOffsets() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // Moves MinOffset to the first non-blank unit at or after the first kept
  // unit whose commit-log offset is >= `min_commit_log_offset`.
  void CorrectMinOffset(PhysicalOffset min_commit_log_offset);

  const std::string topic_;
  const int32_t queue_id_;
  MappedFileQueue files_;

  absl::Mutex write_mu_;
  bool destroyed_ ABSL_GUARDED_BY(write_mu_) = false;
  // Serializes MinOffset corrections (retention vs. recovery).
  absl::Mutex min_mu_ ABSL_ACQUIRED_AFTER(write_mu_);

  std::atomic<int64_t> min_offset_{0};
  std::atomic<int64_t> max_offset_{0};
  std::atomic<int64_t> max_physical_offset_{0};
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_CONSUME_QUEUE_H_
