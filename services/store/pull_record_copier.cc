#include "services/store/pull_record_copier.h"

namespace mq::store {

void PullRecordCopier::Add(const ConsumeQueueUnit& unit) {
  if (!run_.empty() && unit.commit_log_offset != run_.front().commit_log_offset + run_bytes_) {
    CopyRun();
  }
  run_.push_back(unit);
  run_bytes_ += unit.size;
}

void PullRecordCopier::Finish() { CopyRun(); }

void PullRecordCopier::CopyRun() {
  bool read_whole = false;
  if (run_bytes_ >= min_read_run_bytes_) {
    std::vector<int32_t> sizes;
    sizes.reserve(run_.size());
    for (const ConsumeQueueUnit& unit : run_) sizes.push_back(unit.size);
    read_whole = log_->AppendRecordRun(run_.front().commit_log_offset.value(), sizes, out_).ok();
  }
  // Otherwise record by record, which also tells which record is at fault.
  for (const ConsumeQueueUnit& unit : run_) {
    settle_(unit, read_whole
                      ? absl::OkStatus()
                      : log_->AppendRecordBytes(unit.commit_log_offset.value(), unit.size, out_));
  }
  run_.clear();
  run_bytes_ = 0;
}

}  // namespace mq::store
