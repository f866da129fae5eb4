// Creates mapped files ahead of need on a background thread, as RocketMQ's
// AllocateMappedFileService: a log asks for its next file before it fills the
// current one, so rolling over to it does not wait for file creation.
//
// One allocator can serve many MappedFileQueues (it keys requests by path).
// Files prepared but never taken are deleted when the allocator is destroyed;
// after a crash they are left behind empty, past the end of the valid data,
// where recovery's TruncateDirtyFiles removes them.
//
// Thread-safe.
#ifndef MQ_SERVICES_STORE_MAPPED_FILE_ALLOCATOR_H_
#define MQ_SERVICES_STORE_MAPPED_FILE_ALLOCATOR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/store/mapped_file.h"

namespace mq::store {

struct MappedFileAllocatorOptions {
  // Pre-fault every page of a prepared file (RocketMQ's warmMapedFileEnable).
  bool warm_files = false;
};

class MappedFileAllocator {
 public:
  struct Stats {
    // Files created by the background thread.
    int64_t prepared = 0;
    // Take() calls served by a file the background thread had prepared.
    int64_t taken_prepared = 0;
    // Take() calls that had to create their file synchronously.
    int64_t created_synchronously = 0;
  };

  explicit MappedFileAllocator(MappedFileAllocatorOptions options = {});
  MappedFileAllocator(const MappedFileAllocator&) = delete;
  MappedFileAllocator& operator=(const MappedFileAllocator&) = delete;
  // Stops the thread and deletes prepared files nobody took.
  ~MappedFileAllocator();

  // Asks for `dir`/OffsetToFileName(start_offset) to be created in the
  // background. Asking again for a file already asked for does nothing.
  void Prepare(const std::string& dir, int64_t start_offset, int64_t file_size)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Returns the file: the prepared one if ready, after waiting for it if the
  // thread is creating it now, else created synchronously.
  absl::StatusOr<std::unique_ptr<MappedFile>> Take(const std::string& dir, int64_t start_offset,
                                                   int64_t file_size) ABSL_LOCKS_EXCLUDED(mu_);

  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class State { kQueued, kCreating, kReady, kFailed };
  struct Request {
    std::string dir;
    int64_t start_offset = 0;
    int64_t file_size = 0;
    State state = State::kQueued;
    std::unique_ptr<MappedFile> file;
  };

  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::unique_ptr<MappedFile>> CreateFile(const std::string& dir,
                                                         int64_t start_offset,
                                                         int64_t file_size) const;

  const MappedFileAllocatorOptions options_;
  mutable absl::Mutex mu_;
  // Keyed by path.
  std::map<std::string, Request> requests_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_MAPPED_FILE_ALLOCATOR_H_
