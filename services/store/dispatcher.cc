#include "services/store/dispatcher.h"

#include <glog/logging.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/format/property_keys.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/store/delay_policy.h"

namespace mq::store {

namespace {

// How long the thread sleeps when it has nothing to do and nobody woke it.
constexpr absl::Duration kIdleWait = absl::Milliseconds(100);
// Between rounds while records keep coming (RocketMQ's ReputMessageService
// sleeps 1 ms): appends gather for a round instead of each one waking the
// thread, which on a busy server cost a wake-up and a preempted sender per
// append or two.
constexpr absl::Duration kBusyRoundInterval = absl::Milliseconds(1);
// Back-off after a failed dispatch (e.g. a consume-queue file could not be created).
constexpr absl::Duration kErrorBackoff = absl::Milliseconds(500);
// Records and file moves per round.
constexpr int kRecordsPerRound = 4096;

// Why no consume queue can ever take `record`, or OK. Unlike a failed file
// creation, this does not pass with time, so such a record is skipped.
absl::Status CheckDispatchable(const format::MessageRecord& record) {
  if (absl::Status s = ValidateTopic(record.topic); !s.ok()) return s;
  return ValidateQueueId(record.queue_id);
}

bool TakesQueueOffset(int32_t sys_flag) {
  int32_t type = sys_flag & format::kSysFlagTransactionTypeMask;
  return type == format::kSysFlagTransactionNotType ||
         type == format::kSysFlagTransactionCommitType;
}

}  // namespace

Dispatcher::Dispatcher(CommitLog* commit_log, ConsumeQueueTable* queues, IndexService* index,
                       QueueWatchers* watchers)
    : commit_log_(commit_log), queues_(queues), index_(index), watchers_(watchers) {}

Dispatcher::~Dispatcher() { Stop(absl::ZeroDuration()); }

absl::Status Dispatcher::DispatchRecord(const format::MessageRecord& record, int32_t size,
                                        std::vector<v1::QueueAdvance>* advances) {
  absl::optional<absl::string_view> tags =
      format::FindProperty(record.properties, format::kPropertyTags);
  int64_t tag_code = tags.has_value() ? format::TagsHashCode(*tags) : 0;
  if (record.topic == kScheduleTopic) {
    // A scheduled message's unit carries when it is due (RocketMQ does the
    // same), so the schedule finds due entries without reading the log.
    absl::optional<absl::string_view> due =
        format::FindProperty(record.properties, format::kPropertyScheduleDueMs);
    if (!due.has_value() || !absl::SimpleAtoi(*due, &tag_code)) tag_code = 0;
  }
  if (TakesQueueOffset(record.sys_flag)) {
    absl::StatusOr<std::shared_ptr<ConsumeQueue>> queue =
        queues_->FindOrCreate(record.topic, record.queue_id);
    if (!queue.ok()) return queue.status();
    if (absl::Status s = (*queue)->PutUnit(QueueOffset(record.queue_offset),
                                           PhysicalOffset(record.physical_offset), size, tag_code);
        !s.ok()) {
      return s;
    }
    v1::QueueAdvance* advance = nullptr;
    for (v1::QueueAdvance& pending : *advances) {
      if (pending.queue_id() == record.queue_id && pending.topic() == record.topic) {
        advance = &pending;
        break;
      }
    }
    if (advance == nullptr) {
      advance = &advances->emplace_back();
      advance->set_topic(std::string(record.topic));
      advance->set_queue_id(record.queue_id);
    }
    advance->set_max_offset(record.queue_offset + 1);
    advance->set_tag_code(tag_code);
  }
  if (index_ != nullptr && (record.sys_flag & format::kSysFlagTransactionTypeMask) !=
                               format::kSysFlagTransactionRollbackType) {
    absl::string_view keys =
        format::FindProperty(record.properties, format::kPropertyKeys).value_or("");
    absl::string_view unique_id =
        format::FindProperty(record.properties, format::kPropertyUniqueKey).value_or("");
    if (!keys.empty() || !unique_id.empty()) {
      if (absl::Status s = index_->Put(record.topic, keys, unique_id, record.physical_offset,
                                       record.store_timestamp_ms);
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Dispatcher::DispatchAvailable(int max_steps) {
  std::vector<v1::QueueAdvance> advances;
  int steps = 0;
  absl::Status error;
  for (; steps < max_steps; ++steps) {
    int64_t offset = offset_.load(std::memory_order_relaxed);
    LogEntry entry = commit_log_->ReadNext(offset);
    if (entry.kind == LogEntryKind::kNoMoreData) break;
    if (entry.kind == LogEntryKind::kNextFile) {
      offset_.store(entry.next_offset, std::memory_order_release);
      continue;
    }
    if (entry.kind == LogEntryKind::kCorrupt) {
      error = absl::DataLossError(absl::StrCat(
          "commit log is unreadable at offset ", offset, ": ",
          entry.record.record.error != nullptr ? entry.record.record.error : "corrupt record"));
      break;
    }
    if (absl::Status bad = CheckDispatchable(entry.record.record.message); !bad.ok()) {
      LOG(ERROR) << "commit-log record at offset " << offset
                 << " cannot be dispatched and is skipped (it stays in the log; no consumer "
                    "will see it): "
                 << bad;
      skipped_.fetch_add(1, std::memory_order_relaxed);
      offset_.store(entry.next_offset, std::memory_order_release);
      continue;
    }
    error = DispatchRecord(entry.record.record.message, entry.record.record.size, &advances);
    if (!error.ok()) break;
    offset_.store(entry.next_offset, std::memory_order_release);
  }
  if (!advances.empty()) watchers_->Notify(advances);
  if (!error.ok()) return error;
  return steps;
}

absl::StatusOr<int64_t> Dispatcher::CatchUp(int64_t from) {
  offset_.store(from, std::memory_order_release);
  while (true) {
    absl::StatusOr<int> steps = DispatchAvailable(kRecordsPerRound);
    if (!steps.ok()) return steps.status();
    if (*steps == 0) return dispatched_offset();
  }
}

void Dispatcher::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void Dispatcher::Wake() {
  // Pairs with the fence in Run: either this sees idle_ set, or the thread's
  // last look at the log sees what the caller appended.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!idle_.load(std::memory_order_relaxed)) return;
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void Dispatcher::Stop(absl::Duration drain_timeout) {
  absl::Time deadline = absl::Now() + drain_timeout;
  while (dispatched_offset() < commit_log_->MaxOffset() && absl::Now() < deadline) {
    Wake();
    absl::SleepFor(absl::Milliseconds(1));
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::Run() {
  while (true) {
    absl::StatusOr<int> steps = DispatchAvailable(kRecordsPerRound);
    if (steps.ok() && *steps == 0 && !idle_.load(std::memory_order_relaxed)) {
      // Going idle: from here on appends wake the thread. Look once more,
      // after the fence, for an append made before they could know.
      idle_.store(true, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      steps = DispatchAvailable(kRecordsPerRound);
    }
    if (steps.ok()) {
      stalls_.Success();
    } else {
      stalls_.Failure(
          PrefixStatus(absl::StrCat("stalled at commit-log offset ", dispatched_offset(), ": "),
                       steps.status()));
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (!steps.ok()) {
      // Retry the failed record later; new appends do not make it succeed sooner.
      mu_.AwaitWithTimeout(absl::Condition(&stop), kErrorBackoff);
      continue;
    }
    if (*steps > 0) {
      idle_.store(false, std::memory_order_relaxed);
      // A full round means a backlog: go on at once.
      if (*steps < kRecordsPerRound)
        mu_.AwaitWithTimeout(absl::Condition(&stop), kBusyRoundInterval);
      continue;
    }
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), kIdleWait);
    woken_ = false;
  }
}

}  // namespace mq::store
