#include "services/store/schedule_service.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/format/properties.h"
#include "common/format/property_keys.h"
#include "services/store/delay_policy.h"

namespace mq::store {

namespace {

// "<queueId>:<offset>" of a SCHEDULE_SOURCE property.
bool ParseSource(absl::string_view text, int32_t* queue_id, int64_t* offset) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, ':');
  return absl::SimpleAtoi(parts.first, queue_id) && absl::SimpleAtoi(parts.second, offset);
}

}  // namespace

std::string ScheduleProgress::Encode() const {
  std::string text = absl::StrCat(scan_from);
  for (const auto& [queue_id, low] : low_marks) absl::StrAppend(&text, " ", queue_id, ":", low);
  return text;
}

absl::StatusOr<ScheduleProgress> ScheduleProgress::Decode(absl::string_view text) {
  ScheduleProgress progress;
  bool first = true;
  for (absl::string_view item : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    bool ok = true;
    if (first) {
      ok = absl::SimpleAtoi(item, &progress.scan_from);
      first = false;
    } else {
      int32_t queue_id = 0;
      int64_t low = 0;
      ok = ParseSource(item, &queue_id, &low);
      progress.low_marks[queue_id] = low;
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("schedule progress \"", text, "\" is unreadable at \"", item, "\""));
    }
  }
  if (first) return absl::InvalidArgumentError("schedule progress is empty");
  return progress;
}

ScheduleService::ScheduleService(const CommitLog* commit_log, const ConsumeQueueTable* queues,
                                 AppendFn append, GetMetadataFn get_metadata,
                                 PutMetadataFn put_metadata, ScheduleServiceOptions options,
                                 const Clock* clock)
    : commit_log_(commit_log),
      queues_(queues),
      append_(std::move(append)),
      get_metadata_(std::move(get_metadata)),
      put_metadata_(std::move(put_metadata)),
      options_(options),
      clock_(clock) {}

std::vector<std::shared_ptr<ConsumeQueue>> ScheduleService::ScheduleQueues() const {
  return queues_->QueuesOf(kScheduleTopic);
}

absl::Status ScheduleService::Recover() {
  std::vector<std::shared_ptr<ConsumeQueue>> queues = ScheduleQueues();
  ScheduleProgress progress;
  if (absl::optional<std::string> text = get_metadata_(kScheduleProgressKey); text.has_value()) {
    absl::StatusOr<ScheduleProgress> decoded = ScheduleProgress::Decode(*text);
    if (!decoded.ok()) return decoded.status();
    progress = *std::move(decoded);
  } else {
    // Never checkpointed: every copy may be anywhere after the first entry.
    progress.scan_from = commit_log_->MaxOffset();
    for (const std::shared_ptr<ConsumeQueue>& queue : queues) {
      absl::optional<ConsumeQueueUnit> first = queue->GetUnit(queue->MinOffset());
      if (first.has_value()) {
        progress.scan_from = std::min(progress.scan_from, first->commit_log_offset.value());
      }
    }
  }
  for (const std::shared_ptr<ConsumeQueue>& queue : queues) {
    auto low = progress.low_marks.find(queue->queue_id());
    int64_t start = low != progress.low_marks.end() ? low->second : 0;
    cursors_[queue->queue_id()] = std::max(start, queue->MinOffset().value());
  }

  int64_t offset = std::max(progress.scan_from, commit_log_->MinOffset());
  recovered_scan_from_ = offset;
  int64_t found = 0;
  while (true) {
    LogEntry entry = commit_log_->ReadNext(offset);
    if (entry.kind == LogEntryKind::kNoMoreData || entry.kind == LogEntryKind::kCorrupt) break;
    offset = entry.next_offset;
    if (entry.kind != LogEntryKind::kRecord) continue;
    absl::optional<absl::string_view> source = format::FindProperty(
        entry.record.record.message.properties, format::kPropertyScheduleSource);
    int32_t queue_id = 0;
    int64_t queue_offset = 0;
    if (!source.has_value() || !ParseSource(*source, &queue_id, &queue_offset)) continue;
    auto cursor = cursors_.find(queue_id);
    if (cursor == cursors_.end() || queue_offset < cursor->second) continue;
    delivered_before_[queue_id].insert(queue_offset);
    ++found;
  }
  LOG(INFO) << "schedule recovered: " << queues.size() << " queues, progress \""
            << progress.Encode() << "\", " << found
            << " entries delivered after the checkpoint are skipped";
  return absl::OkStatus();
}

bool ScheduleService::DeliveredBefore(int32_t queue_id, int64_t offset) const {
  auto it = delivered_before_.find(queue_id);
  return it != delivered_before_.end() && it->second.contains(offset);
}

