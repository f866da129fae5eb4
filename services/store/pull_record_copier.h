// Copies the records a pull answers with (stored-records mode) into the
// answer's bytes, in queue order.
//
// Records the consume queue lists back to back in the commit log (a batch, or
// a queue with the log to itself) gather into a run; a run of at least
// `min_read_run_bytes` is copied with one read of the file
// (CommitLog::AppendRecordRun), anything shorter record by record through the
// mapping (CommitLog::AppendRecordBytes). Copying a cold record through the
// mapping costs a page-table walk per page (a hypervisor exit per page on a
// guest with shadow page tables), a read costs one system call per run.
//
// Each record's outcome is reported through `settle`, in queue order, once
// it is copied: by Add (for the run it closes) or by Finish.
#ifndef MQ_SERVICES_STORE_PULL_RECORD_COPIER_H_
#define MQ_SERVICES_STORE_PULL_RECORD_COPIER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/units.h"
#include "services/store/commit_log.h"
#include "services/store/consume_queue.h"

namespace mq::store {

// Below this many bytes a run is copied through the mapping: a read's
// system call costs about as much as copying a few cold records.
inline constexpr int64_t kMinReadRunBytes = 16_KiB;

class PullRecordCopier {
 public:
  using Settle = absl::FunctionRef<void(const ConsumeQueueUnit&, const absl::Status&)>;

  PullRecordCopier(const CommitLog* log, int64_t min_read_run_bytes, std::string* out,
                   Settle settle)
      : log_(log), min_read_run_bytes_(min_read_run_bytes), out_(out), settle_(settle) {}
  PullRecordCopier(const PullRecordCopier&) = delete;
  PullRecordCopier& operator=(const PullRecordCopier&) = delete;

  // Adds the record `unit` points at (not a blank).
  void Add(const ConsumeQueueUnit& unit);
  // Copies what is left. Call once, after the last Add.
  void Finish();

 private:
  void CopyRun();

  const CommitLog* const log_;
  const int64_t min_read_run_bytes_;
  std::string* const out_;
  const Settle settle_;
  // The records not copied yet, back to back in the log from run_[0].
  std::vector<ConsumeQueueUnit> run_;
  int64_t run_bytes_ = 0;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_PULL_RECORD_COPIER_H_
