// Ownership of a store directory: an exclusive flock on <root>/lock, so two
// stores never share a directory, and the abort marker <root>/abort, which
// tells the next start whether this one shut down cleanly (RocketMQ's lock
// and abort files).
//
// Protocol: Acquire() at load (reads whether the last run ended cleanly),
// MarkRunning() once the store starts serving, MarkCleanShutdown() as the last
// step of a clean shutdown. The lock is released when the object is destroyed
// (or the process dies).
//
// Thread-safe.
#ifndef MQ_SERVICES_STORE_STORE_LOCK_H_
#define MQ_SERVICES_STORE_STORE_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mq::store {

class StoreLock {
 public:
  // Creates `root` if needed and locks it. FAILED_PRECONDITION naming the
  // directory if another store (in this or another process) holds it.
  static absl::StatusOr<std::unique_ptr<StoreLock>> Acquire(const std::string& root);

  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;
  ~StoreLock();

  const std::string& root() const { return root_; }

  // True when no abort marker was found at Acquire(): the previous run shut
  // down cleanly, or this is the first run.
  bool WasCleanShutdown() const { return was_clean_shutdown_; }

  // Creates the abort marker (durably).
  absl::Status MarkRunning();
  // Removes the abort marker (durably).
  absl::Status MarkCleanShutdown();

 private:
  StoreLock(std::string root, int lock_fd, bool was_clean_shutdown);

  const std::string root_;
  const int lock_fd_;
  const bool was_clean_shutdown_;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_STORE_LOCK_H_