void ScheduleService::ForgetDeliveredBelow(int32_t queue_id, int64_t offset) {
  auto it = delivered_before_.find(queue_id);
  if (it == delivered_before_.end()) return;
  it->second.erase(it->second.begin(), it->second.lower_bound(offset));
  if (it->second.empty()) delivered_before_.erase(it);
}

void ScheduleService::CollectFifo(const ConsumeQueue& queue, int64_t now_ms,
                                  std::vector<Due>* due) {
  int64_t& cursor = cursors_[queue.queue_id()];
  cursor = std::max(cursor, queue.MinOffset().value());
  int64_t next = cursor;
  while (static_cast<int>(due->size()) < options_.max_batch) {
    std::vector<ConsumeQueueUnit> units =
        queue.GetUnits(QueueOffset(next), options_.max_batch - static_cast<int>(due->size()));
    if (units.empty()) return;
    for (const ConsumeQueueUnit& unit : units) {
      if (!unit.is_blank() && unit.tag_code > now_ms) return;
      next = unit.queue_offset.value() + 1;
      // Blanks and entries delivered before a crash are passed over (no
      // physical offset), in order with the rest.
      bool skip = unit.is_blank() || DeliveredBefore(queue.queue_id(), unit.queue_offset.value());
      due->push_back({queue.queue_id(), unit.queue_offset.value(),
                      skip ? PhysicalOffset(-1) : unit.commit_log_offset});
    }
  }
}

void ScheduleService::LoadTimerEntries(const ConsumeQueue& queue, int64_t now_ms) {
  int64_t& cursor = cursors_[queue.queue_id()];
  cursor = std::max(cursor, queue.MinOffset().value());
  int64_t window_end_ms = now_ms + absl::ToInt64Milliseconds(kTimerWindow);
  while (static_cast<int64_t>(heap_.size()) < options_.max_timer_entries_in_memory) {
    std::vector<ConsumeQueueUnit> units = queue.GetUnits(QueueOffset(cursor), 1024);
    if (units.empty()) break;
    int64_t log_end = commit_log_->MaxOffset();
    for (const ConsumeQueueUnit& unit : units) {
      // Routed here within the window of its append; one further out (a
      // clock step back) waits at the head, still in order of the queue.
      if (!unit.is_blank() && unit.tag_code > window_end_ms) {
        heap_size_.store(heap_.size(), std::memory_order_relaxed);
        return;
      }
      cursor = unit.queue_offset.value() + 1;
      if (unit.is_blank() || DeliveredBefore(queue.queue_id(), unit.queue_offset.value())) continue;
      heap_.push({unit.tag_code, unit.queue_offset.value(), unit.commit_log_offset});
      timer_pending_.emplace(unit.queue_offset.value(), log_end);
      if (static_cast<int64_t>(heap_.size()) >= options_.max_timer_entries_in_memory) break;
    }
  }
  heap_size_.store(heap_.size(), std::memory_order_relaxed);
}

absl::StatusOr<v1::AppendEntry> ScheduleService::MakeCopy(const Due& due) const {
  absl::StatusOr<RecordRef> ref = commit_log_->ReadRecord(due.physical_offset.value());
  if (!ref.ok()) return ref.status();
  const format::MessageRecord& record = ref->record.message;
  absl::StatusOr<std::vector<std::pair<absl::string_view, absl::string_view>>> properties =
      format::DecodeProperties(record.properties);
  if (!properties.ok()) return properties.status();
  v1::AppendEntry entry;
  common::v1::Message* message = entry.mutable_message();
  auto* out = message->mutable_properties();
  for (const auto& [key, value] : *properties) (*out)[std::string(key)] = std::string(value);
  auto real_topic = out->find(std::string(format::kPropertyRealTopic));
  auto real_queue = out->find(std::string(format::kPropertyRealQueueId));
  int32_t queue_id = 0;
  if (real_topic == out->end() || real_queue == out->end() ||
      !absl::SimpleAtoi(real_queue->second, &queue_id)) {
    return absl::DataLossError(absl::StrCat("scheduled record at commit-log offset ",
                                            due.physical_offset.value(),
                                            " has no REAL_TOPIC / REAL_QID"));
  }
  message->set_topic(real_topic->second);
  entry.set_queue_id(queue_id);
  out->erase(std::string(format::kPropertyDelayTimeLevel));
  out->erase(std::string(format::kPropertyScheduleDueMs));
  (*out)[std::string(format::kPropertyScheduleSource)] =
      absl::StrCat(due.queue_id, ":", due.offset);
  message->set_flag(record.flag);
  message->set_body(std::string(record.body));
  entry.set_sys_flag(record.sys_flag);
  entry.set_born_timestamp_ms(record.born_timestamp_ms);
  entry.set_born_host(format::HostAddressToString(record.born_host));
  entry.set_store_host(format::HostAddressToString(record.store_host));
  entry.set_reconsume_times(record.reconsume_times);
  return entry;
}

