#include "services/store/index_service.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"
#include "services/store/mapped_file.h"

namespace mq::store {
namespace {

std::string IndexKey(absl::string_view topic, absl::string_view key) {
  return absl::StrCat(topic, std::string(1, IndexService::kKeySeparator), key);
}

}  // namespace

IndexService::IndexService(IndexServiceOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<IndexService>> IndexService::Open(IndexServiceOptions options) {
  if (options.slot_count <= 0 || options.max_entries <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("index needs positive sizes: ", options.slot_count, " slots, ",
                     options.max_entries, " entries"));
  }
  auto service = absl::WrapUnique(new IndexService(std::move(options)));
  if (absl::Status status = service->Load(); !status.ok()) return status;
  return service;
}

absl::Status IndexService::Load() {
  std::error_code error;
  std::filesystem::create_directories(options_.dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("create directory ", options_.dir, ": ", error.message()));
  }
  std::vector<std::pair<int64_t, std::string>> names;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, error)) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".tmp")) {
      // An interrupted creation; the file was never in use.
      std::filesystem::remove(entry.path(), error);
      continue;
    }
    absl::optional<int64_t> offset = FileNameToOffset(name);
    if (!offset.has_value()) {
      LOG(WARNING) << "ignoring " << entry.path() << ": not an index file name";
      continue;
    }
    names.emplace_back(*offset, entry.path().string());
  }
  if (error) {
    return absl::InternalError(absl::StrCat("list ", options_.dir, ": ", error.message()));
  }
  std::sort(names.begin(), names.end());
  absl::MutexLock lock(&mu_);
  for (const auto& [offset, path] : names) {
    absl::StatusOr<std::unique_ptr<IndexFile>> file = IndexFile::Open(path);
    if (absl::IsDataLoss(file.status())) {
      LOG(ERROR) << "deleting unreadable index file (" << file.status()
                 << "); messages it covered are no longer found by key until re-indexed";
      std::filesystem::remove(path, error);
      continue;
    }
    if (!file.ok()) return file.status();
    if (!(*file)->empty() && (*file)->begin_physical_offset() != offset) {
      LOG(WARNING) << "index file " << path << " starts at physical offset "
                   << (*file)->begin_physical_offset() << ", not at its name";
    }
    files_.push_back(*std::move(file));
  }
  LOG(INFO) << "index " << options_.dir << ": " << files_.size()
            << " files, last indexed physical offset " << LastIndexedLocked();
  return absl::OkStatus();
}

const IndexFile* IndexService::LastNonEmptyLocked() const {
  for (auto it = files_.rbegin(); it != files_.rend(); ++it) {
    if (!(*it)->empty()) return it->get();
  }
  return nullptr;
}

int64_t IndexService::LastIndexedLocked() const {
  const IndexFile* last = LastNonEmptyLocked();
  return last == nullptr ? -1 : last->end_physical_offset();
}

