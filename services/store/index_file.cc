#include "services/store/index_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "common/format/big_endian.h"
#include "glog/logging.h"

namespace mq::store {
namespace {

constexpr int64_t kBeginTimestampPos = 0;
constexpr int64_t kEndTimestampPos = 8;
constexpr int64_t kBeginPhysicalOffsetPos = 16;
constexpr int64_t kEndPhysicalOffsetPos = 24;
constexpr int64_t kSlotCountPos = 32;
constexpr int64_t kIndexCountPos = 36;

constexpr int64_t kEntryHashPos = 0;
constexpr int64_t kEntryPhysicalOffsetPos = 4;
constexpr int64_t kEntryTimeDiffPos = 12;
constexpr int64_t kEntryPrevPos = 16;

// Entry times are kept in whole seconds since the file's begin timestamp.
constexpr int64_t kMillisPerSecond = 1000;

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : ErrnoStatus(err, "fsync directory", dir);
}

// Writes an empty index of `size` bytes to `path`: blocks allocated, header
// set, synced.
absl::Status WriteEmptyFile(const std::string& path, int64_t size, int32_t slot_count) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "create", path);
  if (absl::Status allocated = AllocateFile(fd, size, path); !allocated.ok()) {
    ::close(fd);
    return allocated;
  }
  char header[IndexFile::kHeaderBytes] = {};
  format::StoreBigEndian32(header + kSlotCountPos, static_cast<uint32_t>(slot_count));
  format::StoreBigEndian32(header + kIndexCountPos, 1);
  if (::pwrite(fd, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header))) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "write header", path);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "fsync", path);
  }
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace

uint32_t IndexKeyHash(absl::string_view key) {
  uint32_t hash = 0;
  for (char c : key) hash = hash * 31 + static_cast<unsigned char>(c);
  return hash;
}

int64_t IndexFile::FileSize(int32_t slot_count, int32_t max_entries) {
  return kHeaderBytes + kSlotBytes * slot_count + kEntryBytes * max_entries;
}

IndexFile::IndexFile(std::string path, char* base, int64_t size, int32_t slot_count,
                     int32_t max_entries)
    : path_(std::move(path)),
      base_(base),
      size_(size),
      slot_count_(slot_count),
      max_entries_(max_entries) {}

IndexFile::~IndexFile() { ::munmap(base_, size_); }

absl::StatusOr<std::unique_ptr<IndexFile>> IndexFile::Create(const std::string& path,
                                                             int32_t slot_count,
                                                             int32_t max_entries) {
  if (slot_count <= 0 || max_entries <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("index file needs positive sizes: ", slot_count,
                                                   " slots, ", max_entries, " entries"));
  }
  if (::access(path.c_str(), F_OK) == 0) return ErrnoStatus(EEXIST, "create", path);
  const std::string tmp_path = absl::StrCat(path, ".tmp");
  if (absl::Status status = WriteEmptyFile(tmp_path, FileSize(slot_count, max_entries), slot_count);
      !status.ok()) {
    ::unlink(tmp_path.c_str());
    return status;
  }
  if (::rename(tmp_path.c_str(), path.c_str()) != 0) {
    absl::Status status = ErrnoStatus(errno, "rename to", path);
    ::unlink(tmp_path.c_str());
    return status;
  }
  if (absl::Status status = SyncDirectory(DirectoryOf(path)); !status.ok()) {
    LOG(WARNING) << "created " << path << " but " << status;
  }
  return Open(path);
}

