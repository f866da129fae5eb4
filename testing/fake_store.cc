#include "testing/fake_store.h"

#include <algorithm>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/format/property_keys.h"
#include "common/format/record_format.h"

namespace mq::testing {

namespace {

bool IsStored(store::v1::PutStatus status) {
  return status == store::v1::PUT_OK || status == store::v1::FLUSH_DISK_TIMEOUT ||
         status == store::v1::FLUSH_SLAVE_TIMEOUT || status == store::v1::SLAVE_NOT_AVAILABLE;
}

int64_t TagCode(const common::v1::MessageExt& message) {
  auto it = message.properties().find(std::string(format::kPropertyTags));
  return it == message.properties().end() ? 0 : format::TagsHashCode(it->second);
}

}  // namespace

class FakeStore::WatchImpl : public store::StoreApi::Watch {
 public:
  WatchImpl(FakeStore* store, int id) : store_(store), id_(id) {}
  ~WatchImpl() override { store_->Unwatch(id_); }

 private:
  FakeStore* const store_;
  const int id_;
};

FakeStore::~FakeStore() = default;

absl::StatusOr<store::v1::AppendBatchResponse> FakeStore::AppendBatch(
    const store::v1::AppendBatchRequest& request) {
  std::vector<store::v1::QueueAdvance> advances;
  store::v1::AppendBatchResponse response;
  {
    absl::MutexLock lock(&mu_);
    ++waiting_at_gate_;
    mu_.Await(absl::Condition(&gate_open_));
    --waiting_at_gate_;
    if (!call_error_.ok()) return call_error_;
    append_batch_sizes_.push_back(request.entries_size());
    append_waits_.push_back(request.wait_store_ok());
    int64_t now_ms = absl::ToUnixMillis(absl::Now());
    for (const store::v1::AppendEntry& entry : request.entries()) {
      store::v1::AppendResult* result = response.add_results();
      result->set_status(put_status_);
      if (!IsStored(put_status_)) {
        result->set_error("forced by the test");
        continue;
      }
      Queue& queue = queues_[{entry.message().topic(), entry.queue_id()}];
      common::v1::MessageExt message;
      message.set_topic(entry.message().topic());
      message.set_flag(entry.message().flag());
      *message.mutable_properties() = entry.message().properties();
      message.set_body(entry.message().body());
      message.set_queue_id(entry.queue_id());
      message.set_queue_offset(queue.min_offset + static_cast<int64_t>(queue.messages.size()));
      message.set_commit_log_offset(next_physical_offset_);
      message.set_store_size(static_cast<int32_t>(entry.ByteSizeLong()));
      message.set_sys_flag(entry.sys_flag());
      message.set_born_timestamp_ms(entry.born_timestamp_ms());
      message.set_born_host(entry.born_host());
      message.set_store_timestamp_ms(now_ms);
      message.set_store_host(entry.store_host());
      message.set_reconsume_times(entry.reconsume_times());
      auto uniq = entry.message().properties().find(std::string(format::kPropertyUniqueKey));
      if (uniq != entry.message().properties().end()) message.set_msg_id(uniq->second);
      absl::StatusOr<format::HostAddress> host = format::ParseHostAddress(entry.store_host());
      message.set_offset_msg_id(format::MakeOffsetMessageId(
          host.ok() ? *host : format::HostAddress{}, next_physical_offset_));
      next_physical_offset_ += message.store_size();
      ++total_puts_;

      result->set_physical_offset(message.commit_log_offset());
      result->set_queue_offset(message.queue_offset());
      result->set_size(message.store_size());
      result->set_store_timestamp_ms(now_ms);
      result->set_offset_msg_id(message.offset_msg_id());

      store::v1::QueueAdvance advance;
      advance.set_topic(message.topic());
      advance.set_queue_id(message.queue_id());
      advance.set_max_offset(message.queue_offset() + 1);
      advance.set_tag_code(TagCode(message));
      advances.push_back(advance);

      by_offset_[message.commit_log_offset()] = message;
      queue.messages.push_back(std::move(message));
    }
  }
  absl::MutexLock lock(&listeners_mu_);
  if (!watch_enabled_) return response;
  for (const store::v1::QueueAdvance& advance : advances) {
    for (auto& [id, listener] : listeners_) listener(advance);
  }
  return response;
}

absl::StatusOr<store::v1::GetMessagesResponse> FakeStore::GetMessages(
    const store::v1::GetMessagesRequest& request) {
  absl::MutexLock lock(&mu_);
  ++reads_waiting_at_gate_;
  mu_.Await(absl::Condition(&read_gate_open_));
  --reads_waiting_at_gate_;
  if (!call_error_.ok()) return call_error_;
  if (request.max_count() <= 0) return absl::InvalidArgumentError("max_count must be positive");
  store::v1::GetMessagesResponse response;
  auto it = queues_.find({request.topic(), request.queue_id()});
  if (it == queues_.end() || it->second.messages.empty()) {
    int64_t min = it == queues_.end() ? 0 : it->second.min_offset;
    response.set_status(store::v1::NO_MESSAGE_IN_QUEUE);
    response.set_min_offset(min);
    response.set_max_offset(min);
    response.set_next_begin_offset(min);
    return response;
  }
  const Queue& queue = it->second;
  int64_t min = queue.min_offset;
  int64_t max = min + static_cast<int64_t>(queue.messages.size());
  response.set_min_offset(min);
  response.set_max_offset(max);
  int64_t offset = request.offset();
  if (offset < min) {
    response.set_status(store::v1::OFFSET_TOO_SMALL);
    response.set_next_begin_offset(min);
    return response;
  }
  if (offset == max) {
    response.set_status(store::v1::OFFSET_OVERFLOW_ONE);
    response.set_next_begin_offset(offset);
    return response;
  }
  if (offset > max) {
    response.set_status(store::v1::OFFSET_OVERFLOW_BADLY);
    response.set_next_begin_offset(max);
    return response;
  }
  std::vector<int64_t> codes(request.tag_codes().begin(), request.tag_codes().end());
  int64_t next = offset;
  for (; next < max && response.messages_size() < request.max_count(); ++next) {
    const common::v1::MessageExt& message = queue.messages[next - min];
    if (!codes.empty() && std::find(codes.begin(), codes.end(), TagCode(message)) == codes.end()) {
      continue;
    }
    *response.add_messages() = message;
  }
  // Answers with `messages` even when asked for stored records (the broker
  // passes either on; the real store's records are tested against it).
  response.set_next_begin_offset(next);
  response.set_message_count(response.messages_size());
  response.set_status(response.messages_size() > 0 ? store::v1::FOUND
                                                   : store::v1::NO_MATCHED_MESSAGE);
  return response;
}

absl::StatusOr<store::v1::GetQueueOffsetsResponse> FakeStore::GetQueueOffsets(
    const store::v1::GetQueueOffsetsRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!call_error_.ok()) return call_error_;
  store::v1::GetQueueOffsetsResponse response;
  auto it = queues_.find({request.topic(), request.queue_id()});
  if (it != queues_.end()) {
    response.set_min_offset(it->second.min_offset);
    response.set_max_offset(it->second.min_offset +
                            static_cast<int64_t>(it->second.messages.size()));
    if (!it->second.messages.empty()) {
      response.set_last_store_timestamp_ms(it->second.messages.back().store_timestamp_ms());
    }
  }
  return response;
}

