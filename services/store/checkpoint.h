// The store checkpoint (RocketMQ's StoreCheckpoint): how far each part of the
// store is known to be on disk, which decides where recovery after a crash
// starts.
//
// File <root>/checkpoint, 4096 bytes, big-endian:
//   @0  physic msg timestamp     store time of the last flushed commit-log record (ms)
//   @8  logics msg timestamp     store time of the last flushed consume-queue unit (ms)
//   @16 index msg timestamp      store time of the last flushed index entry (ms)
//   @24 commit-log flushed offset
//   @32 CRC32 of bytes [0, 32)   (an addition: a damaged file is detected)
// The first three longs sit where RocketMQ puts them.
//
// Flush() replaces the file atomically (write a temporary file, fsync, rename,
// fsync the directory), so a crash leaves either the old or the new contents.
//
// Thread-safe.
#ifndef MQ_SERVICES_STORE_CHECKPOINT_H_
#define MQ_SERVICES_STORE_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace mq::store {

inline constexpr int64_t kCheckpointFileBytes = 4096;
// RocketMQ subtracts this from the checkpoint times to allow for clock skew
// between the commit log and the queues.
inline constexpr int64_t kCheckpointSafetyMarginMs = 3000;

struct CheckpointData {
  int64_t physic_msg_timestamp_ms = 0;
  int64_t logics_msg_timestamp_ms = 0;
  int64_t index_msg_timestamp_ms = 0;
  int64_t commit_log_flushed_offset = 0;

  // min(physic, logics) - 3 s, at least 0 (RocketMQ's getMinTimestamp): an
  // abnormal recovery re-dispatches from the newest commit-log file whose first
  // record is not newer than this.
  int64_t MinTimestamp() const;
  // Also bounded by the index timestamp (getMinTimestampIndex).
  int64_t MinTimestampIndex() const;
};

class Checkpoint {
 public:
  // Reads `path` if it exists (all zeros otherwise). A file with a bad size or
  // CRC is reported in the log and treated as all zeros, which makes the next
  // recovery start from the oldest data: slow but safe.
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& path);

  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  const std::string& path() const { return path_; }
  CheckpointData Get() const ABSL_LOCKS_EXCLUDED(mu_);

  // Update the in-memory values; Flush() persists them.
  void SetPhysicMsgTimestamp(int64_t timestamp_ms) ABSL_LOCKS_EXCLUDED(mu_);
  void SetLogicsMsgTimestamp(int64_t timestamp_ms) ABSL_LOCKS_EXCLUDED(mu_);
  void SetIndexMsgTimestamp(int64_t timestamp_ms) ABSL_LOCKS_EXCLUDED(mu_);
  void SetCommitLogFlushedOffset(int64_t offset) ABSL_LOCKS_EXCLUDED(mu_);

  // Writes the current values to disk atomically.
  absl::Status Flush() ABSL_LOCKS_EXCLUDED(mu_, flush_mu_);

 private:
  Checkpoint(std::string path, CheckpointData data);

  const std::string path_;
  mutable absl::Mutex mu_;
  CheckpointData data_ ABSL_GUARDED_BY(mu_);
  // Serializes writers of the file.
  absl::Mutex flush_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_CHECKPOINT_H_