size_t ScheduleService::Deliver(const std::vector<Due>& due) {
  std::vector<v1::AppendEntry> entries;
  std::vector<size_t> entry_of;
  entries.reserve(due.size());
  for (size_t i = 0; i < due.size(); ++i) {
    if (due[i].physical_offset.value() < 0) continue;  // a blank or delivered before
    absl::StatusOr<v1::AppendEntry> copy = MakeCopy(due[i]);
    if (!copy.ok()) {
      // A record retention removed or that is damaged cannot be delivered,
      // now or later: logged and passed over.
      LOG(ERROR) << "schedule queue " << due[i].queue_id << " offset " << due[i].offset
                 << " is skipped: " << copy.status();
      continue;
    }
    entries.push_back(*std::move(copy));
    entry_of.push_back(i);
  }
  if (entries.empty()) return due.size();
  std::vector<v1::AppendResult> results = append_(std::move(entries));
  for (size_t j = 0; j < results.size(); ++j) {
    const v1::AppendResult& result = results[j];
    bool stored = result.status() == v1::PUT_OK || result.status() == v1::FLUSH_DISK_TIMEOUT ||
                  result.status() == v1::FLUSH_SLAVE_TIMEOUT ||
                  result.status() == v1::SLAVE_NOT_AVAILABLE;
    if (!stored) {
      LOG_EVERY_N(WARNING, 100) << "delivering scheduled messages: " << result.error()
                                << " (retried)";
      delivered_.fetch_add(j, std::memory_order_relaxed);
      return entry_of[j];
    }
  }
  delivered_.fetch_add(results.size(), std::memory_order_relaxed);
  return due.size();
}

int64_t ScheduleService::RunOnce() {
  int64_t now_ms = absl::ToUnixMillis(clock_->Now());
  int64_t total = 0;
  for (const std::shared_ptr<ConsumeQueue>& queue : ScheduleQueues()) {
    int32_t queue_id = queue->queue_id();
    if (queue_id == kTimerQueueId) {
      while (true) {
        LoadTimerEntries(*queue, now_ms);
        std::vector<Due> due;
        while (!heap_.empty() && heap_.top().due_ms <= now_ms &&
               static_cast<int>(due.size()) < options_.max_batch) {
          due.push_back({queue_id, heap_.top().offset, heap_.top().physical_offset});
          heap_.pop();
        }
        if (due.empty()) break;
        size_t stored = Deliver(due);
        for (size_t i = 0; i < due.size(); ++i) {
          if (i < stored) {
            timer_pending_.erase(due[i].offset);
          } else {
            heap_.push({now_ms, due[i].offset, due[i].physical_offset});
          }
        }
        heap_size_.store(heap_.size(), std::memory_order_relaxed);
        total += stored;
        if (stored < due.size()) break;
      }
      ForgetDeliveredBelow(queue_id, cursors_[queue_id]);
      continue;
    }
    while (true) {
      std::vector<Due> due;
      CollectFifo(*queue, now_ms, &due);
      if (due.empty()) break;
      size_t stored = Deliver(due);
      if (stored > 0) cursors_[queue_id] = due[stored - 1].offset + 1;
      total += stored;
      if (stored < due.size()) break;
    }
    ForgetDeliveredBelow(queue_id, cursors_[queue_id]);
  }
  return total;
}

int64_t ScheduleService::LowMark(int32_t queue_id) const {
  auto cursor = cursors_.find(queue_id);
  int64_t low = cursor == cursors_.end() ? 0 : cursor->second;
  if (queue_id == kTimerQueueId && !timer_pending_.empty()) {
    low = std::min(low, timer_pending_.begin()->first);
  }
  return low;
}

absl::Status ScheduleService::Checkpoint() {
  ScheduleProgress progress;
  // Read first: every copy appended from here on lies after it.
  progress.scan_from = commit_log_->MaxOffset();
  if (!timer_pending_.empty()) {
    progress.scan_from = std::min(progress.scan_from, timer_pending_.begin()->second);
  }
  // Copies found by recovery and not yet passed lie before any of that.
  if (!delivered_before_.empty())
    progress.scan_from = std::min(progress.scan_from, recovered_scan_from_);
  for (const auto& [queue_id, cursor] : cursors_) {
    progress.low_marks[queue_id] = LowMark(queue_id);
  }
  std::string text = progress.Encode();
  // Unchanged marks need no write, whatever the log end did.
  std::string marks =
      text.substr(text.find(' ') == std::string::npos ? text.size() : text.find(' '));
  if (last_checkpoint_.has_value() && marks == *last_checkpoint_) return absl::OkStatus();
  if (absl::Status s = put_metadata_(kScheduleProgressKey, text); !s.ok()) return s;
  last_checkpoint_ = std::move(marks);
  return absl::OkStatus();
}

}  // namespace mq::store
