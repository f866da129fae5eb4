#include "services/store/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_io.h"
#include "common/units.h"
#include "glog/logging.h"

namespace mq::store {
namespace {

constexpr size_t kFileNameDigits = 20;

// Closes a descriptor on every return path but the one that Release()s it.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

absl::Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
  FdCloser closer(fd);
  if (::fsync(fd) != 0) return ErrnoStatus(errno, "fsync directory", dir);
  return absl::OkStatus();
}

absl::StatusOr<char*> MapFile(int fd, int64_t file_size, const std::string& path) {
  void* base = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return ErrnoStatus(errno, "mmap", path);
  return static_cast<char*>(base);
}

}  // namespace

std::string OffsetToFileName(int64_t offset) { return absl::StrFormat("%020d", offset); }

absl::optional<int64_t> FileNameToOffset(absl::string_view name) {
  if (name.size() != kFileNameDigits) return absl::nullopt;
  for (char c : name) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return absl::nullopt;
  }
  int64_t offset = 0;
  if (!absl::SimpleAtoi(name, &offset)) return absl::nullopt;
  return offset;
}

MappedFile::MappedFile(std::string path, int64_t start_offset, int64_t file_size, char* base,
                       int fd)
    : path_(std::move(path)),
      start_offset_(start_offset),
      file_size_(file_size),
      base_(base),
      fd_(fd) {}

MappedFile::~MappedFile() {
  ::munmap(base_, file_size_);
  ::close(fd_);
}

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Create(const std::string& dir,
                                                               int64_t start_offset,
                                                               int64_t file_size) {
  if (file_size <= 0 || start_offset < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad mapped file geometry: start ", start_offset, ", size ", file_size));
  }
  std::string path = absl::StrCat(dir, "/", OffsetToFileName(start_offset));
  if (::access(path.c_str(), F_OK) == 0) return ErrnoStatus(EEXIST, "create", path);
  std::string tmp_path = absl::StrCat(path, ".tmp");
  int fd = ::open(tmp_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "create", tmp_path);
  FdCloser closer(fd);
  if (absl::Status allocated = AllocateFile(fd, file_size, tmp_path); !allocated.ok()) {
    ::unlink(tmp_path.c_str());
    return allocated;
  }
  absl::StatusOr<char*> base = MapFile(fd, file_size, tmp_path);
  if (!base.ok()) {
    ::unlink(tmp_path.c_str());
    return base.status();
  }
  if (::rename(tmp_path.c_str(), path.c_str()) != 0) {
    absl::Status status = ErrnoStatus(errno, "rename to", path);
    ::munmap(*base, file_size);
    ::unlink(tmp_path.c_str());
    return status;
  }
  absl::Status synced = SyncDirectory(dir);
  if (!synced.ok()) LOG(WARNING) << "created " << path << " but " << synced;
  return std::unique_ptr<MappedFile>(
      new MappedFile(std::move(path), start_offset, file_size, *base, closer.Release()));
}

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& dir,
                                                             int64_t start_offset,
                                                             int64_t file_size,
                                                             ShortFile short_file) {
  std::string path = absl::StrCat(dir, "/", OffsetToFileName(start_offset));
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "stat", path);
  if (st.st_size < file_size && short_file == ShortFile::kRestore) {
    if (absl::Status allocated = AllocateFile(fd, file_size, path); !allocated.ok())
      return allocated;
    LOG(WARNING) << "file " << path << " had " << st.st_size << " bytes of " << file_size
                 << " (cut short by a torn write, a filesystem repair or a partial copy): "
                    "restored to its size; recovery cuts the data at its last whole record";
  } else if (st.st_size != file_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "file ", path, " has ", st.st_size, " bytes but this log's files have ", file_size,
        " bytes",
        st.st_size < file_size
            ? ": it is not the last file, so the records after it cannot be trusted; restore it "
              "from a backup or a slave, or move it and the files after it out of the directory "
              "(their messages are lost) and start again"
            : " (was --commit_log_file_size or --consume_queue_units_per_file changed? start "
              "with the size the files were written with)"));
  }
  absl::StatusOr<char*> base = MapFile(fd, file_size, path);
  if (!base.ok()) return base.status();
  auto file = std::unique_ptr<MappedFile>(
      new MappedFile(std::move(path), start_offset, file_size, *base, closer.Release()));
  file->write_position_.store(file_size, std::memory_order_release);
  file->flushed_position_.store(file_size, std::memory_order_release);
  return file;
}

