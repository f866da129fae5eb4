#include "services/store/group_commit_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace mq::store {
namespace {

// How long the thread sleeps without requests, and the retry delay after a
// failed flush (RocketMQ's waitForRunning(10)).
constexpr absl::Duration kIdleWait = absl::Milliseconds(10);

}  // namespace

GroupCommitService::GroupCommitService(MappedFileQueue* queue, GroupCommitOptions options,
                                       std::function<void(int64_t)> on_flushed)
    : queue_(queue), options_(options), on_flushed_(std::move(on_flushed)) {}

GroupCommitService::~GroupCommitService() {
  absl::Status status = Stop();
  if (!status.ok()) LOG(ERROR) << "final flush of " << queue_->dir() << ": " << status;
}

void GroupCommitService::Start() {
  absl::MutexLock lock(&mu_);
  CHECK(!started_) << "GroupCommitService started twice";
  started_ = true;
  flushed_ = queue_->FlushedOffset();
  // Waiters may have asked before the start.
  requested_ = std::max(requested_, flushed_);
  attempted_ = flushed_;
  thread_ = std::thread([this] { Run(); });
  answer_thread_ = std::thread([this] { RunAnswers(); });
}

absl::Status GroupCommitService::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::OkStatus();
    stopping_ = true;
    work_cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
  absl::Status status = FlushTo(queue_->MaxOffset());
  {
    absl::MutexLock lock(&answer_mu_);
    answers_closed_ = true;
    answer_cv_.Signal();
  }
  if (answer_thread_.joinable()) answer_thread_.join();
  // Not started: nobody ran what the final flush satisfied.
  std::vector<std::function<void(absl::Status)>> satisfied;
  {
    absl::MutexLock lock(&answer_mu_);
    satisfied.swap(to_answer_);
  }
  for (auto& done : satisfied) done(absl::OkStatus());
  std::vector<std::pair<int64_t, std::function<void(absl::Status)>>> unanswered;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    for (const auto& [offset, waiter] : waiting_) waiter->Signal();
    waiting_.clear();
    for (auto& [offset, callback] : callbacks_) {
      unanswered.emplace_back(offset, std::move(callback.done));
    }
    callbacks_.clear();
  }
  for (auto& [offset, done] : unanswered) {
    done(absl::UnavailableError(
        absl::StrCat("the flush service stopped before offset ", offset, " was flushed")));
  }
  return status;
}

bool GroupCommitService::HasWork() const { return stopping_ || requested_ > attempted_; }

void GroupCommitService::RequestFlush(int64_t end_offset) {
  absl::MutexLock lock(&mu_);
  RequestLocked(end_offset);
}

void GroupCommitService::RequestLocked(int64_t end_offset) {
  if (end_offset <= requested_) return;
  requested_ = end_offset;
  work_cv_.Signal();
}

void GroupCommitService::ReleaseFlushedLocked(
    std::vector<std::function<void(absl::Status)>>* ready) {
  auto end = waiting_.upper_bound(flushed_);
  for (auto it = waiting_.begin(); it != end; ++it) it->second->Signal();
  waiting_.erase(waiting_.begin(), end);
  auto callbacks_end = callbacks_.upper_bound(flushed_);
  for (auto it = callbacks_.begin(); it != callbacks_end; ++it) {
    ready->push_back(std::move(it->second.done));
  }
  callbacks_.erase(callbacks_.begin(), callbacks_end);
}

void GroupCommitService::NotifyWhenFlushed(int64_t end_offset,
                                           std::function<void(absl::Status)> done) {
  absl::Status answer;
  {
    absl::MutexLock lock(&mu_);
    if (flushed_ < end_offset && !stopped_) {
      RequestLocked(end_offset);
      callbacks_.emplace(end_offset,
                         Callback{absl::Now() + options_.sync_flush_timeout, std::move(done)});
      return;
    }
    if (flushed_ < end_offset) answer = absl::UnavailableError("the flush service has stopped");
  }
  done(answer);
}

void GroupCommitService::ExpireCallbacks() {
  std::vector<std::pair<std::function<void(absl::Status)>, absl::Status>> expired;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    for (auto it = callbacks_.begin(); it != callbacks_.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      expired.emplace_back(std::move(it->second.done), TimeoutError(it->first));
      it = callbacks_.erase(it);
    }
  }
  for (auto& [done, status] : expired) done(status);
}