absl::StatusOr<store::v1::GetOffsetByTimeResponse> FakeStore::GetOffsetByTime(
    const store::v1::GetOffsetByTimeRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!call_error_.ok()) return call_error_;
  store::v1::GetOffsetByTimeResponse response;
  auto it = queues_.find({request.topic(), request.queue_id()});
  if (it == queues_.end()) return response;
  int64_t offset = it->second.min_offset;
  for (const common::v1::MessageExt& message : it->second.messages) {
    if (message.store_timestamp_ms() >= request.timestamp_ms()) break;
    ++offset;
  }
  response.set_offset(offset);
  return response;
}

absl::StatusOr<store::v1::QueryMessagesResponse> FakeStore::QueryByKey(
    const store::v1::QueryByKeyRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!call_error_.ok()) return call_error_;
  store::v1::QueryMessagesResponse response;
  int max = request.max_count() > 0 ? request.max_count() : 32;
  for (auto it = by_offset_.rbegin(); it != by_offset_.rend(); ++it) {
    const common::v1::MessageExt& message = it->second;
    if (message.topic() != request.topic()) continue;
    auto keys = message.properties().find(std::string(format::kPropertyKeys));
    if (keys == message.properties().end()) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(keys->second, ' ');
    if (std::find(parts.begin(), parts.end(), request.key()) == parts.end()) continue;
    *response.add_messages() = message;
    if (response.messages_size() >= max) break;
  }
  return response;
}

absl::StatusOr<store::v1::QueryMessagesResponse> FakeStore::QueryByUniqueId(
    const store::v1::QueryByUniqueIdRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!call_error_.ok()) return call_error_;
  store::v1::QueryMessagesResponse response;
  for (const auto& [offset, message] : by_offset_) {
    if (message.topic() == request.topic() && message.msg_id() == request.unique_id()) {
      *response.add_messages() = message;
    }
  }
  return response;
}

absl::StatusOr<store::v1::GetMessageByOffsetResponse> FakeStore::GetMessageByOffset(
    const store::v1::GetMessageByOffsetRequest& request) {
  absl::MutexLock lock(&mu_);
  ++get_by_offset_calls_;
  if (!call_error_.ok()) return call_error_;
  auto it = by_offset_.find(request.physical_offset());
  if (it == by_offset_.end()) return absl::NotFoundError("no message at that offset");
  store::v1::GetMessageByOffsetResponse response;
  *response.mutable_message() = it->second;
  return response;
}

absl::StatusOr<store::v1::GetMetadataResponse> FakeStore::GetMetadata(
    const store::v1::GetMetadataRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!call_error_.ok()) return call_error_;
  store::v1::GetMetadataResponse response;
  auto it = metadata_.find(request.key());
  if (it != metadata_.end()) {
    response.set_found(true);
    response.set_value(it->second);
  }
  return response;
}

