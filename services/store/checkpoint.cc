#include "services/store/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace mq::store {
namespace {

constexpr int kCrcOffset = 32;

void Put64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xFF);
}
uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint32_t Get32(const char* p) { return static_cast<uint32_t>(Get64(p) >> 32); }
uint32_t Crc(const char* data, size_t size) {
  return static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data), size));
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

std::string Encode(const CheckpointData& data) {
  std::string bytes(kCheckpointFileBytes, '\0');
  Put64(&bytes[0], static_cast<uint64_t>(data.physic_msg_timestamp_ms));
  Put64(&bytes[8], static_cast<uint64_t>(data.logics_msg_timestamp_ms));
  Put64(&bytes[16], static_cast<uint64_t>(data.index_msg_timestamp_ms));
  Put64(&bytes[24], static_cast<uint64_t>(data.commit_log_flushed_offset));
  Put64(&bytes[kCrcOffset], static_cast<uint64_t>(Crc(bytes.data(), kCrcOffset)) << 32);
  return bytes;
}

// Returns false when `bytes` are not a valid checkpoint.
bool Decode(const std::string& bytes, CheckpointData* data) {
  if (bytes.size() != static_cast<size_t>(kCheckpointFileBytes)) return false;
  if (Get32(&bytes[kCrcOffset]) != Crc(bytes.data(), kCrcOffset)) return false;
  data->physic_msg_timestamp_ms = static_cast<int64_t>(Get64(&bytes[0]));
  data->logics_msg_timestamp_ms = static_cast<int64_t>(Get64(&bytes[8]));
  data->index_msg_timestamp_ms = static_cast<int64_t>(Get64(&bytes[16]));
  data->commit_log_flushed_offset = static_cast<int64_t>(Get64(&bytes[24]));
  return true;
}

absl::Status WriteFully(int fd, const std::string& bytes, const std::string& path) {
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write", path);
    written += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

int64_t CheckpointData::MinTimestamp() const {
  return std::max<int64_t>(
      0, std::min(physic_msg_timestamp_ms, logics_msg_timestamp_ms) - kCheckpointSafetyMarginMs);
}

int64_t CheckpointData::MinTimestampIndex() const {
  return std::max<int64_t>(
      0, std::min(MinTimestamp(), index_msg_timestamp_ms - kCheckpointSafetyMarginMs));
}

Checkpoint::Checkpoint(std::string path, CheckpointData data)
    : path_(std::move(path)), data_(data) {}

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& path) {
  CheckpointData data;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT) return ErrnoError("open", path);
  if (fd >= 0) {
    std::string bytes(kCheckpointFileBytes + 1, '\0');
    ssize_t n = ::pread(fd, bytes.data(), bytes.size(), 0);
    int read_errno = errno;
    ::close(fd);
    if (n < 0) {
      errno = read_errno;
      return ErrnoError("read", path);
    }
    bytes.resize(static_cast<size_t>(n));
    if (!Decode(bytes, &data)) {
      LOG(ERROR) << "checkpoint " << path << " is damaged (" << n
                 << " bytes, or a CRC mismatch); treating it as empty, so recovery will "
                    "start from the oldest data";
      data = CheckpointData();
    }
  }
  return std::unique_ptr<Checkpoint>(new Checkpoint(path, data));
}

CheckpointData Checkpoint::Get() const {
  absl::MutexLock lock(&mu_);
  return data_;
}

void Checkpoint::SetPhysicMsgTimestamp(int64_t timestamp_ms) {
  absl::MutexLock lock(&mu_);
  data_.physic_msg_timestamp_ms = timestamp_ms;
}

void Checkpoint::SetLogicsMsgTimestamp(int64_t timestamp_ms) {
  absl::MutexLock lock(&mu_);
  data_.logics_msg_timestamp_ms = timestamp_ms;
}

void Checkpoint::SetIndexMsgTimestamp(int64_t timestamp_ms) {
  absl::MutexLock lock(&mu_);
  data_.index_msg_timestamp_ms = timestamp_ms;
}

void Checkpoint::SetCommitLogFlushedOffset(int64_t offset) {
  absl::MutexLock lock(&mu_);
  data_.commit_log_flushed_offset = offset;
}

absl::Status Checkpoint::Flush() {
  absl::MutexLock flush_lock(&flush_mu_);
  const std::string bytes = Encode(Get());
  const std::string tmp = absl::StrCat(path_, ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create", tmp);
  absl::Status status = WriteFully(fd, bytes, tmp);
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError("fsync", tmp);
  ::close(fd);
  if (!status.ok()) return status;
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return ErrnoError("rename to", path_);
  std::string dir = path_.substr(0, path_.find_last_of('/') + 1);
  if (dir.empty()) dir = ".";
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoError("open directory", dir);
  if (::fsync(dir_fd) != 0) status = ErrnoError("fsync directory", dir);
  ::close(dir_fd);
  return status;
}

}  // namespace mq::store
