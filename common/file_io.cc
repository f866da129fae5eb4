#include "common/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace mq {

absl::Status ErrnoStatus(int err, absl::string_view what, absl::string_view path) {
  const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status AllocateFile(int fd, int64_t size, absl::string_view path) {
  int err = ::posix_fallocate(fd, 0, size);
  if (err == EOPNOTSUPP || err == EINVAL) err = ::ftruncate(fd, size) == 0 ? 0 : errno;
  return err == 0 ? absl::OkStatus() : ErrnoStatus(err, "allocate", path);
}

}  // namespace mq