absl::Status FakeStore::PutMetadata(const store::v1::PutMetadataRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!call_error_.ok()) return call_error_;
  ++put_metadata_calls_;
  for (const store::v1::MetadataEntry& entry : request.entries()) {
    if (entry.key().empty()) return absl::InvalidArgumentError("empty metadata key");
  }
  for (const store::v1::MetadataEntry& entry : request.entries()) {
    if (entry.deleted()) {
      metadata_.erase(entry.key());
    } else {
      metadata_[entry.key()] = entry.value();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<store::v1::ListMetadataResponse> FakeStore::ListMetadata(
    const store::v1::ListMetadataRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!call_error_.ok()) return call_error_;
  store::v1::ListMetadataResponse response;
  for (auto it = metadata_.lower_bound(request.prefix());
       it != metadata_.end() &&
       it->first.compare(0, request.prefix().size(), request.prefix()) == 0;
       ++it) {
    store::v1::MetadataEntry* entry = response.add_entries();
    entry->set_key(it->first);
    entry->set_value(it->second);
  }
  return response;
}

absl::Status FakeStore::DeleteTopic(const store::v1::DeleteTopicRequest& request) {
  absl::MutexLock lock(&mu_);
  if (!call_error_.ok()) return call_error_;
  deleted_topics_.push_back(request.topic());
  for (auto it = queues_.begin(); it != queues_.end();) {
    it = it->first.first == request.topic() ? queues_.erase(it) : std::next(it);
  }
  return absl::OkStatus();
}

absl::StatusOr<store::v1::GetStatsResponse> FakeStore::GetStats() {
  absl::MutexLock lock(&mu_);
  if (!call_error_.ok()) return call_error_;
  store::v1::GetStatsResponse response;
  response.set_min_physical_offset(0);
  response.set_max_physical_offset(next_physical_offset_);
  response.set_flushed_offset(next_physical_offset_);
  response.set_disk_used_ratio(0.25);
  response.set_total_put_messages(total_puts_);
  return response;
}

std::unique_ptr<store::StoreApi::Watch> FakeStore::WatchQueues(QueueListener listener) {
  absl::MutexLock lock(&listeners_mu_);
  int id = next_watch_id_++;
  listeners_[id] = std::move(listener);
  return std::make_unique<WatchImpl>(this, id);
}

void FakeStore::Unwatch(int id) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

void FakeStore::SetWatchEnabled(bool enabled) {
  absl::MutexLock lock(&listeners_mu_);
  watch_enabled_ = enabled;
}

void FakeStore::SetPutStatus(store::v1::PutStatus status) {
  absl::MutexLock lock(&mu_);
  put_status_ = status;
}

void FakeStore::SetCallError(absl::Status status) {
  absl::MutexLock lock(&mu_);
  call_error_ = std::move(status);
}

void FakeStore::SetAppendGateOpen(bool open) {
  absl::MutexLock lock(&mu_);
  gate_open_ = open;
}

void FakeStore::SetReadGateOpen(bool open) {
  absl::MutexLock lock(&mu_);
  read_gate_open_ = open;
}

void FakeStore::SetMinOffset(const std::string& topic, int32_t queue_id, int64_t min_offset) {
  absl::MutexLock lock(&mu_);
  Queue& queue = queues_[{topic, queue_id}];
  queue.min_offset = min_offset;
  for (size_t i = 0; i < queue.messages.size(); ++i) {
    queue.messages[i].set_queue_offset(min_offset + static_cast<int64_t>(i));
  }
}

void FakeStore::RemoveBefore(const std::string& topic, int32_t queue_id, int64_t offset) {
  absl::MutexLock lock(&mu_);
  Queue& queue = queues_[{topic, queue_id}];
  const int64_t removed = std::clamp<int64_t>(offset - queue.min_offset, 0,
                                              static_cast<int64_t>(queue.messages.size()));
  queue.messages.erase(queue.messages.begin(), queue.messages.begin() + removed);
  queue.min_offset += removed;
}

std::vector<bool> FakeStore::append_waits() const {
  absl::MutexLock lock(&mu_);
  return append_waits_;
}

std::vector<int> FakeStore::append_batch_sizes() const {
  absl::MutexLock lock(&mu_);
  return append_batch_sizes_;
}

int FakeStore::appends_waiting_at_gate() const {
  absl::MutexLock lock(&mu_);
  return waiting_at_gate_;
}

int FakeStore::reads_waiting_at_gate() const {
  absl::MutexLock lock(&mu_);
  return reads_waiting_at_gate_;
}

int FakeStore::get_by_offset_calls() const {
  absl::MutexLock lock(&mu_);
  return get_by_offset_calls_;
}

int FakeStore::put_metadata_calls() const {
  absl::MutexLock lock(&mu_);
  return put_metadata_calls_;
}

std::vector<std::string> FakeStore::deleted_topics() const {
  absl::MutexLock lock(&mu_);
  return deleted_topics_;
}

size_t FakeStore::watch_count() const {
  absl::MutexLock lock(&listeners_mu_);
  return listeners_.size();
}

}  // namespace mq::testing