absl::StatusOr<std::unique_ptr<IndexFile>> IndexFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "stat", path);
  }
  const int64_t size = st.st_size;
  if (size < kHeaderBytes) {
    ::close(fd);
    return absl::DataLossError(absl::StrCat("index file ", path, " is too short: ", size));
  }
  void* mapped = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  // The mapping keeps the file open.
  ::close(fd);
  if (mapped == MAP_FAILED) return ErrnoStatus(err, "mmap", path);
  char* base = static_cast<char*>(mapped);
  const int64_t slot_count = static_cast<int32_t>(format::LoadBigEndian32(base + kSlotCountPos));
  const int64_t entry_bytes = size - kHeaderBytes - kSlotBytes * slot_count;
  const int64_t max_entries = entry_bytes / kEntryBytes;
  const int64_t next_entry = static_cast<int32_t>(format::LoadBigEndian32(base + kIndexCountPos));
  std::string problem;
  if (slot_count <= 0) {
    problem = absl::StrCat("slot count ", slot_count);
  } else if (entry_bytes <= 0 || entry_bytes % kEntryBytes != 0 ||
             max_entries > std::numeric_limits<int32_t>::max()) {
    problem = absl::StrCat("size ", size, " does not fit ", slot_count, " slots");
  } else if (next_entry < 1 || next_entry > max_entries + 1) {
    problem = absl::StrCat("index count ", next_entry, " with room for ", max_entries);
  }
  if (!problem.empty()) {
    ::munmap(base, size);
    return absl::DataLossError(absl::StrCat("index file ", path, " is corrupt: ", problem));
  }
  auto file = absl::WrapUnique(new IndexFile(path, base, size, static_cast<int32_t>(slot_count),
                                             static_cast<int32_t>(max_entries)));
  file->begin_timestamp_ms_ =
      static_cast<int64_t>(format::LoadBigEndian64(base + kBeginTimestampPos));
  file->end_timestamp_ms_ = static_cast<int64_t>(format::LoadBigEndian64(base + kEndTimestampPos));
  file->begin_physical_offset_ =
      static_cast<int64_t>(format::LoadBigEndian64(base + kBeginPhysicalOffsetPos));
  file->end_physical_offset_ =
      static_cast<int64_t>(format::LoadBigEndian64(base + kEndPhysicalOffsetPos));
  file->next_entry_ = static_cast<int32_t>(next_entry);
  return file;
}

char* IndexFile::SlotAt(uint32_t slot) const {
  return base_ + kHeaderBytes + kSlotBytes * static_cast<int64_t>(slot);
}

char* IndexFile::EntryAt(int32_t number) const {
  return base_ + kHeaderBytes + kSlotBytes * slot_count_ + kEntryBytes * (number - 1);
}

void IndexFile::WriteHeader() {
  format::StoreBigEndian64(base_ + kBeginTimestampPos, static_cast<uint64_t>(begin_timestamp_ms_));
  format::StoreBigEndian64(base_ + kEndTimestampPos, static_cast<uint64_t>(end_timestamp_ms_));
  format::StoreBigEndian64(base_ + kBeginPhysicalOffsetPos,
                           static_cast<uint64_t>(begin_physical_offset_));
  format::StoreBigEndian64(base_ + kEndPhysicalOffsetPos,
                           static_cast<uint64_t>(end_physical_offset_));
  format::StoreBigEndian32(base_ + kIndexCountPos, static_cast<uint32_t>(next_entry_));
}

