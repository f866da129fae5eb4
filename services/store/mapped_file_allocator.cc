#include "services/store/mapped_file_allocator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace mq::store {
namespace {

std::string PathOf(const std::string& dir, int64_t start_offset) {
  return absl::StrCat(dir, "/", OffsetToFileName(start_offset));
}

}  // namespace

MappedFileAllocator::MappedFileAllocator(MappedFileAllocatorOptions options)
    : options_(options), thread_([this] { Run(); }) {}

MappedFileAllocator::~MappedFileAllocator() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [path, request] : requests_) {
    if (request.file == nullptr) continue;
    absl::Status status = request.file->Destroy();
    if (!status.ok()) LOG(WARNING) << "removing unused prepared file: " << status;
  }
}

void MappedFileAllocator::Prepare(const std::string& dir, int64_t start_offset, int64_t file_size) {
  std::string path = PathOf(dir, start_offset);
  absl::MutexLock lock(&mu_);
  if (stopping_ || requests_.count(path) > 0) return;
  Request& request = requests_[path];
  request.dir = dir;
  request.start_offset = start_offset;
  request.file_size = file_size;
  queue_.push_back(std::move(path));
}

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFileAllocator::Take(const std::string& dir,
                                                                      int64_t start_offset,
                                                                      int64_t file_size) {
  std::string path = PathOf(dir, start_offset);
  {
    absl::MutexLock lock(&mu_);
    auto it = requests_.find(path);
    if (it != requests_.end()) {
      Request* request = &it->second;
      mu_.Await(absl::Condition(
          +[](Request* r) { return r->state != State::kCreating; }, request));
      std::unique_ptr<MappedFile> file = std::move(request->file);
      bool size_matches = request->file_size == file_size;
      // A queued request is simply withdrawn: creating the file here is no
      // slower than waiting for the thread to reach it.
      requests_.erase(it);
      if (file != nullptr && size_matches) {
        ++stats_.taken_prepared;
        return file;
      }
      if (file != nullptr) {
        absl::Status status = file->Destroy();
        if (!status.ok()) LOG(WARNING) << "removing mis-sized prepared file: " << status;
      }
    }
    ++stats_.created_synchronously;
  }
  return CreateFile(dir, start_offset, file_size);
}

bool MappedFileAllocator::HasWorkOrStopping() const { return stopping_ || !queue_.empty(); }

MappedFileAllocator::Stats MappedFileAllocator::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFileAllocator::CreateFile(
    const std::string& dir, int64_t start_offset, int64_t file_size) const {
  absl::StatusOr<std::unique_ptr<MappedFile>> file =
      MappedFile::Create(dir, start_offset, file_size);
  if (file.ok() && options_.warm_files) {
    absl::Status warmed = (*file)->Warm();
    if (!warmed.ok()) LOG(WARNING) << "warming " << (*file)->path() << ": " << warmed;
  }
  return file;
}

void MappedFileAllocator::Run() {
  while (true) {
    std::string path;
    Request* request = nullptr;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &MappedFileAllocator::HasWorkOrStopping));
      if (stopping_) return;
      path = std::move(queue_.front());
      queue_.pop_front();
      auto it = requests_.find(path);
      // Take() withdrew it while it was queued.
      if (it == requests_.end() || it->second.state != State::kQueued) continue;
      request = &it->second;
      request->state = State::kCreating;
    }
    // Only this thread touches a request in kCreating, and Take() waits for it,
    // so the entry (and `request`) stays put while the lock is released.
    absl::StatusOr<std::unique_ptr<MappedFile>> file =
        CreateFile(request->dir, request->start_offset, request->file_size);
    absl::MutexLock lock(&mu_);
    if (file.ok()) {
      request->file = *std::move(file);
      request->state = State::kReady;
      ++stats_.prepared;
    } else {
      LOG(WARNING) << "preparing " << path << ": " << file.status();
      request->state = State::kFailed;
    }
  }
}

}  // namespace mq::store