absl::Status IndexService::Put(absl::string_view topic, absl::string_view keys,
                               absl::string_view unique_id, int64_t physical_offset,
                               int64_t store_timestamp_ms) {
  std::vector<std::string> index_keys;
  if (!unique_id.empty()) index_keys.push_back(IndexKey(topic, unique_id));
  for (absl::string_view key : absl::StrSplit(keys, ' ', absl::SkipEmpty())) {
    std::string index_key = IndexKey(topic, key);
    if (std::find(index_keys.begin(), index_keys.end(), index_key) == index_keys.end()) {
      index_keys.push_back(std::move(index_key));
    }
  }
  if (index_keys.empty()) return absl::OkStatus();

  absl::MutexLock lock(&mu_);
  if (physical_offset < LastIndexedLocked()) return absl::OkStatus();
  size_t count = index_keys.size();
  if (count > static_cast<size_t>(options_.max_entries)) {
    LOG(WARNING) << "message at physical offset " << physical_offset << " has " << count
                 << " index keys; filing only the first " << options_.max_entries;
    count = static_cast<size_t>(options_.max_entries);
  }
  if (files_.empty() || files_.back()->free_entries() < static_cast<int64_t>(count)) {
    if (!files_.empty() && files_.back()->empty()) {
      // Only a file left empty by a crash right after its creation; its name
      // may not match this message.
      if (absl::Status status = files_.back()->Destroy(); !status.ok()) return status;
      files_.pop_back();
    }
    absl::StatusOr<std::unique_ptr<IndexFile>> file =
        IndexFile::Create(absl::StrCat(options_.dir, "/", OffsetToFileName(physical_offset)),
                          options_.slot_count, options_.max_entries);
    if (!file.ok()) return file.status();
    LOG(INFO) << "new index file " << (*file)->path();
    files_.push_back(*std::move(file));
  }
  IndexFile& file = *files_.back();
  for (size_t i = 0; i < count; ++i) {
    absl::Status status =
        file.Add(IndexKeyHash(index_keys[i]), physical_offset, store_timestamp_ms);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

std::vector<int64_t> IndexService::Query(absl::string_view topic, absl::string_view key, size_t max,
                                         int64_t begin_ms, int64_t end_ms) const {
  std::vector<int64_t> offsets;
  if (max == 0 || key.empty() || begin_ms > end_ms) return offsets;
  const uint32_t hash = IndexKeyHash(IndexKey(topic, key));
  absl::flat_hash_set<int64_t> seen;
  absl::ReaderMutexLock lock(&mu_);
  for (auto it = files_.rbegin(); it != files_.rend() && offsets.size() < max; ++it) {
    (*it)->Lookup(hash, begin_ms, end_ms, [&](int64_t physical_offset) {
      if (seen.insert(physical_offset).second) offsets.push_back(physical_offset);
      return offsets.size() < max;
    });
  }
  return offsets;
}

absl::Status IndexService::TruncateByPhysicalOffset(int64_t physical_offset) {
  // Excludes a Flush that could record a flushed offset from before the cut.
  absl::MutexLock flush_lock(&flush_mu_);
  absl::MutexLock lock(&mu_);
  while (!files_.empty()) {
    IndexFile& last = *files_.back();
    if (!last.empty() && last.begin_physical_offset() < physical_offset) {
      if (last.end_physical_offset() >= physical_offset) {
        LOG(INFO) << "truncating index file " << last.path() << " at physical offset "
                  << physical_offset;
        last.TruncateByPhysicalOffset(physical_offset);
      }
      break;
    }
    LOG(INFO) << "deleting index file " << last.path() << ": at or past physical offset "
              << physical_offset;
    if (absl::Status status = last.Destroy(); !status.ok()) return status;
    files_.pop_back();
  }
  // Kept entries were not rewritten except for their chain links, which a
  // later truncation rebuilds anyway; the flushed offset stays valid for them.
  const IndexFile* last = LastNonEmptyLocked();
  flushed_physical_offset_.store(
      std::min(FlushedPhysicalOffset(), last == nullptr ? -1 : last->end_physical_offset()),
      std::memory_order_release);
  flushed_timestamp_ms_.store(
      std::min(FlushedTimestampMs(), last == nullptr ? -1 : last->end_timestamp_ms()),
      std::memory_order_release);
  return absl::OkStatus();
}

int IndexService::DeleteFilesBelowPhysicalOffset(int64_t min_physical_offset) {
  absl::MutexLock lock(&mu_);
  int deleted = 0;
  while (files_.size() > 1 &&
         (files_.front()->empty() || files_.front()->end_physical_offset() < min_physical_offset)) {
    if (absl::Status status = files_.front()->Destroy(); !status.ok()) {
      LOG(WARNING) << "index retention: " << status;
      break;
    }
    LOG(INFO) << "deleted index file " << files_.front()->path() << ": all below physical offset "
              << min_physical_offset;
    files_.erase(files_.begin());
    ++deleted;
  }
  return deleted;
}

absl::Status IndexService::Flush() {
  absl::MutexLock flush_lock(&flush_mu_);
  std::vector<std::shared_ptr<IndexFile>> files;
  int64_t last_indexed = -1;
  int64_t last_timestamp_ms = -1;
  {
    absl::ReaderMutexLock lock(&mu_);
    files = files_;
    if (const IndexFile* last = LastNonEmptyLocked(); last != nullptr) {
      last_indexed = last->end_physical_offset();
      last_timestamp_ms = last->end_timestamp_ms();
    }
  }
  // Entries up to `last_indexed` were written before the snapshot, so the
  // syncs below cover them; later entries may or may not be synced.
  for (const auto& file : files) {
    if (absl::Status status = file->Flush(); !status.ok()) return status;
  }
  flushed_physical_offset_.store(last_indexed, std::memory_order_release);
  flushed_timestamp_ms_.store(last_timestamp_ms, std::memory_order_release);
  return absl::OkStatus();
}

int64_t IndexService::LastIndexedPhysicalOffset() const {
  absl::ReaderMutexLock lock(&mu_);
  return LastIndexedLocked();
}

int IndexService::file_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return static_cast<int>(files_.size());
}

}  // namespace mq::store