bool MappedFile::Append(absl::Span<const char> data) {
  int64_t pos = write_position_.load(std::memory_order_relaxed);
  if (static_cast<int64_t>(data.size()) > file_size_ - pos) return false;
  std::memcpy(base_ + pos, data.data(), data.size());
  write_position_.store(pos + static_cast<int64_t>(data.size()), std::memory_order_release);
  return true;
}

absl::Status MappedFile::Write(absl::string_view data) {
  const int64_t pos = write_position_.load(std::memory_order_relaxed);
  if (static_cast<int64_t>(data.size()) > file_size_ - pos) {
    return absl::OutOfRangeError(
        absl::StrCat("write of ", data.size(), " bytes at ", pos, " past the end of ", path_));
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(pos + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path_);
    }
    done += static_cast<size_t>(n);
  }
  write_position_.store(pos + static_cast<int64_t>(data.size()), std::memory_order_release);
  return absl::OkStatus();
}

absl::Span<char> MappedFile::WritableTail() {
  int64_t pos = write_position_.load(std::memory_order_relaxed);
  return absl::Span<char>(base_ + pos, static_cast<size_t>(file_size_ - pos));
}

void MappedFile::AdvanceWritePosition(int64_t bytes) {
  int64_t pos = write_position_.load(std::memory_order_relaxed);
  CHECK_GE(bytes, 0);
  CHECK_LE(bytes, file_size_ - pos) << path_;
  write_position_.store(pos + bytes, std::memory_order_release);
}

absl::string_view MappedFile::Read(int64_t pos, int64_t len) const {
  int64_t end = write_position();
  if (pos < 0 || len <= 0 || pos >= end) return absl::string_view();
  return absl::string_view(base_ + pos, static_cast<size_t>(std::min(len, end - pos)));
}

absl::Status MappedFile::ReadInto(int64_t pos, int64_t len, char* out) const {
  if (pos < 0 || len < 0 || pos + len > write_position()) {
    return absl::OutOfRangeError(absl::StrCat("read of [", pos, ", +", len, ") in ", path_,
                                              " passes its write position ", write_position()));
  }
  while (len > 0) {
    ssize_t got = ::pread(fd_, out, static_cast<size_t>(len), pos);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoStatus(errno, "pread", path_);
    if (got == 0) return ErrnoStatus(EIO, "pread (unexpected end of file)", path_);
    out += got;
    pos += got;
    len -= got;
  }
  return absl::OkStatus();
}

bool MappedFile::IsFlushable(int least_pages) const {
  int64_t flushed = flushed_position();
  int64_t written = write_position();
  if (written == file_size_ && flushed < written) return true;
  if (least_pages > 0) {
    return written / kOsPageSizeBytes - flushed / kOsPageSizeBytes >= least_pages;
  }
  return written > flushed;
}

absl::StatusOr<int64_t> MappedFile::Flush(FlushExtent extent) {
  absl::MutexLock lock(&flush_mu_);
  int64_t end = write_position();
  if (extent == FlushExtent::kWholePages && end < file_size_) {
    end = end / kOsPageSizeBytes * kOsPageSizeBytes;
  }
  int64_t flushed = flushed_position_.load(std::memory_order_relaxed);
  if (end > flushed) {
    // msync wants a page-aligned address; the first partial page was already
    // partly flushed and is simply synced again.
    int64_t start = flushed / kOsPageSizeBytes * kOsPageSizeBytes;
    if (::msync(base_ + start, end - start, MS_SYNC) != 0) {
      return ErrnoStatus(errno, "msync", path_);
    }
    flushed_position_.store(end, std::memory_order_release);
  }
  return std::max(end, flushed);
}

