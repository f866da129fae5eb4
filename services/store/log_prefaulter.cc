#include "services/store/log_prefaulter.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "glog/logging.h"

namespace mq::store {

LogPrefaulter::LogPrefaulter(MappedFileQueue* queue, int64_t ahead_bytes, Mode mode)
    : queue_(queue), ahead_bytes_(ahead_bytes), mode_(mode) {
  CHECK_GT(ahead_bytes, 0);
}

void LogPrefaulter::KeepAhead() {
  if (disabled_) return;
  std::shared_ptr<MappedFile> last = queue_->LastFile();
  if (last == nullptr) return;
  if (last != file_) {
    file_ = std::move(last);
    prefaulted_to_ = 0;
  }
  const int64_t written = file_->write_position();
  if (prefaulted_to_ >= file_->file_size() || prefaulted_to_ - written > ahead_bytes_ / 2) return;
  const int64_t end = std::min(file_->file_size(), written + ahead_bytes_);
  // Pages below prefaulted_to_ are ready already.
  absl::Status status = mode_ == Mode::kMapWritable ? file_->PrefaultAhead(prefaulted_to_, end)
                                                    : file_->CacheAhead(prefaulted_to_, end);
  if (absl::IsUnimplemented(status)) {
    LOG(WARNING) << "not prefaulting " << queue_->dir() << ": " << status;
    disabled_ = true;
    return;
  }
  if (!status.ok()) {
    LOG_EVERY_N(WARNING, 100) << "prefaulting " << file_->path() << ": " << status;
    return;
  }
  prefaulted_to_ = end;
}

int64_t LogPrefaulter::prefaulted_offset() const {
  return file_ == nullptr ? 0 : file_->start_offset() + prefaulted_to_;
}

}  // namespace mq::store
