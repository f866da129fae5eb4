// Logs a condition that fails many operations in a row (a full disk, a peer
// that is down) once when it starts and once when it clears, with how many
// operations it failed in between, instead of one line per operation.
#ifndef MQ_COMMON_CONDITION_LOG_H_
#define MQ_COMMON_CONDITION_LOG_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq {

// Thread-safe. Success() costs one relaxed load while the condition is off.
class ConditionLog {
 public:
  // `what` names the operations in the lines ("appends to the commit log").
  explicit ConditionLog(std::string what) : what_(std::move(what)) {}

  // An operation failed with `status`: logged (ERROR) if the condition was
  // off; counted otherwise.
  void Failure(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // An operation succeeded: if the condition was on, logs (WARNING) that it
  // cleared, with the count and how long it lasted.
  void Success() ABSL_LOCKS_EXCLUDED(mu_);

  // Failures since the condition last started (0 while it is off).
  int64_t failures() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string what_;
  std::atomic<bool> on_{false};
  mutable absl::Mutex mu_;
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time since_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq

#endif  // MQ_COMMON_CONDITION_LOG_H_