absl::Status GroupCommitService::TimeoutError(int64_t end_offset) const {
  return absl::DeadlineExceededError(absl::StrCat(
      "flush disk timeout: offset ", end_offset, " not flushed within ",
      absl::FormatDuration(options_.sync_flush_timeout), " (flushed up to ", flushed_, ")",
      last_error_.ok() ? "" : absl::StrCat("; last flush error: ", last_error_.ToString())));
}

absl::Status GroupCommitService::WaitForFlush(int64_t end_offset) {
  absl::MutexLock lock(&mu_);
  if (flushed_ >= end_offset) return absl::OkStatus();
  if (stopped_) {
    return absl::UnavailableError("the flush service has stopped");
  }
  RequestLocked(end_offset);
  ++waiters_;
  // Each waiter sleeps on its own CondVar, filed by its end offset, so a
  // flush wakes exactly the appenders it covered (not Mutex::Await, whose
  // conditions absl re-evaluates on every unlock of mu_, nor one CondVar for
  // all, which wakes every waiter on every flush).
  absl::CondVar flushed;
  auto entry = waiting_.emplace(end_offset, &flushed);
  absl::Time deadline = absl::Now() + options_.sync_flush_timeout;
  while (flushed_ < end_offset && !stopped_) {
    if (flushed.WaitWithDeadline(&mu_, deadline)) break;
  }
  if (flushed_ < end_offset && !stopped_) waiting_.erase(entry);
  --waiters_;
  if (flushed_ >= end_offset) return absl::OkStatus();
  if (stopped_) {
    return absl::UnavailableError(
        absl::StrCat("the flush service stopped before offset ", end_offset, " was flushed"));
  }
  return TimeoutError(end_offset);
}

int64_t GroupCommitService::flush_count() const {
  absl::MutexLock lock(&mu_);
  return flush_count_;
}

int GroupCommitService::waiters() const {
  absl::MutexLock lock(&mu_);
  return waiters_;
}

absl::Status GroupCommitService::FlushTo(int64_t target) {
  absl::Status status;
  while (true) {
    int64_t previous = queue_->FlushedOffset();
    const absl::Time start = absl::Now();
    absl::StatusOr<int64_t> flushed = queue_->Flush(0);
    if (!flushed.ok()) status = flushed.status();
    bool progressed = flushed.ok() && *flushed > previous;
    if (progressed && options_.flush_latency != nullptr) {
      options_.flush_latency->ObserveDuration(absl::Now() - start);
    }
    // Before waiters are released, so a returned WaitForFlush implies the
    // callback saw its offset.
    if (progressed && on_flushed_) on_flushed_(*flushed);
    std::vector<std::function<void(absl::Status)>> ready;
    {
      absl::MutexLock lock(&mu_);
      last_error_ = status;
      if (progressed) {
        flushed_ = std::max(flushed_, *flushed);
        ++flush_count_;
        ReleaseFlushedLocked(&ready);
      }
    }
    if (!ready.empty()) Answer(std::move(ready));
    // One flush covers one file; a full file hands over to the next.
    if (!progressed || *flushed >= target) break;
  }
  return status;
}

void GroupCommitService::Answer(std::vector<std::function<void(absl::Status)>> ready) {
  absl::MutexLock lock(&answer_mu_);
  if (to_answer_.empty()) {
    to_answer_ = std::move(ready);
    answer_cv_.Signal();
    return;
  }
  for (auto& done : ready) to_answer_.push_back(std::move(done));
}

void GroupCommitService::RunAnswers() {
  std::vector<std::function<void(absl::Status)>> batch;
  while (true) {
    {
      absl::MutexLock lock(&answer_mu_);
      while (to_answer_.empty() && !answers_closed_) answer_cv_.Wait(&answer_mu_);
      if (to_answer_.empty()) return;
      batch.swap(to_answer_);
    }
    for (auto& done : batch) done(absl::OkStatus());
    batch.clear();
  }
}

void GroupCommitService::Run() {
  while (true) {
    int64_t target;
    {
      absl::MutexLock lock(&mu_);
      if (!HasWork()) work_cv_.WaitWithTimeout(&mu_, kIdleWait);
      if (stopping_) return;
    }
    ExpireCallbacks();
    {
      absl::MutexLock lock(&mu_);
      // After a timeout, retry a target a failed flush left unreached.
      if (requested_ <= flushed_) continue;
      attempted_ = requested_;
      target = requested_;
    }
    absl::Status status = FlushTo(target);
    if (!status.ok()) LOG(ERROR) << "sync flush of " << queue_->dir() << ": " << status;
  }
}

}  // namespace mq::store
