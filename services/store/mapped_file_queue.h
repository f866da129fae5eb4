// A log made of a directory of equally sized MappedFiles, each named by the
// log offset of its first byte (RocketMQ's MappedFileQueue). The commit log
// uses it with 1 GiB files, each consume queue with 6,000,000-byte files.
//
// Offsets here are log offsets: file start offset + position in the file.
//
// Thread-safety: one writer thread at a time calls Load, GetOrCreateLastFile,
// TruncateDirtyFiles and writes into the last file. Lookups (FirstFile,
// LastFile, FindFileByOffset, Files, the offsets), Flush and the Delete*
// calls are safe from any thread concurrently with the writer; Delete* never
// removes the last file, which is the only one the writer touches. Files are
// handed out as shared_ptr: a reader holding one keeps its mapping valid even
// if retention deletes the file meanwhile.
#ifndef MQ_SERVICES_STORE_MAPPED_FILE_QUEUE_H_
#define MQ_SERVICES_STORE_MAPPED_FILE_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/store/mapped_file.h"
#include "services/store/mapped_file_allocator.h"

namespace mq::store {

struct MappedFileQueueOptions {
  // The directory of the files; created (with parents) by Load() if missing.
  std::string dir;
  // Size of every file in bytes.
  int64_t file_size = 0;
  // Prepares files ahead of need; not owned, must outlive the queue. nullptr:
  // every file is created synchronously when the log rolls over to it.
  MappedFileAllocator* allocator = nullptr;
  // How many files past the last one to keep prepared (RocketMQ: 1, the
  // "next-next" file). Ignored without an allocator.
  int prepare_ahead_files = 1;
  // A file missing between two others stops Load() (the commit log: the
  // records in it are lost); otherwise it is logged only.
  bool refuse_gaps = false;
};

class MappedFileQueue {
 public:
  explicit MappedFileQueue(MappedFileQueueOptions options);
  MappedFileQueue(const MappedFileQueue&) = delete;
  MappedFileQueue& operator=(const MappedFileQueue&) = delete;

  const std::string& dir() const { return options_.dir; }
  int64_t file_size() const { return options_.file_size; }

  // Maps every file of the directory. Files start full (positions = size);
  // the owner's recovery then calls TruncateDirtyFiles(end of valid data).
  // Leftover "*.tmp" files of an interrupted creation are removed. Fails with
  // FAILED_PRECONDITION, naming the file, on a file whose size is not
  // file_size or on a name that is not a 20-digit offset aligned to file_size.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);

  // nullptr when the queue is empty.
  std::shared_ptr<MappedFile> FirstFile() const ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<MappedFile> LastFile() const ABSL_LOCKS_EXCLUDED(mu_);

  // The last file if it has room; otherwise a new last file: the one after the
  // current last, or, for an empty queue, the one holding `start_offset`
  // (start_offset rounded down to a multiple of file_size).
  absl::StatusOr<std::shared_ptr<MappedFile>> GetOrCreateLastFile(int64_t start_offset)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The file whose range [start, end) holds `offset`; nullptr if none does.
  std::shared_ptr<MappedFile> FindFileByOffset(int64_t offset) const ABSL_LOCKS_EXCLUDED(mu_);

  // A snapshot of the files, oldest first.
  std::vector<std::shared_ptr<MappedFile>> Files() const ABSL_LOCKS_EXCLUDED(mu_);

  // Start offset of the first file; 0 when empty.
  int64_t MinOffset() const ABSL_LOCKS_EXCLUDED(mu_);
  // Log offset of the write position of the last file; 0 when empty.
  int64_t MaxOffset() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every byte below this log offset is on disk.
  int64_t FlushedOffset() const { return flushed_offset_.load(std::memory_order_acquire); }
  // For recovery: declares everything below `offset` flushed.
  void SetFlushedOffset(int64_t offset) {
    flushed_offset_.store(offset, std::memory_order_release);
  }

  // The store timestamp (MappedFile::store_timestamp_ms) of the file as of its
  // last flush that reached the write position: the time of a record known to
  // be on disk (RocketMQ's physicMsgTimestamp for the checkpoint). 0 before
  // any such flush.
  int64_t FlushedStoreTimestamp() const {
    return flushed_store_timestamp_ms_.load(std::memory_order_acquire);
  }

  // Flushes the file holding the flushed offset if it has at least
  // `least_pages` dirty 4 KiB pages (0: any dirty byte; a full file is always
  // flushed) and returns the new flushed offset. With `least_pages` > 0 (the
  // periodic flush) only whole pages are flushed, leaving the page the writer
  // is filling (MappedFile::FlushExtent::kWholePages); 0 flushes everything.
  // One call flushes at most one file: when it completes a file, the next call
  // goes on with the next.
  absl::StatusOr<int64_t> Flush(int least_pages) ABSL_LOCKS_EXCLUDED(mu_);

  // Makes `offset` the end of the log: the file holding it gets both positions
  // set to it (and its tail zeroed), files starting after it are deleted (a
  // file starting exactly at it is kept, empty), and the flushed offset is
  // lowered to it if above.
  absl::Status TruncateDirtyFiles(int64_t offset) ABSL_LOCKS_EXCLUDED(mu_);

  // Retention: deletes files, oldest first, while `expired(file)` is
  // true, at most `max_files`, never the last file. Returns how many were
  // deleted. `expired` runs without the queue's lock held.
  int DeleteFilesWhile(absl::FunctionRef<bool(const MappedFile&)> expired, int max_files)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Deletes every file; the queue is empty afterwards.
  absl::Status Destroy() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Asks the allocator for the files after `file` up to prepare_ahead_files.
  void PrepareAhead(const MappedFile& file);
  // Removes the first file if it is `file` and is not the last one.
  bool RemoveFirstFile(const std::shared_ptr<MappedFile>& file) ABSL_LOCKS_EXCLUDED(mu_);

  const MappedFileQueueOptions options_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<MappedFile>> files_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> flushed_offset_{0};
  std::atomic<int64_t> flushed_store_timestamp_ms_{0};
  // Serializes flushes so the flushed offset only moves forward.
  absl::Mutex flush_mu_;
  // The end offset of the newest file asked of the allocator (writer only).
  int64_t prepared_up_to_ = -1;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_MAPPED_FILE_QUEUE_H_
