// One fixed-size file of a log, memory-mapped (MAP_SHARED) and named by the
// 20-digit zero-padded offset of its first byte in the log, as RocketMQ names
// commit-log and consume-queue files ("00000000001073741824").
//
// A MappedFile tracks two positions, both relative to the file start:
//   write position   - bytes [0, write) hold data; readers may read them;
//   flushed position - bytes [0, flushed) are known to be on disk (msync).
//
// Thread-safety: one writer at a time (Append / WritableTail /
// AdvanceWritePosition / TruncateTo / Warm / set_store_timestamp_ms),
// serialized by the caller. Read,
// the position getters, Flush and LastModifiedTime are safe from any thread
// concurrently with the writer: a reader sees a byte only after the write
// position covering it was published. Flush calls are serialized internally.
//
// Lifetime: Destroy() unlinks the file; the mapping itself is released by the
// destructor, so a reader that holds the object (e.g. via shared_ptr) keeps
// every view it got from Read() valid even after the file was deleted.
#ifndef MQ_SERVICES_STORE_MAPPED_FILE_H_
#define MQ_SERVICES_STORE_MAPPED_FILE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"

namespace mq::store {

// The unit of flushing and warming, as RocketMQ's OS_PAGE_SIZE.
inline constexpr int64_t kOsPageSizeBytes = 4096;

// The 20-digit zero-padded decimal name of the file starting at `offset`.
std::string OffsetToFileName(int64_t offset);

// The offset a file name stands for: exactly 20 decimal digits, else nullopt.
absl::optional<int64_t> FileNameToOffset(absl::string_view name);

class MappedFile {
 public:
  // Creates `dir`/OffsetToFileName(start_offset) of `file_size` bytes (blocks
  // allocated up front where the file system supports it) and maps it. The
  // file is sized under a temporary name and renamed, so a crash never leaves
  // a short file under a log name. Both positions start at 0. ALREADY_EXISTS
  // if the file exists.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Create(const std::string& dir,
                                                            int64_t start_offset,
                                                            int64_t file_size);

  // How Open() treats a file shorter than `file_size`.
  enum class ShortFile {
    // FAILED_PRECONDITION naming the file and both sizes.
    kRefuse,
    // Extended back to `file_size` with zeros, and logged: what a torn
    // allocation, a filesystem repair or a partial copy leaves of the file a
    // log was writing. The recovery that follows cuts the data at its last
    // whole record.
    kRestore,
  };