absl::Status IndexFile::Add(uint32_t key_hash, int64_t physical_offset,
                            int64_t store_timestamp_ms) {
  if (free_entries() <= 0) {
    return absl::FailedPreconditionError(absl::StrCat("index file ", path_, " is full"));
  }
  if (!empty() && physical_offset < end_physical_offset_) {
    return absl::FailedPreconditionError(absl::StrCat("index entry at physical offset ",
                                                      physical_offset, " is behind ",
                                                      end_physical_offset_, " in ", path_));
  }
  if (empty()) {
    begin_timestamp_ms_ = store_timestamp_ms;
    end_timestamp_ms_ = store_timestamp_ms;
    begin_physical_offset_ = physical_offset;
  }
  // A clock stepping back gives a negative difference; such entries are filed
  // at the begin time rather than dropped.
  const int64_t diff_s =
      std::clamp<int64_t>((store_timestamp_ms - begin_timestamp_ms_) / kMillisPerSecond, 0,
                          std::numeric_limits<int32_t>::max());
  const int32_t number = next_entry_;
  char* slot = SlotAt(key_hash % static_cast<uint32_t>(slot_count_));
  uint32_t prev = format::LoadBigEndian32(slot);
  if (prev >= static_cast<uint32_t>(number)) prev = 0;
  char* entry = EntryAt(number);
  format::StoreBigEndian32(entry + kEntryHashPos, key_hash);
  format::StoreBigEndian64(entry + kEntryPhysicalOffsetPos, static_cast<uint64_t>(physical_offset));
  format::StoreBigEndian32(entry + kEntryTimeDiffPos, static_cast<uint32_t>(diff_s));
  format::StoreBigEndian32(entry + kEntryPrevPos, prev);
  format::StoreBigEndian32(slot, static_cast<uint32_t>(number));
  next_entry_ = number + 1;
  end_timestamp_ms_ = std::max(end_timestamp_ms_, store_timestamp_ms);
  end_physical_offset_ = physical_offset;
  WriteHeader();
  dirty_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

void IndexFile::Lookup(uint32_t key_hash, int64_t begin_ms, int64_t end_ms,
                       absl::FunctionRef<bool(int64_t physical_offset)> visit) const {
  if (empty()) return;
  // Entry times are known to the second: an entry filed at t was stored in
  // [t, t + 999 ms].
  constexpr int64_t kSlackMs = kMillisPerSecond - 1;
  if (begin_timestamp_ms_ > end_ms || end_timestamp_ms_ + kSlackMs < begin_ms) return;
  uint32_t number = format::LoadBigEndian32(SlotAt(key_hash % static_cast<uint32_t>(slot_count_)));
  // Chains only point to older entries, so every step lowers `number`.
  while (number >= 1 && number < static_cast<uint32_t>(next_entry_)) {
    const char* entry = EntryAt(static_cast<int32_t>(number));
    if (format::LoadBigEndian32(entry + kEntryHashPos) == key_hash) {
      const int64_t stored_ms =
          begin_timestamp_ms_ +
          static_cast<int64_t>(format::LoadBigEndian32(entry + kEntryTimeDiffPos)) *
              kMillisPerSecond;
      if (stored_ms <= end_ms && stored_ms + kSlackMs >= begin_ms &&
          !visit(static_cast<int64_t>(format::LoadBigEndian64(entry + kEntryPhysicalOffsetPos)))) {
        return;
      }
    }
    const uint32_t prev = format::LoadBigEndian32(entry + kEntryPrevPos);
    if (prev >= number) {
      LOG(WARNING) << "index file " << path_ << ": entry " << number << " links to " << prev
                   << "; chain cut short";
      return;
    }
    number = prev;
  }
}

void IndexFile::TruncateByPhysicalOffset(int64_t physical_offset) {
  if (empty() || end_physical_offset_ < physical_offset) return;
  // Physical offsets never decrease with the entry number: find the first
  // entry at or past the cut.
  int32_t lo = 1;
  int32_t hi = next_entry_;
  while (lo < hi) {
    int32_t mid = lo + (hi - lo) / 2;
    if (static_cast<int64_t>(format::LoadBigEndian64(EntryAt(mid) + kEntryPhysicalOffsetPos)) <
        physical_offset) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  const int32_t keep = lo - 1;
  const uint32_t dropped = static_cast<uint32_t>(next_entry_ - lo);
  std::memset(EntryAt(lo), 0, static_cast<size_t>(kEntryBytes) * dropped);
  std::memset(SlotAt(0), 0, static_cast<size_t>(kSlotBytes) * slot_count_);
  for (int32_t number = 1; number <= keep; ++number) {
    char* entry = EntryAt(number);
    char* slot =
        SlotAt(format::LoadBigEndian32(entry + kEntryHashPos) % static_cast<uint32_t>(slot_count_));
    format::StoreBigEndian32(entry + kEntryPrevPos, format::LoadBigEndian32(slot));
    format::StoreBigEndian32(slot, static_cast<uint32_t>(number));
  }
  next_entry_ = keep + 1;
  if (keep == 0) {
    begin_timestamp_ms_ = 0;
    end_timestamp_ms_ = 0;
    begin_physical_offset_ = 0;
    end_physical_offset_ = 0;
  } else {
    const char* last = EntryAt(keep);
    end_physical_offset_ =
        static_cast<int64_t>(format::LoadBigEndian64(last + kEntryPhysicalOffsetPos));
    // The exact time of the last kept entry is lost; its second is a bound
    // that Lookup's one-second slack covers.
    end_timestamp_ms_ =
        begin_timestamp_ms_ +
        static_cast<int64_t>(format::LoadBigEndian32(last + kEntryTimeDiffPos)) * kMillisPerSecond;
  }
  WriteHeader();
  dirty_.store(true, std::memory_order_release);
}

absl::Status IndexFile::Flush() {
  if (!dirty_.exchange(false, std::memory_order_acq_rel)) return absl::OkStatus();
  if (::msync(base_, size_, MS_SYNC) != 0) {
    dirty_.store(true, std::memory_order_release);
    return ErrnoStatus(errno, "msync", path_);
  }
  return absl::OkStatus();
}

absl::Status IndexFile::Destroy() {
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "unlink", path_);
  return absl::OkStatus();
}

}  // namespace mq::store
