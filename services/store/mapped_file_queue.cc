#include "services/store/mapped_file_queue.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace mq::store {

MappedFileQueue::MappedFileQueue(MappedFileQueueOptions options) : options_(std::move(options)) {
  CHECK_GT(options_.file_size, 0) << options_.dir;
}

absl::Status MappedFileQueue::Load() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("create directory ", options_.dir, ": ", ec.message()));
  }
  std::vector<int64_t> offsets;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.dir, ec)) {
    std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".tmp")) {
      LOG(WARNING) << "removing " << entry.path() << " left by an interrupted file creation";
      fs::remove(entry.path(), ec);
      continue;
    }
    absl::optional<int64_t> offset = FileNameToOffset(name);
    if (!offset.has_value() || *offset % options_.file_size != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("unexpected file ", entry.path().string(), " in ", options_.dir,
                       ": names must be 20-digit offsets that are multiples of the file size ",
                       options_.file_size));
    }
    offsets.push_back(*offset);
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", options_.dir, ": ", ec.message()));
  std::sort(offsets.begin(), offsets.end());

  std::vector<std::shared_ptr<MappedFile>> files;
  for (int64_t offset : offsets) {
    // Only the last file can have been cut short while being written.
    absl::StatusOr<std::unique_ptr<MappedFile>> file =
        MappedFile::Open(options_.dir, offset, options_.file_size,
                         offset == offsets.back() ? MappedFile::ShortFile::kRestore
                                                  : MappedFile::ShortFile::kRefuse);
    if (!file.ok()) return file.status();
    files.push_back(*std::move(file));
  }
  for (size_t i = 1; i < files.size(); ++i) {
    if (files[i]->start_offset() == files[i - 1]->end_offset()) continue;
    if (options_.refuse_gaps) {
      return absl::FailedPreconditionError(absl::StrCat(
          "file ", files[i - 1]->path(), " is followed by ", files[i]->path(),
          ": the files between them are missing and their records cannot be recovered here; "
          "restore them from a backup or a slave, or move ",
          files[i]->path(),
          " and the files after it out of the directory (their messages are lost) and start "
          "again"));
    }
    LOG(WARNING) << "gap in " << options_.dir << ": " << files[i - 1]->path() << " is followed by "
                 << files[i]->path();
  }
  absl::MutexLock lock(&mu_);
  files_ = std::move(files);
  flushed_offset_.store(files_.empty() ? 0 : files_.back()->end_offset(),
                        std::memory_order_release);
  LOG(INFO) << "loaded " << files_.size() << " files from " << options_.dir;
  return absl::OkStatus();
}

std::shared_ptr<MappedFile> MappedFileQueue::FirstFile() const {
  absl::ReaderMutexLock lock(&mu_);
  return files_.empty() ? nullptr : files_.front();
}

std::shared_ptr<MappedFile> MappedFileQueue::LastFile() const {
  absl::ReaderMutexLock lock(&mu_);
  return files_.empty() ? nullptr : files_.back();
}

absl::StatusOr<std::shared_ptr<MappedFile>> MappedFileQueue::GetOrCreateLastFile(
    int64_t start_offset) {
  std::shared_ptr<MappedFile> last = LastFile();
  if (last != nullptr && !last->IsFull()) {
    if (last->end_offset() > prepared_up_to_) PrepareAhead(*last);
    return last;
  }
  int64_t create_offset =
      last != nullptr ? last->end_offset() : start_offset - start_offset % options_.file_size;
  absl::StatusOr<std::unique_ptr<MappedFile>> created =
      options_.allocator != nullptr
          ? options_.allocator->Take(options_.dir, create_offset, options_.file_size)
          : MappedFile::Create(options_.dir, create_offset, options_.file_size);
  if (!created.ok()) return created.status();
  std::shared_ptr<MappedFile> file = *std::move(created);
  {
    absl::MutexLock lock(&mu_);
    files_.push_back(file);
  }
  PrepareAhead(*file);
  return file;
}

void MappedFileQueue::PrepareAhead(const MappedFile& file) {
  if (options_.allocator == nullptr) return;
  for (int i = 0; i < options_.prepare_ahead_files; ++i) {
    options_.allocator->Prepare(options_.dir, file.end_offset() + i * options_.file_size,
                                options_.file_size);
  }
  prepared_up_to_ = file.end_offset();
}

std::shared_ptr<MappedFile> MappedFileQueue::FindFileByOffset(int64_t offset) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = std::upper_bound(files_.begin(), files_.end(), offset,
                             [](int64_t value, const std::shared_ptr<MappedFile>& f) {
                               return value < f->start_offset();
                             });
  if (it == files_.begin()) return nullptr;
  --it;
  return offset < (*it)->end_offset() ? *it : nullptr;
}

