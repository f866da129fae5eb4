#include "services/store/metadata_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "common/format/big_endian.h"
#include "common/units.h"
#include "common/validation.h"
#include "glog/logging.h"
#include "proto/store.pb.h"

namespace mq::store {
namespace {

// File layout, all integers big-endian:
//   0  magic "MQMD"        4 bytes
//   4  format version      4 bytes (1)
//   8  body length         8 bytes
//   16 CRC-32 of the body  4 bytes (zlib's crc32)
//   20 body: mq.store.v1.ListMetadataResponse, entries sorted by key.
constexpr char kMagic[4] = {'M', 'Q', 'M', 'D'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = 20;

uint32_t Crc32(absl::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes a uInt length; feed large bodies in chunks.
  constexpr size_t kChunkBytes = 1_GiB;
  while (!data.empty()) {
    size_t n = std::min(data.size(), kChunkBytes);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n));
    data.remove_prefix(n);
  }
  return static_cast<uint32_t>(crc);
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return ErrnoStatus(errno, what, path);
}

std::string Encode(const std::map<std::string, std::string, std::less<>>& table) {
  v1::ListMetadataResponse body;
  for (const auto& [key, value] : table) {
    v1::MetadataEntry* entry = body.add_entries();
    entry->set_key(key);
    entry->set_value(value);
  }
  std::string payload;
  body.SerializeToString(&payload);
  std::string file(kHeaderBytes, '\0');
  std::memcpy(file.data(), kMagic, sizeof(kMagic));
  format::StoreBigEndian32(file.data() + 4, kFormatVersion);
  format::StoreBigEndian64(file.data() + 8, payload.size());
  format::StoreBigEndian32(file.data() + 16, Crc32(payload));
  file += payload;
  return file;
}

// Parses a whole file; DATA_LOSS describes what is wrong with it.
absl::StatusOr<std::map<std::string, std::string, std::less<>>> Decode(absl::string_view file) {
  if (file.size() < kHeaderBytes) {
    return absl::DataLossError(absl::StrCat("file too short (", file.size(), " bytes)"));
  }
  if (std::memcmp(file.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError("bad magic");
  }
  uint64_t version = format::LoadBigEndian32(file.data() + 4);
  if (version != kFormatVersion) {
    return absl::DataLossError(absl::StrCat("unknown format version ", version));
  }
  uint64_t length = format::LoadBigEndian64(file.data() + 8);
  if (length != file.size() - kHeaderBytes) {
    return absl::DataLossError(absl::StrCat(
        "body length ", length, " but ", file.size() - kHeaderBytes, " bytes follow the header"));
  }
  absl::string_view payload = file.substr(kHeaderBytes);
  if (format::LoadBigEndian32(file.data() + 16) != Crc32(payload)) {
    return absl::DataLossError("checksum mismatch");
  }
  v1::ListMetadataResponse body;
  if (!body.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::DataLossError("body does not parse");
  }
  std::map<std::string, std::string, std::less<>> table;
  for (const v1::MetadataEntry& entry : body.entries()) table[entry.key()] = entry.value();
  return table;
}

// Reads a whole file; NOT_FOUND if it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(path);
    return ErrnoError("open", path);
  }
  std::string content;
  char buffer[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status status = ErrnoError("read", path);
      ::close(fd);
      return status;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

absl::Status WriteAndSync(const std::string& path, absl::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", path);
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status status = ErrnoError("write", path);
      ::close(fd);
      return status;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) {
    absl::Status status = ErrnoError("fsync", path);
    ::close(fd);
    return status;
  }
  if (::close(fd) != 0) return ErrnoError("close", path);
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open directory", dir);
  int rc = ::fsync(fd);
  absl::Status status = rc == 0 ? absl::OkStatus() : ErrnoError("fsync directory", dir);
  ::close(fd);
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::Open(std::string dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("create directory ", dir, ": ", error.message()));
  }
  const std::string main_path = absl::StrCat(dir, "/", kFileName);
  const std::string backup_path = absl::StrCat(dir, "/", kBackupFileName);
  // A temp file is the remains of a write that never reached its rename.
  std::filesystem::remove(absl::StrCat(dir, "/", kTempFileName), error);

  absl::StatusOr<std::string> main_file = ReadFile(main_path);
  absl::Status main_problem;
  if (main_file.ok()) {
    absl::StatusOr<Table> table = Decode(*main_file);
    if (table.ok()) {
      return absl::WrapUnique(new MetadataStore(std::move(dir), *std::move(table), true));
    }
    main_problem = table.status();
  } else if (absl::IsNotFound(main_file.status())) {
    main_problem = main_file.status();
  } else {
    return main_file.status();
  }

