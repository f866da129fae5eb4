#include "services/store/store_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace mq::store {
namespace {

std::string LockPath(const std::string& root) { return absl::StrCat(root, "/lock"); }
std::string AbortPath(const std::string& root) { return absl::StrCat(root, "/abort"); }

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open directory", dir);
  absl::Status status;
  if (::fsync(fd) != 0) status = ErrnoError("fsync directory", dir);
  ::close(fd);
  return status;
}

}  // namespace

StoreLock::StoreLock(std::string root, int lock_fd, bool was_clean_shutdown)
    : root_(std::move(root)), lock_fd_(lock_fd), was_clean_shutdown_(was_clean_shutdown) {}

StoreLock::~StoreLock() { ::close(lock_fd_); }

absl::StatusOr<std::unique_ptr<StoreLock>> StoreLock::Acquire(const std::string& root) {
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("create store directory ", root, ": ", ec.message()));
  }
  const std::string lock_path = LockPath(root);
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open", lock_path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store directory ", root, " is in use by another store (", lock_path, " is locked)"));
    }
    errno = err;
    return ErrnoError("lock", lock_path);
  }
  bool clean = ::access(AbortPath(root).c_str(), F_OK) != 0;
  if (!clean) LOG(WARNING) << "store " << root << " did not shut down cleanly last time";
  return std::unique_ptr<StoreLock>(new StoreLock(root, fd, clean));
}

absl::Status StoreLock::MarkRunning() {
  const std::string path = AbortPath(root_);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create", path);
  ::close(fd);
  return SyncDirectory(root_);
}

absl::Status StoreLock::MarkCleanShutdown() {
  const std::string path = AbortPath(root_);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("remove", path);
  return SyncDirectory(root_);
}

}  // namespace mq::store