absl::Status MappedFile::TruncateTo(int64_t pos) {
  absl::MutexLock lock(&flush_mu_);
  int64_t written = write_position();
  if (pos < 0 || pos > written) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncate ", path_, " to ", pos, ": write position is ", written));
  }
  // Zero the partial page by hand and drop whole pages with a hole punch, which
  // reads back as zeros without writing gigabytes. Where holes are not
  // supported, fall back to writing zeros.
  int64_t page_end =
      std::min(file_size_, (pos + kOsPageSizeBytes - 1) / kOsPageSizeBytes * kOsPageSizeBytes);
  std::memset(base_ + pos, 0, page_end - pos);
  if (page_end < file_size_) {
    bool punched = false;
    int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
      punched = ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, page_end,
                            file_size_ - page_end) == 0;
      // Give the blocks back so later writes cannot fail for lack of space.
      if (punched) ::fallocate(fd, FALLOC_FL_KEEP_SIZE, page_end, file_size_ - page_end);
      ::close(fd);
    }
    if (!punched) std::memset(base_ + page_end, 0, file_size_ - page_end);
  }
  if (::msync(base_ + pos / kOsPageSizeBytes * kOsPageSizeBytes,
              page_end - pos / kOsPageSizeBytes * kOsPageSizeBytes, MS_SYNC) != 0) {
    return ErrnoStatus(errno, "msync", path_);
  }
  write_position_.store(pos, std::memory_order_release);
  flushed_position_.store(pos, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status MappedFile::Warm() {
  absl::Status status = PrefaultAhead(0, file_size_);
  if (!absl::IsUnimplemented(status)) return status;
  // Older kernels: touch one byte per page. No writer yet and the file is
  // fresh past the write position, so writing a zero changes nothing.
  int64_t start = (write_position() + kOsPageSizeBytes - 1) / kOsPageSizeBytes * kOsPageSizeBytes;
  for (int64_t pos = start; pos < file_size_; pos += kOsPageSizeBytes) {
    reinterpret_cast<volatile char*>(base_)[pos] = 0;
  }
  return absl::OkStatus();
}

std::pair<int64_t, int64_t> MappedFile::PagesAhead(int64_t from, int64_t end) const {
  int64_t start = (std::max(from, write_position()) + kOsPageSizeBytes - 1) / kOsPageSizeBytes *
                  kOsPageSizeBytes;
  return {start, std::min(end, file_size_)};
}

absl::Status MappedFile::PrefaultAhead(int64_t from, int64_t end) {
  auto [start, stop] = PagesAhead(from, end);
  if (start >= stop) return absl::OkStatus();
  if (::madvise(base_ + start, stop - start, MADV_POPULATE_WRITE) == 0) return absl::OkStatus();
  if (errno == EINVAL) {
    return absl::UnimplementedError("MADV_POPULATE_WRITE needs Linux 5.14 or later");
  }
  return ErrnoStatus(errno, "madvise(MADV_POPULATE_WRITE)", path_);
}

absl::Status MappedFile::CacheAhead(int64_t from, int64_t end) {
  // One readahead(2) reads at most the device's read-ahead window (128 KiB by
  // default), so the range goes in pieces of that size.
  constexpr int64_t kPieceBytes = 128_KiB;
  auto [start, stop] = PagesAhead(from, end);
  for (int64_t pos = start; pos < stop; pos += kPieceBytes) {
    size_t len = static_cast<size_t>(std::min(kPieceBytes, stop - pos));
    if (::readahead(fd_, static_cast<off64_t>(pos), len) != 0) {
      return ErrnoStatus(errno, "readahead", path_);
    }
  }
  return absl::OkStatus();
}

absl::Status MappedFile::Destroy() {
  if (destroyed_.exchange(true)) return absl::OkStatus();
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "unlink", path_);
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> MappedFile::LastModifiedTime() const {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path_);
  return absl::TimeFromTimespec(st.st_mtim);
}

}  // namespace mq::store