std::vector<std::shared_ptr<MappedFile>> MappedFileQueue::Files() const {
  absl::ReaderMutexLock lock(&mu_);
  return files_;
}

int64_t MappedFileQueue::MinOffset() const {
  absl::ReaderMutexLock lock(&mu_);
  return files_.empty() ? 0 : files_.front()->start_offset();
}

int64_t MappedFileQueue::MaxOffset() const {
  absl::ReaderMutexLock lock(&mu_);
  return files_.empty() ? 0 : files_.back()->start_offset() + files_.back()->write_position();
}

absl::StatusOr<int64_t> MappedFileQueue::Flush(int least_pages) {
  absl::MutexLock flush_lock(&flush_mu_);
  int64_t flushed = FlushedOffset();
  std::shared_ptr<MappedFile> file = FindFileByOffset(flushed);
  if (file == nullptr) {
    // Below the first file (a fresh queue starting past 0, or files deleted by
    // retention): go on from the first file.
    std::shared_ptr<MappedFile> first = FirstFile();
    if (first == nullptr || flushed >= first->start_offset()) return flushed;
    file = std::move(first);
  }
  if (!file->IsFlushable(least_pages)) return flushed;
  // The record a timestamp belongs to ends at or below the write position read
  // after it, so a flush reaching that position covers it.
  const int64_t timestamp = file->store_timestamp_ms();
  const int64_t written = file->write_position();
  absl::StatusOr<int64_t> position = file->Flush(
      least_pages > 0 ? MappedFile::FlushExtent::kWholePages : MappedFile::FlushExtent::kAll);
  if (!position.ok()) return position.status();
  if (*position >= written && timestamp > FlushedStoreTimestamp()) {
    flushed_store_timestamp_ms_.store(timestamp, std::memory_order_release);
  }
  int64_t new_flushed = std::max(flushed, file->start_offset() + *position);
  SetFlushedOffset(new_flushed);
  return new_flushed;
}

absl::Status MappedFileQueue::TruncateDirtyFiles(int64_t offset) {
  std::vector<std::shared_ptr<MappedFile>> doomed;
  std::shared_ptr<MappedFile> holder;
  {
    absl::MutexLock lock(&mu_);
    auto first_past = std::find_if(files_.begin(), files_.end(),
                                   [offset](const auto& f) { return f->start_offset() > offset; });
    // A file starting exactly at `offset` is kept (empty) when it is the one
    // the log continues in, i.e. the previous file ends there.
    doomed.assign(first_past, files_.end());
    files_.erase(first_past, files_.end());
    if (!files_.empty()) holder = files_.back();
  }
  for (const std::shared_ptr<MappedFile>& file : doomed) {
    LOG(WARNING) << "truncating " << options_.dir << " to " << offset << ": deleting "
                 << file->path();
    absl::Status status = file->Destroy();
    if (!status.ok()) return status;
  }
  if (holder != nullptr && offset < holder->end_offset()) {
    int64_t pos = offset - holder->start_offset();
    if (pos < holder->write_position()) {
      absl::Status status = holder->TruncateTo(pos);
      if (!status.ok()) return status;
    }
  }
  if (FlushedOffset() > offset) SetFlushedOffset(offset);
  return absl::OkStatus();
}

bool MappedFileQueue::RemoveFirstFile(const std::shared_ptr<MappedFile>& file) {
  absl::MutexLock lock(&mu_);
  if (files_.size() < 2 || files_.front() != file) return false;
  files_.erase(files_.begin());
  return true;
}

int MappedFileQueue::DeleteFilesWhile(absl::FunctionRef<bool(const MappedFile&)> expired,
                                      int max_files) {
  int deleted = 0;
  while (deleted < max_files) {
    std::shared_ptr<MappedFile> first;
    {
      absl::ReaderMutexLock lock(&mu_);
      if (files_.size() < 2) break;
      first = files_.front();
    }
    if (!expired(*first) || !RemoveFirstFile(first)) break;
    absl::Status status = first->Destroy();
    if (!status.ok()) LOG(WARNING) << "retention: " << status;
    LOG(INFO) << "retention deleted " << first->path();
    ++deleted;
  }
  return deleted;
}

absl::Status MappedFileQueue::Destroy() {
  std::vector<std::shared_ptr<MappedFile>> files;
  {
    absl::MutexLock lock(&mu_);
    files.swap(files_);
  }
  absl::Status result;
  for (const std::shared_ptr<MappedFile>& file : files) result.Update(file->Destroy());
  SetFlushedOffset(0);
  prepared_up_to_ = -1;
  return result;
}

}  // namespace mq::store
