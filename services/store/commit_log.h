// The commit log: every message of every topic, appended in arrival order to
// one MappedFileQueue of fixed-size files (RocketMQ's CommitLog). Each message
// gets, under one lock, its physical offset (its byte offset in the log), the
// next offset of its topic/queue, and its store timestamp.
//
// Records are in the format of common/format/record_format.h; a record that
// does not fit in the rest of a file is preceded by a blank marker and goes to
// the next file.
//
// Thread-safety: AppendBatch, the readers, the offset getters and the
// queue-offset table calls are safe from any thread. Load and Recover must run
// before anything else and alone. Flushing is done by the flush services on
// file_queue(), which is safe concurrently with appends.
#ifndef MQ_SERVICES_STORE_COMMIT_LOG_H_
#define MQ_SERVICES_STORE_COMMIT_LOG_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/condition_log.h"
#include "common/format/record_format.h"
#include "common/units.h"
#include "services/store/mapped_file.h"
#include "services/store/mapped_file_allocator.h"
#include "services/store/mapped_file_queue.h"
#include "services/store/offsets.h"

namespace mq::store {

// RocketMQ's mappedFileSizeCommitLog.
inline constexpr int64_t kDefaultCommitLogFileSizeBytes = 1_GiB;
// Under asynchronous flushing, appends of at least this many bytes (a batch)
// are written with pwrite and the rest are copied into the mapping. Measured
// in benchmarks/HISTORY.md (issue 9).
inline constexpr size_t kWriteThroughBytes = 16_KiB;

struct CommitLogOptions {
  // Usually <root>/commitlog.
  std::string dir;
  int64_t file_size = kDefaultCommitLogFileSizeBytes;
  // RocketMQ's maxMessageSize (of the body).
  int64_t max_message_body_bytes = format::kDefaultMaxMessageBodyBytes;
  // Prepares the next file ahead of need; not owned; nullptr creates files
  // synchronously on roll-over.
  MappedFileAllocator* allocator = nullptr;
  // Appends of at least this many bytes are written with pwrite, smaller ones
  // copied into the mapping. 0 writes every append with pwrite: right when
  // each append is flushed at once (synchronous flushing), because syncing
  // pages dirtied through the mapping costs about twice as much (benchmarks/HISTORY.md).
  size_t write_through_bytes = kWriteThroughBytes;
};

// Outcome of one append; names follow RocketMQ's PutMessageStatus.
enum class AppendStatus {
  kOk,
  // Appends are refused (disk full, slave, shutting down): see RefuseAppends.
  kServiceNotAvailable,
  // No file could be created for the record.
  kCreateMappedFileFailed,
  // Body empty or too large, topic empty or too long, record over a file.
  kMessageIllegal,
  // Encoded properties over 32767 bytes.
  kPropertiesSizeExceeded,
};

struct AppendResult {
  AppendStatus status = AppendStatus::kOk;
  // Why the message was not stored (empty when kOk).
  std::string error;
  // Set when kOk.
  PhysicalOffset physical_offset;
  QueueOffset queue_offset;
  int32_t size = 0;
  int64_t store_timestamp_ms = 0;
};

// A record read from the log. `file` keeps the mapping, and so the views in
// `record.message`, alive.
struct RecordRef {
  std::shared_ptr<MappedFile> file;
  int64_t offset = 0;
  format::DecodedRecord record;
};

// What ReadNext found at an offset.
enum class LogEntryKind {
  // A record; `next_offset` is the offset right after it.
  kRecord,
  // A blank marker (or an offset below the first kept file): go on at
  // `next_offset`, the start of the next file.
  kNextFile,
  // `offset` is the end of the written data: nothing to read yet.
  kNoMoreData,
  // Bytes that are not a record; `record.error` says why.
  kCorrupt,
};

// Bytes of the log read for replication; `file` keeps `data` valid.
struct LogChunk {
  std::shared_ptr<MappedFile> file;
  int64_t offset = 0;
  absl::string_view data;
};

struct LogEntry {
  LogEntryKind kind = LogEntryKind::kNoMoreData;
  int64_t offset = 0;
  int64_t next_offset = 0;
  // `record` and `file` are set when kind == kRecord (and `record.error` when
  // kCorrupt); `file` keeps the views in `record.message` valid.
  RecordRef record;
};

class CommitLog {
 public:
  explicit CommitLog(CommitLogOptions options);
  CommitLog(const CommitLog&) = delete;
  CommitLog& operator=(const CommitLog&) = delete;

  // Maps the existing files (creating the directory if needed). Call Recover
  // next: until then every loaded file counts as full.
  absl::Status Load();

