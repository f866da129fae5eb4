// One file of the message index (RocketMQ's IndexFile): a hash table from a
// key hash to the commit-log offsets of the messages carrying the key, with
// chaining, in one fixed-size memory-mapped file. IndexService owns a series
// of them and builds the keys; this class only stores (hash, offset, time).
//
// Layout, all integers big-endian:
//   header, 40 bytes:
//     0  begin timestamp (ms)         int64  store time of the first entry
//     8  end timestamp (ms)           int64  latest store time of any entry
//     16 begin physical offset        int64  commit-log offset of the first entry
//     24 end physical offset          int64  commit-log offset of the last entry
//     32 hash slot count              int32
//     36 index count                  int32  number of the next entry; starts at 1
//   slot_count slots of 4 bytes: the number of the newest entry whose hash
//     falls in the slot (0: none), i.e. the head of the slot's chain.
//   max_entries entries of 20 bytes; entry n (1-based) is at
//   40 + 4 * slot_count + 20 * (n - 1):
//     0  key hash                     uint32
//     4  physical offset              int64
//     12 time diff (s)                int32  (store time - begin timestamp) / 1000, >= 0
//     16 previous entry number        int32  next older entry of the chain, 0: end
// The file size is 40 + 4 * slot_count + 20 * max_entries bytes; a file's
// capacity is read back from its header and size, so files written with other
// options stay readable. Entries are appended in commit-log order, so their
// physical offsets never decrease with the entry number.
//
// Thread-safety: Add and TruncateByPhysicalOffset need exclusive access;
// Lookup and the getters may run concurrently with each other but not with
// those (IndexService holds a reader/writer lock). Flush may run concurrently
// with anything.
#ifndef MQ_SERVICES_STORE_INDEX_FILE_H_
#define MQ_SERVICES_STORE_INDEX_FILE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mq::store {

// The hash of an index key: Java's String.hashCode over the key's bytes
// (s[0]*31^(n-1) + ... + s[n-1], wrapping), as an unsigned 32-bit value. It
// is persisted, so it must never change. For ASCII keys it equals RocketMQ's.
uint32_t IndexKeyHash(absl::string_view key);

class IndexFile {
 public:
  static constexpr int64_t kHeaderBytes = 40;
  static constexpr int64_t kSlotBytes = 4;
  static constexpr int64_t kEntryBytes = 20;

  // Bytes of a file with `slot_count` slots and room for `max_entries` entries.
  static int64_t FileSize(int32_t slot_count, int32_t max_entries);

  // Creates `path` (with blocks allocated up front where the file system
  // supports it) holding an empty index, and maps it. The file is prepared
  // under a temporary name, synced and renamed, so a file under `path` always
  // has a valid header. ALREADY_EXISTS if `path` exists; INVALID_ARGUMENT for
  // non-positive sizes.
  static absl::StatusOr<std::unique_ptr<IndexFile>> Create(const std::string& path,
                                                           int32_t slot_count, int32_t max_entries);

  // Maps an existing file. DATA_LOSS if its header is inconsistent with itself
  // or with the file size.
  static absl::StatusOr<std::unique_ptr<IndexFile>> Open(const std::string& path);

  IndexFile(const IndexFile&) = delete;
  IndexFile& operator=(const IndexFile&) = delete;
  ~IndexFile();

  const std::string& path() const { return path_; }
  int32_t slot_count() const { return slot_count_; }
  int32_t max_entries() const { return max_entries_; }
  int32_t entry_count() const { return next_entry_ - 1; }
  int32_t free_entries() const { return max_entries_ - entry_count(); }
  bool empty() const { return next_entry_ == 1; }
  // Header values; all 0 while the file is empty.
  int64_t begin_timestamp_ms() const { return begin_timestamp_ms_; }
  int64_t end_timestamp_ms() const { return end_timestamp_ms_; }
  int64_t begin_physical_offset() const { return begin_physical_offset_; }
  int64_t end_physical_offset() const { return end_physical_offset_; }

  // Adds an entry. FAILED_PRECONDITION when the file is full or when
  // `physical_offset` is below end_physical_offset() (entries must follow
  // commit-log order).
  absl::Status Add(uint32_t key_hash, int64_t physical_offset, int64_t store_timestamp_ms);

  // Calls `visit` with the physical offset of each entry with `key_hash`,
  // newest first, while it returns true. Only entries whose store time (known
  // to the second) may lie in [begin_ms, end_ms] are visited. Stops at a chain
  // link that cannot be right (a corrupt file yields fewer results, never a
  // loop or an out-of-range read).
  void Lookup(uint32_t key_hash, int64_t begin_ms, int64_t end_ms,
              absl::FunctionRef<bool(int64_t physical_offset)> visit) const;

  // Drops every entry whose physical offset is >= `physical_offset`, rebuilds
  // the slot chains from the entries kept, and rewrites the header. The kept
  // entries must be intact (true after a process crash; after a machine crash,
  // only for a point the file was flushed to). Dropping every entry leaves an
  // empty file.
  void TruncateByPhysicalOffset(int64_t physical_offset);

  // msyncs the file if anything changed since the last flush.
  absl::Status Flush();

  // Unlinks the file; the mapping lives until destruction.
  absl::Status Destroy();

 private:
  IndexFile(std::string path, char* base, int64_t size, int32_t slot_count, int32_t max_entries);

  char* SlotAt(uint32_t slot) const;
  char* EntryAt(int32_t number) const;
  void WriteHeader();

  const std::string path_;
  char* const base_;
  const int64_t size_;
  const int32_t slot_count_;
  const int32_t max_entries_;

  int64_t begin_timestamp_ms_ = 0;
  int64_t end_timestamp_ms_ = 0;
  int64_t begin_physical_offset_ = 0;
  int64_t end_physical_offset_ = 0;
  int32_t next_entry_ = 1;
  // Set by writes, cleared by Flush before it msyncs; atomic because Flush
  // may run outside the owner's lock.
  std::atomic<bool> dirty_{false};
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_INDEX_FILE_H_