  // Maps an existing `dir`/OffsetToFileName(start_offset); its size must be
  // exactly `file_size` (else FAILED_PRECONDITION naming the file and both
  // sizes), or shorter with ShortFile::kRestore. Both positions start at
  // `file_size` (full), as on a reload; a recovery then calls TruncateTo()
  // with the end of the valid data.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(
      const std::string& dir, int64_t start_offset, int64_t file_size,
      ShortFile short_file = ShortFile::kRefuse);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  int64_t start_offset() const { return start_offset_; }
  int64_t file_size() const { return file_size_; }
  // start_offset() + file_size(): the start offset of the next file.
  int64_t end_offset() const { return start_offset_ + file_size_; }

  int64_t write_position() const { return write_position_.load(std::memory_order_acquire); }
  int64_t flushed_position() const { return flushed_position_.load(std::memory_order_acquire); }
  int64_t remaining() const { return file_size_ - write_position(); }
  bool IsFull() const { return write_position() == file_size_; }

  // Copies `data` at the write position and publishes it. Returns false (and
  // writes nothing) when it does not fit.
  bool Append(absl::Span<const char> data);

  // Writes `data` at the write position with pwrite(2) and publishes it.
  // The bytes go through the page cache the mapping shares, so Read() sees
  // them, but the writer takes no page faults, and flushing them write-
  // protects no mapped page. OUT_OF_RANGE (nothing written) when `data` does
  // not fit; the write's errno otherwise (the write position does not move).
  absl::Status Write(absl::string_view data);

  // In-place writing: the writer fills a prefix of WritableTail() (the bytes
  // [write position, file size)) and then publishes it with
  // AdvanceWritePosition(bytes_written).
  absl::Span<char> WritableTail();
  void AdvanceWritePosition(int64_t bytes);

  // The bytes [pos, pos + len) clipped to the write position; empty when `pos`
  // is at or past it. Valid while this object lives.
  absl::string_view Read(int64_t pos, int64_t len) const;

  // Copies the bytes [pos, pos + len), which must lie below the write
  // position, into `out` with pread(2) rather than through the mapping: the
  // kernel copies from the page cache through its own mapping, so a large
  // cold range costs the reader no page-table walks of its own (on a guest
  // with shadow page tables, one hypervisor exit per 4 KiB page), at the
  // price of a system call. OUT_OF_RANGE if the range is not all written.
  absl::Status ReadInto(int64_t pos, int64_t len, char* out) const;

  // True when Flush() would make progress: a full file with unflushed data, or
  // at least `least_pages` 4 KiB pages dirty (least_pages <= 0: any byte).
  bool IsFlushable(int least_pages) const;

  // How much of the written data Flush covers.
  enum class FlushExtent {
    // Everything written.
    kAll,
    // Whole pages only (or everything, in a full file): the page the writer is
    // still filling is left to a later flush. Writeback locks each page it
    // writes, and a write into a locked page waits for the disk, so flushing
    // the tail page under a writer stalls its next append.
    kWholePages,
  };

  // msyncs the pages between the flushed position and the write position (or
  // the last page boundary below it, per `extent`) and returns the new flushed
  // position.
  absl::StatusOr<int64_t> Flush(FlushExtent extent = FlushExtent::kAll)
      ABSL_LOCKS_EXCLUDED(flush_mu_);

  // Sets both positions to `pos` (<= the write position) and zeroes the rest
  // of the file, so bytes past the valid end can never be mistaken for data by
  // a later recovery. Not concurrent with Flush.
  absl::Status TruncateTo(int64_t pos) ABSL_LOCKS_EXCLUDED(flush_mu_);

  // Pre-faults every page past the write position as writable, so appends do
  // not take page faults. Call before the file is handed to a writer.
  absl::Status Warm();

  // Maps the pages of [from, end) writable without changing a byte, clipped
  // to the pages past the write position's and to the file
  // (MADV_POPULATE_WRITE): the page-cache allocation, zero-fill and block
  // reservation a first write would fault for happen here instead. Safe while
  // a writer appends. UNIMPLEMENTED on kernels before 5.14.
  absl::Status PrefaultAhead(int64_t from, int64_t end);

  // As PrefaultAhead, but brings the pages into the page cache without mapping
  // them (readahead(2)), for a file its writer fills with Write(): a flush
  // then finds no mapped page to write-protect, and the pages stay clean
  // until written. Safe while a writer appends.
  absl::Status CacheAhead(int64_t from, int64_t end);

  // Unlinks the file. The mapping stays valid until the object is destroyed.
  absl::Status Destroy();
  bool destroyed() const { return destroyed_.load(std::memory_order_acquire); }

  // The store time of the newest record in the file, as its writer reports it
  // (after publishing the record); 0 until set. Flushing captures it first, so
  // a flushed timestamp never runs ahead of the flushed data.
  void set_store_timestamp_ms(int64_t timestamp_ms) {
    store_timestamp_ms_.store(timestamp_ms, std::memory_order_release);
  }
  int64_t store_timestamp_ms() const { return store_timestamp_ms_.load(std::memory_order_acquire); }

  // The file's modification time on disk (updated by writes through the map).
  absl::StatusOr<absl::Time> LastModifiedTime() const;

 private:
  // Takes ownership of `fd`, the open file.
  MappedFile(std::string path, int64_t start_offset, int64_t file_size, char* base, int fd);
  // [from, end) narrowed to whole pages past the write position's page and to
  // the file; empty (first >= second) when nothing is left.
  std::pair<int64_t, int64_t> PagesAhead(int64_t from, int64_t end) const;

  const std::string path_;
  const int64_t start_offset_;
  const int64_t file_size_;
  char* const base_;
  const int fd_;
  std::atomic<int64_t> write_position_{0};
  std::atomic<int64_t> flushed_position_{0};
  std::atomic<int64_t> store_timestamp_ms_{0};
  std::atomic<bool> destroyed_{false};
  absl::Mutex flush_mu_;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_MAPPED_FILE_H_
