// The message index (RocketMQ's IndexService): finds messages of a topic by a
// key of their KEYS property or by their unique id (UNIQ_KEY), over a series
// of IndexFiles in `<root>/index/`.
//
// Each message is filed under "topic#<unique id>" and "topic#<key>" for every
// space-separated key of KEYS (duplicates once). A query returns candidate
// commit-log offsets: different keys can share a 32-bit hash, so the caller
// reads each record and keeps those that really carry the key.
//
// Files are named by the commit-log offset of their first message (20 digits,
// as commit-log files), not by creation time as in RocketMQ: names then sort
// in commit-log order, which is the order retention and recovery cut by, and
// two files can never get the same name (a new file starts with a message that
// follows every message of the previous one). A message's keys never straddle
// two files: when the current file lacks room for all of them, the next file
// starts with that message. The times live in each file's header.
//
// Writing: the dispatcher calls Put for every record in commit-log order.
// Records at an offset below the last indexed one are skipped, so
// re-dispatching after a restart is harmless; re-dispatching the last indexed
// record may file its keys twice, and Query drops the duplicates.
//
// Thread-safety: all methods may be called concurrently. Put, Truncate and
// Delete exclude queries for their (short, in-memory) duration; Flush syncs
// outside the lock.
#ifndef MQ_SERVICES_STORE_INDEX_SERVICE_H_
#define MQ_SERVICES_STORE_INDEX_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/store/index_file.h"

namespace mq::store {

struct IndexServiceOptions {
  // `<root>/index`; created if missing.
  std::string dir;
  // Hash slots per file (RocketMQ's maxHashSlotNum).
  int32_t slot_count = 5'000'000;
  // Entries per file (RocketMQ's maxIndexNum); a file is then
  // 40 + 4 * 5,000,000 + 20 * 20,000,000 = 420,000,040 bytes.
  int32_t max_entries = 20'000'000;
};

class IndexService {
 public:
  // Separates the topic from the key in an index key, as RocketMQ.
  static constexpr char kKeySeparator = '#';

  // Opens every index file of the directory, oldest first. A file that cannot
  // be read (corrupt header, wrong size) is logged and deleted: the index is
  // derived data, and re-dispatch from before its first offset rebuilds it.
  // INVALID_ARGUMENT for non-positive sizes; INTERNAL for I/O failures.
  static absl::StatusOr<std::unique_ptr<IndexService>> Open(IndexServiceOptions options);

  IndexService(const IndexService&) = delete;
  IndexService& operator=(const IndexService&) = delete;

  // Files the message at `physical_offset` (stored at `store_timestamp_ms`)
  // under its unique id and each space-separated key of `keys`; either may be
  // empty. Skips messages below the last indexed offset. A message with more
  // keys than a file holds is filed under as many as fit, with a warning.
  absl::Status Put(absl::string_view topic, absl::string_view keys, absl::string_view unique_id,
                   int64_t physical_offset, int64_t store_timestamp_ms) ABSL_LOCKS_EXCLUDED(mu_);

  // Commit-log offsets of messages of `topic` filed under `key` (a key or a
  // unique id), newest first, distinct, at most `max`, stored within
  // [begin_ms, end_ms] (checked to the second: a result may lie up to 999 ms
  // before begin_ms; verify on the record if it matters).
  std::vector<int64_t> Query(absl::string_view topic, absl::string_view key, size_t max,
                             int64_t begin_ms = 0,
                             int64_t end_ms = std::numeric_limits<int64_t>::max()) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Recovery: forgets every entry of a message at or past `physical_offset`
  // (deleting files that start there or later, truncating the one that
  // straddles it), so re-dispatch from `physical_offset` rebuilds them. Use
  // the commit log's recovered end after a crash. The entries kept must be
  // intact: after a machine crash, pass at most an offset the index was
  // flushed up to (see FlushedPhysicalOffset).
  absl::Status TruncateByPhysicalOffset(int64_t physical_offset)
      ABSL_LOCKS_EXCLUDED(flush_mu_, mu_);

  // Retention: deletes files, oldest first, whose every message lies below
  // `min_physical_offset` (the commit log's first kept offset). The newest
  // file is kept. Returns how many were deleted.
  int DeleteFilesBelowPhysicalOffset(int64_t min_physical_offset) ABSL_LOCKS_EXCLUDED(mu_);

  // Syncs every file changed since its last flush. Returns the first error.
  absl::Status Flush() ABSL_LOCKS_EXCLUDED(flush_mu_, mu_);

  // The commit-log offset of the newest indexed message (the start of its
  // record), or -1 when the index is empty.
  int64_t LastIndexedPhysicalOffset() const ABSL_LOCKS_EXCLUDED(mu_);

  // Entries up to the message at this commit-log offset, stored at this time,
  // were on disk at the last Flush (-1: nothing flushed since Open, or the
  // index is empty). The checkpoint's index timestamp is the latter.
  int64_t FlushedPhysicalOffset() const {
    return flushed_physical_offset_.load(std::memory_order_acquire);
  }
  int64_t FlushedTimestampMs() const {
    return flushed_timestamp_ms_.load(std::memory_order_acquire);
  }

  int file_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit IndexService(IndexServiceOptions options);

  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);
  // The newest non-empty file, or nullptr.
  const IndexFile* LastNonEmptyLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  int64_t LastIndexedLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const IndexServiceOptions options_;

  // Serializes flushes, so the flushed offset only reflects completed syncs.
  absl::Mutex flush_mu_;
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(flush_mu_);
  // Ordered by first physical offset; the last one takes new entries.
  std::vector<std::shared_ptr<IndexFile>> files_ ABSL_GUARDED_BY(mu_);
  // Written under flush_mu_; read without it.
  std::atomic<int64_t> flushed_physical_offset_{-1};
  std::atomic<int64_t> flushed_timestamp_ms_{-1};
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_INDEX_SERVICE_H_