  absl::StatusOr<std::string> backup_file = ReadFile(backup_path);
  if (!backup_file.ok() && absl::IsNotFound(backup_file.status())) {
    if (absl::IsNotFound(main_problem)) {
      return absl::WrapUnique(new MetadataStore(std::move(dir), Table(), true));
    }
    return absl::DataLossError(absl::StrCat("metadata file ", main_path, " is corrupt (",
                                            main_problem.message(), ") and there is no backup"));
  }
  if (!backup_file.ok()) return backup_file.status();
  absl::StatusOr<Table> table = Decode(*backup_file);
  if (!table.ok()) {
    return absl::DataLossError(absl::StrCat(
        "metadata file ", main_path, " is unusable (", main_problem.message(), ") and its backup ",
        backup_path, " is corrupt (", table.status().message(), ")"));
  }
  LOG(WARNING) << "metadata file " << main_path << " is unusable (" << main_problem.message()
               << "); loaded the previous copy " << backup_path << " with " << table->size()
               << " keys; the most recent metadata change may be lost";
  return absl::WrapUnique(new MetadataStore(std::move(dir), *std::move(table), false));
}

MetadataStore::MetadataStore(std::string dir, Table table, bool file_is_good)
    : dir_(std::move(dir)), file_is_good_(file_is_good), table_(std::move(table)) {}

absl::optional<std::string> MetadataStore::Get(absl::string_view key) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = table_.find(key);
  if (it == table_.end()) return absl::nullopt;
  return it->second;
}

std::vector<MetadataStore::Entry> MetadataStore::List(absl::string_view prefix) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<Entry> entries;
  for (auto it = table_.lower_bound(prefix);
       it != table_.end() && absl::StartsWith(it->first, prefix); ++it) {
    entries.push_back({it->first, it->second});
  }
  return entries;
}

size_t MetadataStore::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return table_.size();
}

absl::Status ValidateMetadataKey(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("metadata key must not be empty");
  if (key.size() > kMaxMetadataKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("metadata key ", QuoteInput(key), " is over ",
                                                   kMaxMetadataKeyBytes, " bytes"));
  }
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':' || c == '/' || c == '%' ||
                    c == '|' || c == '@';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metadata key ", QuoteInput(key), " has characters outside [a-zA-Z0-9_.:/%|@-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status MetadataStore::Put(absl::Span<const Mutation> batch) {
  size_t batch_bytes = 0;
  for (const Mutation& mutation : batch) {
    if (absl::Status s = ValidateMetadataKey(mutation.key); !s.ok()) return s;
    batch_bytes += mutation.key.size() + mutation.value.size();
  }
  if (batch_bytes > kMaxMetadataBatchBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a metadata batch of ", batch_bytes,
                                                   " bytes is over the limit of ",
                                                   kMaxMetadataBatchBytes));
  }
  if (batch.empty()) return absl::OkStatus();
  absl::MutexLock write_lock(&write_mu_);
  Table next;
  {
    absl::ReaderMutexLock lock(&mu_);
    next = table_;
  }
  for (const Mutation& mutation : batch) {
    if (mutation.deleted) {
      next.erase(mutation.key);
    } else {
      next[mutation.key] = mutation.value;
    }
  }
  bool renamed = false;
  absl::Status status = WriteFile(next, &renamed);
  if (renamed) {
    absl::MutexLock lock(&mu_);
    table_ = std::move(next);
  }
  return status;
}

absl::Status MetadataStore::WriteFile(const Table& table, bool* renamed) {
  const std::string main_path = absl::StrCat(dir_, "/", kFileName);
  const std::string backup_path = absl::StrCat(dir_, "/", kBackupFileName);
  const std::string temp_path = absl::StrCat(dir_, "/", kTempFileName);
  if (absl::Status status = WriteAndSync(temp_path, Encode(table)); !status.ok()) return status;
  // Keep the current file as the backup only if it is known good; after a
  // fallback at Open the backup already holds the last good table.
  if (file_is_good_ && ::rename(main_path.c_str(), backup_path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("rename to backup", main_path);
  }
  if (::rename(temp_path.c_str(), main_path.c_str()) != 0) {
    return ErrnoError("rename", temp_path);
  }
  *renamed = true;
  file_is_good_ = true;
  if (absl::Status status = SyncDirectory(dir_); !status.ok()) {
    return absl::InternalError(
        absl::StrCat("metadata change applied but may not survive a crash: ", status.message()));
  }
  return absl::OkStatus();
}

}  // namespace mq::store
