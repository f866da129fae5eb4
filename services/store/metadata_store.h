// A small durable key-value table for the broker's metadata: topic configs,
// subscription groups and consumer offsets. The broker keeps no files of its
// own; it stores these here through the Store service.
//
// On disk the whole table is one file, `<dir>/metadata`, rewritten on every
// Put: the new content goes to `metadata.tmp` and is fsync'ed; the current
// good file is renamed to `metadata.bak`; the temp file is renamed to
// `metadata`; the directory is fsync'ed. So the previous good copy always
// survives as the backup. The file is framed (see metadata_store.cc) with a
// CRC-32 of its body; Open() detects a corrupt file and falls back to the
// backup with a warning (also when `metadata` is missing but a backup exists:
// a crash between the two renames), and fails with DATA_LOSS when both are
// unreadable: it never starts silently empty over a damaged table.
//
// Thread-safety: every method may be called concurrently. Puts are serialized
// among themselves; Get and List never wait for a Put's disk I/O.
#ifndef MQ_SERVICES_STORE_METADATA_STORE_H_
#define MQ_SERVICES_STORE_METADATA_STORE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "common/units.h"

namespace mq::store {

// Limits of what a Put may carry: keys of 1..255 characters of
// [a-zA-Z0-9_.:/%|@-] (the broker's are "topics", "consumer_offsets", ...),
// and at most 32 MiB of keys and values per batch (the whole table is
// rewritten on every Put, so it must stay small).
inline constexpr size_t kMaxMetadataKeyBytes = 255;
inline constexpr size_t kMaxMetadataBatchBytes = 32_MiB;

// INVALID_ARGUMENT naming the rule a key breaks.
absl::Status ValidateMetadataKey(absl::string_view key);

class MetadataStore {
 public:
  // One change of a batch: sets `key` to `value`, or removes `key` when
  // `deleted` (removing a missing key is not an error).
  struct Mutation {
    std::string key;
    std::string value;
    bool deleted = false;
  };

  struct Entry {
    std::string key;
    std::string value;
  };

  // File names inside the directory.
  static constexpr absl::string_view kFileName = "metadata";
  static constexpr absl::string_view kBackupFileName = "metadata.bak";
  static constexpr absl::string_view kTempFileName = "metadata.tmp";

  // Opens (creating `dir` if needed) and loads the table. A missing file means
  // an empty table. Errors: DATA_LOSS if the file and its backup are both
  // corrupt; INTERNAL for I/O failures.
  static absl::StatusOr<std::unique_ptr<MetadataStore>> Open(std::string dir);

  MetadataStore(const MetadataStore&) = delete;
  MetadataStore& operator=(const MetadataStore&) = delete;

  // The value of `key`, if present.
  absl::optional<std::string> Get(absl::string_view key) const ABSL_LOCKS_EXCLUDED(mu_);

  // Applies `batch` in order (a later mutation of the same key wins) and makes
  // it durable before returning. All or none: on an error before the new file
  // is in place, neither memory nor disk changes. Errors: INVALID_ARGUMENT for
  // an empty key; INTERNAL for I/O failures. If only the final directory fsync
  // fails, the change is applied (and visible) but may not survive a crash; the
  // error says so.
  absl::Status Put(absl::Span<const Mutation> batch) ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // Entries whose key starts with `prefix` (all when empty), sorted by key.
  std::vector<Entry> List(absl::string_view prefix) const ABSL_LOCKS_EXCLUDED(mu_);

  // Number of keys.
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Table = std::map<std::string, std::string, std::less<>>;

  MetadataStore(std::string dir, Table table, bool file_is_good);

  // Writes `table` as the new file (temp + fsync + backup rename + rename +
  // directory fsync). `*renamed` is set once the new file replaced the old one.
  absl::Status WriteFile(const Table& table, bool* renamed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const std::string dir_;

  // Serializes Puts, so the table copy a Put starts from is the latest.
  absl::Mutex write_mu_;
  // Whether `metadata` on disk holds a verified table. False after Open fell
  // back to the backup: the damaged file must not become the next backup.
  bool file_is_good_ ABSL_GUARDED_BY(write_mu_);

  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(write_mu_);
  Table table_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_METADATA_STORE_H_