  // Walks the records from `start_file_offset` (the start of a file; offsets
  // below the first file start at the first file), following blank markers to
  // the next file, and stops at the first torn or corrupt record (with
  // `check_crc`, a CRC mismatch counts) or at the end of the files. The log is
  // truncated there (the rest of that file zeroed, later files deleted; what
  // was cut is logged) and the valid end offset is returned. `visitor`, if
  // given, sees each valid record in order. The queue-offset table is left
  // alone: the store rebuilds it (SetQueueOffset) from its consume queues.
  absl::StatusOr<int64_t> Recover(int64_t start_file_offset, bool check_crc)
      ABSL_LOCKS_EXCLUDED(put_mu_);
  absl::StatusOr<int64_t> Recover(
      int64_t start_file_offset, bool check_crc,
      absl::FunctionRef<void(int64_t offset, const format::MessageRecord& record)> visitor)
      ABSL_LOCKS_EXCLUDED(put_mu_);

  // The start offset of the third-to-last file (or the first file), where
  // RocketMQ's recoverNormally begins after a clean shutdown.
  int64_t NormalRecoveryStartOffset() const;

  // Appends `messages` in order under one lock. For each message the fields
  // queue_offset, physical_offset and store_timestamp_ms are assigned here
  // (their input values are ignored); everything else is stored as given, and
  // `properties` must already be encoded. A message that fails validation
  // fails alone; the others are still stored. PREPARED and ROLLBACK
  // transaction messages get queue offset 0 and do not advance their queue.
  // Returns one result per message, in order. Nothing is flushed here.
  std::vector<AppendResult> AppendBatch(absl::Span<const format::MessageRecord> messages)
      ABSL_LOCKS_EXCLUDED(put_mu_);

  // The message stored at `physical_offset`: NOT_FOUND if the offset is past
  // the end or below the first kept file, INVALID_ARGUMENT if no record
  // starts there (a blank marker), DATA_LOSS if the bytes are not a valid
  // record.
  absl::StatusOr<RecordRef> ReadRecord(int64_t physical_offset, bool check_crc = false) const;

  // Serving stored records (pulls): appends the `size` bytes of the record at
  // `physical_offset` to `out`, then checks the copy: a message record (magic
  // and field lengths, no CRC: the consumer checks it) of exactly `size`
  // bytes. Copying first lets the copy stream the record in and the check
  // read it from cache. NOT_FOUND if the range is past the end or below the
  // first kept file, DATA_LOSS (and `out` as it was) if the bytes are not
  // such a record.
  absl::Status AppendRecordBytes(int64_t physical_offset, int32_t size, std::string* out) const;

  // As AppendRecordBytes for records lying back to back from
  // `physical_offset`, `sizes` long, in one file: one pread(2) copies them all
  // (see MappedFile::ReadInto), then each is checked. On any error `out` is
  // left as it was; AppendRecordBytes then tells which record is at fault.
  absl::Status AppendRecordRun(int64_t physical_offset, absl::Span<const int32_t> sizes,
                               std::string* out) const;

  // For a reader following the log (the dispatcher, replication): what is at
  // `offset`, and where to go next. Only published (fully written) records
  // are ever returned.
  LogEntry ReadNext(int64_t offset, bool check_crc = false) const;

  // Replication, master side: the written bytes from `offset` (a record
  // boundary or a file start), cut at a record boundary after at most
  // `max_bytes` (but holding at least one record or blank marker, however
  // large) and never past the end of the file holding `offset`; a blank
  // marker comes with the rest of its file. Empty data when nothing is written
  // at `offset` yet. NOT_FOUND if `offset` is below the first kept file;
  // DATA_LOSS if the bytes at a record boundary are neither a record nor a
  // blank marker.
  absl::StatusOr<LogChunk> ReadChunk(int64_t offset, int64_t max_bytes) const;

  // Replication, slave side: appends bytes a master's ReadChunk returned, at
  // exactly the offset they have on the master, so both logs are
  // byte-identical and roll files at the same offsets. `offset` must be
  // MaxOffset(), or, when the log holds no bytes, any file start (a new slave
  // copies the master's log from its first kept file; empty files of the old
  // position are removed). Every record is checked before anything is
  // written (CRC, physical offset field equal to its position, a blank marker
  // only as the end of a file); a bad chunk is refused whole with DATA_LOSS.
  // FAILED_PRECONDITION if the offset is not where the log ends,
  // INVALID_ARGUMENT if the chunk is empty or crosses a file end, UNAVAILABLE
  // while appends are refused (RefuseAppends). Returns the new MaxOffset().
  // Nothing is flushed here.
  absl::StatusOr<int64_t> AppendRaw(int64_t offset, absl::string_view data)
      ABSL_LOCKS_EXCLUDED(put_mu_);

  // CRC-32 of the written bytes [begin, end), which must lie in one file.
  // INVALID_ARGUMENT otherwise, NOT_FOUND if they are not (or no longer) in
  // the log.
  absl::StatusOr<uint32_t> RangeCrc(int64_t begin, int64_t end) const;

  int64_t file_size() const { return options_.file_size; }

