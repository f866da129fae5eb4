#include "services/broker/pop_log_writer.h"

#include <glog/logging.h>

#include <algorithm>

namespace mq::broker {

PopLogWriter::PopLogWriter(Append append, Runner runner, size_t max_batch_bytes)
    : append_(std::move(append)), runner_(std::move(runner)), max_batch_bytes_(max_batch_bytes) {}

PopLogWriter::~PopLogWriter() { Drain(); }

absl::Status PopLogWriter::Write(internal::PopLogRecord record) {
  Waiter me;
  bool schedule = false;
  {
    absl::MutexLock lock(&mu_);
    pending_.push_back({std::move(record), &me});
    ++handed_over_;
    while (!me.done) {
      if (writing_) {
        appended_.Wait(&mu_);
      } else {
        schedule = AppendOldestLocked() || schedule;
      }
    }
  }
  if (schedule) Submit();
  return me.status;
}

void PopLogWriter::Queue(internal::PopLogRecord record) {
  std::vector<internal::PopLogRecord> records;
  records.push_back(std::move(record));
  QueueAll(std::move(records));
}

void PopLogWriter::QueueAll(std::vector<internal::PopLogRecord> records) {
  if (records.empty()) return;
  bool schedule = false;
  {
    absl::MutexLock lock(&mu_);
    for (internal::PopLogRecord& record : records) pending_.push_back({std::move(record), nullptr});
    handed_over_ += static_cast<int64_t>(records.size());
    // A writer at work schedules what is left when it ends.
    if (!writing_ && scheduled_ == 0) {
      ++scheduled_;
      schedule = true;
    }
  }
  if (schedule) Submit();
}

void PopLogWriter::Drain() {
  absl::MutexLock lock(&mu_);
  while (!pending_.empty() || writing_) {
    if (writing_) {
      appended_.Wait(&mu_);
    } else {
      AppendOldestLocked();
    }
  }
  while (scheduled_ > 0) appended_.Wait(&mu_);
}

int64_t PopLogWriter::appends() const {
  absl::MutexLock lock(&mu_);
  return appends_;
}

int64_t PopLogWriter::handed_over() const {
  absl::MutexLock lock(&mu_);
  return handed_over_;
}

size_t PopLogWriter::pending_count() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

bool PopLogWriter::AppendOldestLocked() {
  writing_ = true;
  std::vector<internal::PopLogRecord> batch;
  std::vector<Waiter*> waiters;
  size_t bytes = 0;
  while (!pending_.empty()) {
    const size_t size = pending_.front().record.ByteSizeLong();
    if (!batch.empty() && bytes + size > max_batch_bytes_) break;
    bytes += size;
    batch.push_back(std::move(pending_.front().record));
    waiters.push_back(pending_.front().waiter);
    pending_.pop_front();
  }
  mu_.Unlock();
  const absl::Status status = append_(batch);
  mu_.Lock();
  writing_ = false;
  ++appends_;
  int unwaited_failed = 0;
  for (Waiter* waiter : waiters) {
    if (waiter != nullptr) {
      waiter->status = status;
      waiter->done = true;
    } else if (!status.ok()) {
      ++unwaited_failed;
    }
  }
  if (unwaited_failed > 0) {
    LOG_EVERY_N(WARNING, 100) << "cannot log " << unwaited_failed
                              << " POP records (their messages come again sooner after a crash): "
                              << status;
  }
  appended_.SignalAll();
  // A waiting writer takes over; queued records alone go to the runner.
  const bool waiter_pending = std::any_of(pending_.begin(), pending_.end(),
                                          [](const Pending& p) { return p.waiter != nullptr; });
  if (pending_.empty() || waiter_pending || scheduled_ > 0) return false;
  ++scheduled_;
  return true;
}

void PopLogWriter::Submit() {
  runner_([this] { RunScheduled(); }, [this] { RunScheduled(); });
}

void PopLogWriter::RunScheduled() {
  absl::MutexLock lock(&mu_);
  // Counted in scheduled_, so no append here schedules another task.
  while (!pending_.empty() && !writing_) AppendOldestLocked();
  --scheduled_;
  appended_.SignalAll();
}

}  // namespace mq::broker