  // Start offset of the first kept file (0 when empty).
  int64_t MinOffset() const { return queue_.MinOffset(); }
  // The end of the written data: the physical offset of the next record.
  int64_t MaxOffset() const { return queue_.MaxOffset(); }
  int64_t FlushedOffset() const { return queue_.FlushedOffset(); }

  // The files, for the flush services and retention. After a flush,
  // file_queue().FlushedStoreTimestamp() is the store time of a flushed record
  // (the checkpoint's physic msg timestamp).
  MappedFileQueue& file_queue() { return queue_; }

  // Makes appends fail with kServiceNotAvailable and `reason` (e.g. "disk
  // full") until AcceptAppends() is called.
  void RefuseAppends(std::string reason) ABSL_LOCKS_EXCLUDED(refuse_mu_);
  void AcceptAppends() ABSL_LOCKS_EXCLUDED(refuse_mu_);
  bool accepting_appends() const { return !refusing_.load(std::memory_order_acquire); }

  // The topic/queue -> next queue offset table (RocketMQ's topicQueueTable).
  QueueOffset GetQueueOffset(absl::string_view topic, int32_t queue_id) const
      ABSL_LOCKS_EXCLUDED(put_mu_);
  void SetQueueOffset(absl::string_view topic, int32_t queue_id, QueueOffset next_offset)
      ABSL_LOCKS_EXCLUDED(put_mu_);
  void RemoveQueueOffsets(absl::string_view topic) ABSL_LOCKS_EXCLUDED(put_mu_);
  void ClearQueueOffsets() ABSL_LOCKS_EXCLUDED(put_mu_);

 private:
  struct QueueKey {
    std::string topic;
    int32_t queue_id;
  };
  struct QueueKeyView {
    absl::string_view topic;
    int32_t queue_id;
  };
  // Transparent hash and equality so lookups need no std::string.
  struct QueueKeyHash {
    using is_transparent = void;
    size_t operator()(const QueueKeyView& k) const { return absl::HashOf(k.topic, k.queue_id); }
    size_t operator()(const QueueKey& k) const {
      return (*this)(QueueKeyView{k.topic, k.queue_id});
    }
  };
  struct QueueKeyEq {
    using is_transparent = void;
    static QueueKeyView View(const QueueKey& k) { return {k.topic, k.queue_id}; }
    static QueueKeyView View(const QueueKeyView& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return View(a).queue_id == View(b).queue_id && View(a).topic == View(b).topic;
    }
  };
  using QueueOffsetTable = absl::flat_hash_map<QueueKey, QueueOffset, QueueKeyHash, QueueKeyEq>;

  // The file holding all of [physical_offset, + size): NOT_FOUND if the range
  // runs past the end or starts below the first kept file, DATA_LOSS if it
  // spans files.
  absl::StatusOr<std::shared_ptr<MappedFile>> FileHolding(int64_t physical_offset,
                                                          int64_t size) const;
  // Validates a message; fills `result` and returns false if it cannot be
  // stored.
  bool Validate(const format::MessageRecord& message, AppendResult* result) const;
  // Whether a record of `size` bytes and a blank marker fit in the current
  // file after what is staged.
  bool FitsInCurrentFile(int64_t size) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(put_mu_);
  // Makes sure the current file has room for `size` bytes plus a blank marker
  // past what is staged, else writes the staged records, closes the file
  // with a marker and moves to the next.
  absl::Status EnsureRoom(int64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(put_mu_);
  // Writes the staged records to the current file and publishes them: from
  // options_.write_through_bytes on with one pwrite (no page faults, and flushing them
  // write-protects no mapped page), smaller ones by a copy into the mapping.
  // On a write error the staged records are lost and appends are refused
  // from then on (recovery at the next start truncates the log to its last
  // whole record).
  absl::Status WriteStaged() ABSL_EXCLUSIVE_LOCKS_REQUIRED(put_mu_);

  const CommitLogOptions options_;
  MappedFileQueue queue_;

  mutable absl::Mutex put_mu_;
  // The file appends go to; reset by Recover.
  std::shared_ptr<MappedFile> current_file_ ABSL_GUARDED_BY(put_mu_);
  QueueOffsetTable queue_offsets_ ABSL_GUARDED_BY(put_mu_);
  // Records of the current AppendBatch encoded for the current file, not yet
  // written: a batch goes to the file in one write, not a fault per page.
  std::string staged_ ABSL_GUARDED_BY(put_mu_);

  std::atomic<bool> refusing_{false};
  mutable absl::Mutex refuse_mu_;
  std::string refuse_reason_ ABSL_GUARDED_BY(refuse_mu_);
  // Failed file creations and writes (a full disk fails thousands in a row):
  // logged when they start and when they clear.
  ConditionLog append_failures_{"appends to the commit log"};
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_COMMIT_LOG_H_
