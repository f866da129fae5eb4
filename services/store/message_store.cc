#include "services/store/message_store.h"

#include <glog/logging.h>

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/format/message_ext_proto.h"
#include "common/format/property_keys.h"
#include "common/units.h"
#include "common/validation.h"
#include "services/store/pull_record_copier.h"
#include "services/store/record_conversion.h"

namespace mq::store {

namespace {

constexpr int32_t kDefaultPullBatch = 32;
constexpr int32_t kMaxPullBatch = 1024;
constexpr int64_t kDefaultPullMaxBytes = 4_MiB;
// How many consume-queue units one read may scan for tag matches (RocketMQ's
// maxFilterMessageCount).
constexpr int64_t kMaxFilterUnits = 16000;
constexpr int32_t kDefaultQueryMax = 32;
constexpr int32_t kMaxQueryMax = 64;
constexpr int kThoroughFlushLeastPages = 0;
// Consume queues are flushed when this many pages are dirty (RocketMQ: 2).
constexpr int kConsumeQueueFlushLeastPages = 2;

v1::PutStatus ToPutStatus(AppendStatus status) {
  switch (status) {
    case AppendStatus::kOk:
      return v1::PUT_OK;
    case AppendStatus::kServiceNotAvailable:
      return v1::SERVICE_NOT_AVAILABLE;
    case AppendStatus::kCreateMappedFileFailed:
      return v1::CREATE_MAPPED_FILE_FAILED;
    case AppendStatus::kMessageIllegal:
      return v1::MESSAGE_ILLEGAL;
    case AppendStatus::kPropertiesSizeExceeded:
      return v1::PROPERTIES_SIZE_EXCEEDED;
  }
  return v1::UNKNOWN_ERROR;
}

absl::Status ValidateQueue(absl::string_view topic, int32_t queue_id) {
  if (absl::Status s = ValidateTopic(topic); !s.ok()) return s;
  return ValidateQueueId(queue_id);
}

bool HasKey(absl::string_view keys, absl::string_view key) {
  for (absl::string_view k : absl::StrSplit(keys, ' ', absl::SkipEmpty())) {
    if (k == key) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MessageStore>> MessageStore::Open(MessageStoreOptions options) {
  if (options.root_dir.empty()) return absl::InvalidArgumentError("store root dir is empty");
  if (options.commit_log_file_size < 64_KiB) {
    return absl::InvalidArgumentError(absl::StrCat("commit log file size ",
                                                   options.commit_log_file_size,
                                                   " is below the minimum of 65536 bytes"));
  }
  if (options.max_message_body_bytes + 64_KiB > options.commit_log_file_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit log file size ", options.commit_log_file_size,
                     " cannot hold a message of the max body size ", options.max_message_body_bytes,
                     " plus its headers"));
  }
  if (options.role == v1::SLAVE && !options.replication.master_address.empty() &&
      options.replication.broker_id <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("a slave needs a broker id > 0, got ", options.replication.broker_id));
  }
  std::unique_ptr<MessageStore> store(new MessageStore(std::move(options)));
  if (absl::Status s = store->Load(); !s.ok()) return s;
  return store;
}

MessageStore::MessageStore(MessageStoreOptions options)
    : options_(std::move(options)),
      puts_(absl::Seconds(10), options_.clock),
      gets_(absl::Seconds(10), options_.clock) {}

MessageStore::~MessageStore() {
  absl::Status status = Shutdown();
  if (!status.ok()) LOG(ERROR) << "store shutdown: " << status;
}

absl::Status MessageStore::Load() {
  const std::string& root = options_.root_dir;
  absl::StatusOr<std::unique_ptr<StoreLock>> lock = StoreLock::Acquire(root);
  if (!lock.ok()) return lock.status();
  lock_ = *std::move(lock);
  bool clean = lock_->WasCleanShutdown();

  absl::StatusOr<std::unique_ptr<MetadataStore>> metadata =
      MetadataStore::Open(absl::StrCat(root, "/metadata"));
  if (!metadata.ok()) return metadata.status();
  metadata_ = *std::move(metadata);

  allocator_ = std::make_unique<MappedFileAllocator>();
  CommitLogOptions log_options;
  log_options.dir = absl::StrCat(root, "/commitlog");
  log_options.file_size = options_.commit_log_file_size;
  log_options.max_message_body_bytes = options_.max_message_body_bytes;
  log_options.allocator = allocator_.get();
  if (options_.flush_disk_type == FlushDiskType::kSync) log_options.write_through_bytes = 0;
  commit_log_ = std::make_unique<CommitLog>(log_options);
  if (absl::Status s = commit_log_->Load(); !s.ok()) return s;

  ConsumeQueueTableOptions queue_options;
  queue_options.dir = absl::StrCat(root, "/consumequeue");
  queue_options.queue.units_per_file = options_.consume_queue_units_per_file;
  queues_ = std::make_unique<ConsumeQueueTable>(queue_options);
  if (absl::Status s = queues_->Load(); !s.ok()) return s;

  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint =
      Checkpoint::Open(absl::StrCat(root, "/checkpoint"));
  if (!checkpoint.ok()) return checkpoint.status();
  checkpoint_ = *std::move(checkpoint);

  if (options_.message_index_enable) {
    IndexServiceOptions index_options;
    index_options.dir = absl::StrCat(root, "/index");
    index_options.slot_count = options_.index_slot_count;
    index_options.max_entries = options_.index_max_entries;
    absl::StatusOr<std::unique_ptr<IndexService>> index = IndexService::Open(index_options);
    if (!index.ok()) return index.status();
    index_ = *std::move(index);
  }
  dispatcher_ =
      std::make_unique<Dispatcher>(commit_log_.get(), queues_.get(), index_.get(), &watchers_);

  if (absl::Status s = Recover(clean); !s.ok()) return s;
  if (options_.role != v1::SLAVE) {
    schedule_ = std::make_unique<ScheduleService>(
        commit_log_.get(), queues_.get(),
        [this](std::vector<v1::AppendEntry> entries) {
          return AppendScheduled(std::move(entries));
        },
        [this](absl::string_view key) { return metadata_->Get(key); },
        [this](absl::string_view key, std::string value) {
          v1::PutMetadataRequest request;
          v1::MetadataEntry* entry = request.add_entries();
          entry->set_key(std::string(key));
          entry->set_value(std::move(value));
          return PutMetadata(request);
        },
        options_.schedule, options_.clock);
    if (absl::Status s = schedule_->Recover(); !s.ok()) return s;
  }
  StartServices();
  return lock_->MarkRunning();
}

int64_t MessageStore::UncleanRecoveryStartOffset() const {
  // Everything below the checkpointed offset was on disk in the log, the
  // queues and the index; re-verify from the start of the file holding it.
  int64_t durable = checkpoint_->Get().commit_log_flushed_offset;
  int64_t file_start = durable - durable % options_.commit_log_file_size;
  return std::max(file_start, commit_log_->MinOffset());
}

absl::Status MessageStore::Recover(bool clean_shutdown) {
  absl::Time started = absl::Now();
  int64_t start =
      clean_shutdown ? commit_log_->NormalRecoveryStartOffset() : UncleanRecoveryStartOffset();
  bool check_crc = !clean_shutdown || options_.check_crc_on_clean_recover;
  LOG(INFO) << "recovering store " << options_.root_dir << " after "
            << (clean_shutdown ? "a clean shutdown" : "an unclean stop")
            << ": verifying the commit log from offset " << start
            << (check_crc ? " with CRC checks" : "");
  absl::StatusOr<int64_t> end = commit_log_->Recover(start, check_crc);
  if (!end.ok()) return end.status();

  if (absl::Status s = queues_->TruncateByPhysicalOffset(PhysicalOffset(*end)); !s.ok()) return s;
  // Retention may have deleted the log's first files after their queues'
  // files were last trimmed: each queue's min offset moves to its first
  // message still in the log (RocketMQ's correctMinOffset on load), so a
  // consumer starting at the min finds messages.
  queues_->DeleteFilesBelowPhysicalOffset(PhysicalOffset(commit_log_->MinOffset()));
  int64_t reput_from = std::min(queues_->MaxPhysicalOffset().value(), *end);
  if (index_ != nullptr) {
    int64_t index_cut = clean_shutdown ? *end : std::min(start, *end);
    if (absl::Status s = index_->TruncateByPhysicalOffset(index_cut); !s.ok()) return s;
    int64_t last_indexed = index_->LastIndexedPhysicalOffset();
    reput_from = std::min(reput_from, last_indexed < 0 ? commit_log_->MinOffset() : last_indexed);
  }
  if (!clean_shutdown) reput_from = std::min(reput_from, start);
  reput_from = std::max(reput_from, commit_log_->MinOffset());

  LOG(INFO) << "commit log valid up to offset " << *end << "; rebuilding consume queues"
            << (index_ != nullptr ? " and index" : "") << " from offset " << reput_from;
  absl::StatusOr<int64_t> dispatched = dispatcher_->CatchUp(reput_from);
  if (!dispatched.ok()) return dispatched.status();

  commit_log_->ClearQueueOffsets();
  for (const std::shared_ptr<ConsumeQueue>& queue : queues_->All()) {
    commit_log_->SetQueueOffset(queue->topic(), queue->queue_id(), queue->MaxOffset());
  }
  commit_log_->file_queue().SetFlushedOffset(std::min(*end, commit_log_->FlushedOffset()));
  LOG(INFO) << "store recovered in " << absl::FormatDuration(absl::Now() - started)
            << ": commit log [" << commit_log_->MinOffset() << ", " << *end << "), "
            << queues_->All().size() << " consume queues";
  return absl::OkStatus();
}

void MessageStore::StartServices() {
  auto on_flushed = [this](int64_t flushed) {
    checkpoint_->SetPhysicMsgTimestamp(commit_log_->file_queue().FlushedStoreTimestamp());
  };
  if (options_.flush_disk_type == FlushDiskType::kSync) {
    group_commit_ = std::make_unique<GroupCommitService>(&commit_log_->file_queue(),
                                                         options_.group_commit, on_flushed);
    group_commit_->Start();
  } else {
    async_flusher_ = std::make_unique<AsyncFlusher>(&commit_log_->file_queue(),
                                                    options_.async_flush, on_flushed);
    async_flusher_->Start();
  }
  if (options_.commit_log_prefault_bytes > 0) {
    // Under SYNC_FLUSH every append is written with pwrite (write_through_bytes
    // 0 above): nothing needs the pages mapped.
    prefaulter_ = std::make_unique<LogPrefaulter>(
        &commit_log_->file_queue(), options_.commit_log_prefault_bytes,
        options_.flush_disk_type == FlushDiskType::kSync ? LogPrefaulter::Mode::kPageCache
                                                         : LogPrefaulter::Mode::kMapWritable);
    prefault_task_ = StartDedicatedScheduler("commit-log-prefault", absl::ZeroDuration(),
                                             options_.commit_log_prefault_interval,
                                             [this] { prefaulter_->KeepAhead(); });
  }
  dispatcher_->Start();
  if (options_.role != v1::SLAVE) {
    ha_master_ =
        std::make_unique<HaMaster>(commit_log_.get(), metadata_.get(), options_.replication);
  } else if (!options_.replication.master_address.empty()) {
    ha_client_ = std::make_unique<HaClient>(
        commit_log_.get(), metadata_.get(),
        [this](int64_t end_offset) {
          dispatcher_->Wake();
          if (group_commit_ != nullptr) group_commit_->RequestFlush(end_offset);
        },
        options_.replication);
    ha_client_->Start();
  } else {
    LOG(WARNING) << "slave store " << options_.root_dir
                 << " has no master address: it serves what it has and replicates nothing";
  }
  last_thorough_flush_ = absl::Now();
  queue_flush_task_ =
      StartDedicatedScheduler("consume-queue-flush", options_.consume_queue_flush_interval,
                              options_.consume_queue_flush_interval, [this] {
                                bool thorough = absl::Now() - last_thorough_flush_ >=
                                                options_.consume_queue_thorough_flush_interval;
                                if (thorough) last_thorough_flush_ = absl::Now();
                                FlushConsumeQueues(thorough);
                              });
  retention_task_ = StartDedicatedScheduler("retention", options_.clean_initial_delay,
                                            options_.clean_interval, [this] { RunRetention(); });
  if (schedule_ != nullptr && options_.schedule_tick > absl::ZeroDuration()) {
    last_schedule_checkpoint_ = absl::Now();
    schedule_task_ = StartDedicatedScheduler("schedule", absl::ZeroDuration(),
                                             options_.schedule_tick, [this] { RunSchedule(); });
  }
}

void MessageStore::FlushConsumeQueues(bool thorough) {
  // Read before flushing: whatever was dispatched by now is covered below.
  int64_t dispatched = dispatcher_->dispatched_offset();
  int least_pages = thorough ? kThoroughFlushLeastPages : kConsumeQueueFlushLeastPages;
  absl::Status status = queues_->Flush(least_pages);
  if (!status.ok()) LOG(ERROR) << "flushing consume queues: " << status;
  if (index_ != nullptr && thorough) {
    if (absl::Status s = index_->Flush(); !s.ok()) LOG(ERROR) << "flushing index: " << s;
  }
  if (!thorough) return;
  // The checkpoint's offset is where an unclean recovery starts verifying: it
  // must be on disk in the log and, for everything dispatched below it, in
  // the queues and the index.
  int64_t durable = std::min(commit_log_->FlushedOffset(), dispatched);
  if (index_ != nullptr) {
    int64_t index_flushed = index_->FlushedPhysicalOffset();
    durable = std::min(durable, index_flushed < 0 ? commit_log_->MinOffset() : index_flushed);
  }
  if (status.ok()) {
    checkpoint_->SetLogicsMsgTimestamp(absl::ToUnixMillis(options_.clock->Now()));
    checkpoint_->SetIndexMsgTimestamp(absl::ToUnixMillis(options_.clock->Now()));
    checkpoint_->SetCommitLogFlushedOffset(durable);
  }
  if (absl::Status s = checkpoint_->Flush(); !s.ok()) LOG(ERROR) << "writing checkpoint: " << s;
}

absl::Status MessageStore::Shutdown() {
  if (shut_down_.exchange(true)) return absl::OkStatus();
  if (commit_log_ == nullptr || lock_ == nullptr || dispatcher_ == nullptr) {
    return absl::OkStatus();
  }
  absl::Status status;
  if (schedule_task_ != nullptr) schedule_task_->Stop();
  if (schedule_ != nullptr) status.Update(schedule_->Checkpoint());
  commit_log_->RefuseAppends("the store is shutting down");
  StopReplication();
  if (retention_task_ != nullptr) retention_task_->Stop();
  if (queue_flush_task_ != nullptr) queue_flush_task_->Stop();
  if (prefault_task_ != nullptr) prefault_task_->Stop();
  dispatcher_->Stop();
  if (group_commit_ != nullptr) status.Update(group_commit_->Stop());
  if (async_flusher_ != nullptr) status.Update(async_flusher_->Stop());
  bool dispatched_all = dispatcher_->dispatched_offset() >= commit_log_->MaxOffset();
  status.Update(queues_->Flush(0));
  if (index_ != nullptr) status.Update(index_->Flush());
  if (status.ok() && dispatched_all) {
    checkpoint_->SetCommitLogFlushedOffset(commit_log_->FlushedOffset());
  }
  status.Update(checkpoint_->Flush());
  if (!status.ok() || !dispatched_all) {
    LOG(ERROR) << "store " << options_.root_dir
               << " did not close cleanly; the next start recovers: " << status;
    return status.ok() ? absl::InternalError("dispatch did not finish before shutdown") : status;
  }
  status.Update(lock_->MarkCleanShutdown());
  LOG(INFO) << "store " << options_.root_dir << " closed at commit-log offset "
            << commit_log_->MaxOffset();
  return status;
}

void MessageStore::StopReplication() {
  if (ha_client_ != nullptr) ha_client_->Stop();
  if (ha_master_ != nullptr) ha_master_->Stop();
}

namespace {

// A failed flush wait turns every stored message's status to FLUSH_DISK_TIMEOUT.
void MarkFlushOutcome(const absl::Status& flushed, v1::AppendBatchResponse* response) {
  if (flushed.ok()) return;
  for (v1::AppendResult& result : *response->mutable_results()) {
    if (result.status() == v1::PUT_OK) {
      result.set_status(v1::FLUSH_DISK_TIMEOUT);
      result.set_error(std::string(flushed.message()));
    }
  }
}

}  // namespace

bool MessageStore::AppendsAreAsync() const { return options_.role != v1::SYNC_MASTER; }

void MessageStore::AppendBatchAsync(v1::AppendBatchRequest request, AppendCallback done) {
  if (options_.role == v1::SYNC_MASTER && request.wait_store_ok()) {
    done(AppendBatch(request));
    return;
  }
  v1::AppendBatchResponse response;
  int64_t end_offset = AppendEntries(request, &response);
  if (end_offset == 0 || group_commit_ == nullptr) {
    done(std::move(response));
    return;
  }
  if (!request.wait_store_ok()) {
    group_commit_->RequestFlush(end_offset);
    done(std::move(response));
    return;
  }
  auto pending = std::make_shared<v1::AppendBatchResponse>(std::move(response));
  group_commit_->NotifyWhenFlushed(end_offset,
                                   [pending, done = std::move(done)](absl::Status flushed) {
                                     MarkFlushOutcome(flushed, pending.get());
                                     done(std::move(*pending));
                                   });
}

absl::StatusOr<v1::AppendBatchResponse> MessageStore::AppendBatch(
    const v1::AppendBatchRequest& request) {
  v1::AppendBatchResponse response;
  int64_t end_offset = AppendEntries(request, &response);
  if (end_offset == 0) return response;
  if (group_commit_ != nullptr) {
    if (!request.wait_store_ok()) {
      group_commit_->RequestFlush(end_offset);
    } else {
      MarkFlushOutcome(group_commit_->WaitForFlush(end_offset), &response);
    }
  }
  if (options_.role == v1::SYNC_MASTER && request.wait_store_ok() && ha_master_ != nullptr) {
    WaitForSlave(end_offset, &response);
  }
  return response;
}

int64_t MessageStore::AppendEntries(const v1::AppendBatchRequest& request,
                                    v1::AppendBatchResponse* out) {
  std::vector<const v1::AppendEntry*> entries;
  entries.reserve(request.entries_size());
  for (const v1::AppendEntry& entry : request.entries()) entries.push_back(&entry);
  return AppendEntryList(entries, DelayCheck::kStrict, out);
}

int64_t MessageStore::AppendEntryList(absl::Span<const v1::AppendEntry* const> entries,
                                      DelayCheck check, v1::AppendBatchResponse* out) {
  v1::AppendBatchResponse& response = *out;
  const int n = static_cast<int>(entries.size());
  for (int i = 0; i < n; ++i) response.add_results();
  auto fail_all = [&](v1::PutStatus status, absl::string_view why) {
    for (v1::AppendResult& result : *response.mutable_results()) {
      result.set_status(status);
      result.set_error(std::string(why));
    }
    return int64_t{0};
  };
  if (options_.role == v1::SLAVE) {
    return fail_all(v1::SERVICE_NOT_AVAILABLE, "this store is a slave; send to its master");
  }
  if (shut_down_.load()) return fail_all(v1::SERVICE_NOT_AVAILABLE, "the store is shutting down");

  std::vector<PendingRecord> pending(n);
  std::vector<format::MessageRecord> records;
  std::vector<int> record_entry;
  // Delayed messages rewritten to the schedule topic (stable addresses: the
  // records point into them).
  std::deque<v1::AppendEntry> routed;
  records.reserve(n);
  record_entry.reserve(n);
  absl::Time now = options_.clock->Now();
  for (int i = 0; i < n; ++i) {
    const v1::AppendEntry* entry = entries[i];
    absl::Status status;
    if (CarriesDelay(*entry) || entry->message().topic() == kScheduleTopic) {
      v1::AppendEntry& copy = routed.emplace_back(*entry);
      absl::StatusOr<bool> rerouted = RouteDelayed(options_.delay, now, check, &copy);
      if (rerouted.ok() && !*rerouted && check == DelayCheck::kLenient) ClearDeliverTime(&copy);
      status = rerouted.status();
      entry = &copy;
    }
    if (status.ok()) status = ToPendingRecord(*entry, &pending[i]);
    if (!status.ok()) {
      v1::AppendResult* result = response.mutable_results(i);
      result->set_status(v1::MESSAGE_ILLEGAL);
      result->set_error(std::string(status.message()));
      continue;
    }
    records.push_back(pending[i].record);
    record_entry.push_back(i);
  }
  if (records.empty()) return 0;

  std::vector<AppendResult> appended = commit_log_->AppendBatch(records);
  int64_t end_offset = 0;
  int64_t stored = 0;
  for (size_t j = 0; j < appended.size(); ++j) {
    const AppendResult& a = appended[j];
    v1::AppendResult* result = response.mutable_results(record_entry[j]);
    result->set_status(ToPutStatus(a.status));
    if (a.status != AppendStatus::kOk) {
      result->set_error(a.error);
      continue;
    }
    ++stored;
    result->set_physical_offset(a.physical_offset.value());
    result->set_queue_offset(a.queue_offset.value());
    result->set_size(a.size);
    result->set_store_timestamp_ms(a.store_timestamp_ms);
    result->set_offset_msg_id(
        format::MakeOffsetMessageId(records[j].store_host, a.physical_offset.value()));
    end_offset = std::max(end_offset, (a.physical_offset + a.size).value());
  }
  if (stored == 0) return 0;
  dispatcher_->Wake();
  if (ha_master_ != nullptr) ha_master_->NotifyAppended(end_offset);
  puts_.Add(stored);
  return end_offset;
}

std::vector<v1::AppendResult> MessageStore::AppendScheduled(std::vector<v1::AppendEntry> entries) {
  std::vector<const v1::AppendEntry*> list;
  list.reserve(entries.size());
  for (const v1::AppendEntry& entry : entries) list.push_back(&entry);
  v1::AppendBatchResponse response;
  int64_t end_offset = AppendEntryList(list, DelayCheck::kLenient, &response);
  // No wait for a flush or a slave: the copies are as durable as the log.
  if (end_offset > 0 && group_commit_ != nullptr) group_commit_->RequestFlush(end_offset);
  return {response.results().begin(), response.results().end()};
}

void MessageStore::RunSchedule() {
  schedule_->RunOnce();
  absl::Time now = absl::Now();
  if (now - last_schedule_checkpoint_ < options_.schedule_checkpoint_interval) return;
  last_schedule_checkpoint_ = now;
  if (absl::Status s = schedule_->Checkpoint(); !s.ok()) {
    LOG(ERROR) << "writing the schedule's progress: " << s;
  }
}

void MessageStore::WaitForSlave(int64_t end_offset, v1::AppendBatchResponse* response) {
  SlaveAckWaiter& acks = ha_master_->acks();
  v1::PutStatus status = v1::PUT_OK;
  std::string why;
  if (!acks.IsSlaveOk(end_offset)) {
    status = v1::SLAVE_NOT_AVAILABLE;
    int slaves = acks.connected_slaves();
    why = slaves == 0
              ? "slave not available: no slave is connected"
              : absl::StrCat("slave not available: the best of ", slaves, " slaves lags more than ",
                             options_.replication.ack.slave_fallbehind_max_bytes,
                             " bytes behind offset ", end_offset);
  } else if (absl::Status acked = acks.WaitForAck(end_offset); !acked.ok()) {
    status = v1::FLUSH_SLAVE_TIMEOUT;
    why = std::string(acked.message());
  }
  if (status == v1::PUT_OK) return;
  // As RocketMQ: a replica failure overrides a flush failure; the message is
  // stored on the master either way.
  for (v1::AppendResult& result : *response->mutable_results()) {
    if (result.status() == v1::PUT_OK || result.status() == v1::FLUSH_DISK_TIMEOUT) {
      result.set_status(status);
      result.set_error(why);
    }
  }
}

absl::StatusOr<int64_t> MessageStore::StoreTimeAt(PhysicalOffset physical_offset) const {
  absl::StatusOr<RecordRef> record = commit_log_->ReadRecord(physical_offset.value());
  if (!record.ok()) return record.status();
  return record->record.message.store_timestamp_ms;
}

absl::Status MessageStore::ReadMessage(PhysicalOffset physical_offset, common::v1::MessageExt* out,
                                       bool check_crc) const {
  absl::StatusOr<RecordRef> record = commit_log_->ReadRecord(physical_offset.value(), check_crc);
  if (!record.ok()) return record.status();
  return format::ToMessageExtProto(record->record, out);
}

absl::optional<int64_t> MessageStore::ReadBehindBytes(absl::string_view topic, int32_t queue_id,
                                                      int64_t offset) const {
  std::shared_ptr<ConsumeQueue> queue = queues_->Find(topic, queue_id);
  if (queue == nullptr) return 0;
  absl::optional<ConsumeQueueUnit> unit = queue->GetUnit(QueueOffset(offset));
  if (!unit.has_value()) return 0;
  return std::max<int64_t>(0, PhysicalOffset(commit_log_->MaxOffset()) - unit->commit_log_offset);
}

absl::StatusOr<v1::GetMessagesResponse> MessageStore::GetMessages(
    const v1::GetMessagesRequest& request) {
  if (absl::Status s = ValidateQueue(request.topic(), request.queue_id()); !s.ok()) return s;
  int32_t max_count = request.max_count() == 0 ? kDefaultPullBatch : request.max_count();
  if (max_count < 0 || max_count > kMaxPullBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("max count ", request.max_count(), " is outside 1..", kMaxPullBatch));
  }
  int64_t max_bytes = request.max_bytes() <= 0 ? kDefaultPullMaxBytes : request.max_bytes();

  v1::GetMessagesResponse response;
  std::shared_ptr<ConsumeQueue> queue = queues_->Find(request.topic(), request.queue_id());
  const QueueOffset offset(request.offset());
  if (queue == nullptr || queue->MaxOffset() == QueueOffset(0)) {
    response.set_status(v1::NO_MESSAGE_IN_QUEUE);
    response.set_next_begin_offset(0);
    return response;
  }
  const QueueOffset min = queue->MinOffset();
  const QueueOffset max = queue->MaxOffset();
  response.set_min_offset(min.value());
  response.set_max_offset(max.value());
  if (offset < min) {
    response.set_status(v1::OFFSET_TOO_SMALL);
    response.set_next_begin_offset(min.value());
    return response;
  }
  if (offset == max) {
    response.set_status(v1::OFFSET_OVERFLOW_ONE);
    response.set_next_begin_offset(offset.value());
    return response;
  }
  if (offset > max) {
    response.set_status(v1::OFFSET_OVERFLOW_BADLY);
    response.set_next_begin_offset(min == QueueOffset(0) ? min.value() : max.value());
    return response;
  }

  const auto& tag_codes = request.tag_codes();
  QueueOffset next = offset;
  int64_t bytes = 0;
  PhysicalOffset last_physical(-1);
  bool removed = false;
  int64_t scanned = 0;
  int32_t count = 0;
  // A record is counted when it is taken into the answer and given back here
  // if it turns out unreadable.
  auto settle = [&](const ConsumeQueueUnit& unit, const absl::Status& status) {
    if (status.ok()) {
      last_physical = std::max(last_physical, unit.commit_log_offset);
      return;
    }
    bytes -= unit.size;
    --count;
    if (absl::IsNotFound(status)) {
      removed = true;
      return;
    }
    response.add_corrupt_offsets(unit.queue_offset.value());
    NoteCorruptRecord(request.topic(), request.queue_id(), unit, status);
  };
  std::string* records = request.stored_records() ? response.mutable_records() : nullptr;
  PullRecordCopier copier(commit_log_.get(), kMinReadRunBytes, records, settle);
  while (count < max_count && next < max && scanned < kMaxFilterUnits) {
    // Without a tag filter every unit read is served (blanks aside), so read
    // no more than the answer can take; with one, scan ahead in larger steps.
    std::vector<ConsumeQueueUnit> units =
        queue->GetUnits(next, tag_codes.empty() ? max_count - count : 256);
    if (units.empty()) break;
    bool full = false;
    for (const ConsumeQueueUnit& unit : units) {
      if (count >= max_count || (bytes > 0 && bytes + unit.size > max_bytes)) {
        full = true;
        break;
      }
      next = unit.queue_offset + 1;
      ++scanned;
      if (unit.is_blank()) continue;
      if (!tag_codes.empty() &&
          std::find(tag_codes.begin(), tag_codes.end(), unit.tag_code) == tag_codes.end()) {
        continue;
      }
      bytes += unit.size;
      ++count;
      if (records != nullptr) {
        if (count == 1) {  // the first record taken: size the answer once
          records->reserve(
              std::min<int64_t>(max_bytes, int64_t{unit.size} * (max_count - count + 1)));
        }
        copier.Add(unit);
        continue;
      }
      // Fields are read straight into the answer (taken back if unreadable),
      // CRC-checked first: the fields form gives the client no way to check.
      absl::Status status =
          ReadMessage(unit.commit_log_offset, response.add_messages(), /*check_crc=*/true);
      if (!status.ok()) response.mutable_messages()->RemoveLast();
      settle(unit, status);
    }
    if (full) break;
  }
  if (records != nullptr) copier.Finish();
  response.set_next_begin_offset(next.value());
  response.set_message_count(count);
  if (count > 0) {
    response.set_status(v1::FOUND);
    response.set_behind_bytes(
        std::max<int64_t>(0, PhysicalOffset(commit_log_->MaxOffset()) - last_physical));
    gets_.Add(count);
  } else {
    response.set_status(removed ? v1::MESSAGE_WAS_REMOVING : v1::NO_MATCHED_MESSAGE);
  }
  return response;
}

void MessageStore::NoteCorruptRecord(absl::string_view topic, int32_t queue_id,
                                     const ConsumeQueueUnit& unit, const absl::Status& status) {
  corrupt_records_read_.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&corrupt_mu_);
  // Each damaged record is logged once, however often it is read.
  if (corrupt_logged_.size() >= kMaxCorruptLogged) corrupt_logged_.clear();
  if (!corrupt_logged_.insert(unit.commit_log_offset).second) return;
  LOG(ERROR) << "queue " << topic << "/" << queue_id << " offset " << unit.queue_offset
             << ": its record at commit-log offset " << unit.commit_log_offset
             << " is damaged and is left out of every read: " << status;
}

absl::StatusOr<v1::GetQueueOffsetsResponse> MessageStore::GetQueueOffsets(
    const v1::GetQueueOffsetsRequest& request) {
  if (absl::Status s = ValidateQueue(request.topic(), request.queue_id()); !s.ok()) return s;
  v1::GetQueueOffsetsResponse response;
  std::shared_ptr<ConsumeQueue> queue = queues_->Find(request.topic(), request.queue_id());
  if (queue == nullptr) return response;
  response.set_min_offset(queue->MinOffset().value());
  response.set_max_offset(queue->MaxOffset().value());
  if (queue->MaxOffset() > queue->MinOffset()) {
    absl::optional<ConsumeQueueUnit> last = queue->GetUnit(queue->MaxOffset() - 1);
    if (last.has_value() && !last->is_blank()) {
      absl::StatusOr<int64_t> time = StoreTimeAt(last->commit_log_offset);
      if (time.ok()) response.set_last_store_timestamp_ms(*time);
    }
  }
  return response;
}

absl::StatusOr<v1::GetOffsetByTimeResponse> MessageStore::GetOffsetByTime(
    const v1::GetOffsetByTimeRequest& request) {
  if (absl::Status s = ValidateQueue(request.topic(), request.queue_id()); !s.ok()) return s;
  v1::GetOffsetByTimeResponse response;
  std::shared_ptr<ConsumeQueue> queue = queues_->Find(request.topic(), request.queue_id());
  if (queue == nullptr) return response;
  absl::StatusOr<QueueOffset> offset = queue->OffsetByTime(
      request.timestamp_ms(),
      [this](PhysicalOffset physical_offset, int32_t) { return StoreTimeAt(physical_offset); });
  if (!offset.ok()) return offset.status();
  response.set_offset(offset->value());
  return response;
}

absl::StatusOr<v1::QueryMessagesResponse> MessageStore::QueryByKey(
    const v1::QueryByKeyRequest& request) {
  if (absl::Status s = ValidateTopic(request.topic()); !s.ok()) return s;
  if (request.key().empty()) return absl::InvalidArgumentError("key must not be empty");
  if (index_ == nullptr) {
    return absl::FailedPreconditionError("the message index is disabled on this store");
  }
  int32_t max =
      request.max_count() <= 0 ? kDefaultQueryMax : std::min(request.max_count(), kMaxQueryMax);
  int64_t end = request.end_timestamp_ms() <= 0 ? std::numeric_limits<int64_t>::max()
                                                : request.end_timestamp_ms();
  v1::QueryMessagesResponse response;
  // Different keys can share a hash: ask for more candidates than needed and
  // keep those whose record really carries the key.
  for (int64_t offset : index_->Query(request.topic(), request.key(), static_cast<size_t>(max) * 2,
                                      request.begin_timestamp_ms(), end)) {
    common::v1::MessageExt message;
    if (!ReadMessage(PhysicalOffset(offset), &message).ok()) continue;
    if (message.topic() != request.topic()) continue;
    auto keys = message.properties().find(std::string(format::kPropertyKeys));
    if (keys == message.properties().end() || !HasKey(keys->second, request.key())) continue;
    *response.add_messages() = std::move(message);
    if (response.messages_size() >= max) break;
  }
  if (response.messages_size() == 0) {
    return absl::NotFoundError(absl::StrCat("no message of topic ", request.topic(), " has key ",
                                            QuoteInput(request.key())));
  }
  return response;
}

absl::StatusOr<v1::QueryMessagesResponse> MessageStore::QueryByUniqueId(
    const v1::QueryByUniqueIdRequest& request) {
  if (absl::Status s = ValidateTopic(request.topic()); !s.ok()) return s;
  if (request.unique_id().empty()) return absl::InvalidArgumentError("unique id must not be empty");
  if (index_ == nullptr) {
    return absl::FailedPreconditionError("the message index is disabled on this store");
  }
  v1::QueryMessagesResponse response;
  for (int64_t offset : index_->Query(request.topic(), request.unique_id(), kMaxQueryMax)) {
    common::v1::MessageExt message;
    if (!ReadMessage(PhysicalOffset(offset), &message).ok()) continue;
    if (message.topic() != request.topic() || message.msg_id() != request.unique_id()) continue;
    *response.add_messages() = std::move(message);
  }
  if (response.messages_size() == 0) {
    return absl::NotFoundError(absl::StrCat("no message of topic ", request.topic(),
                                            " has unique id ", QuoteInput(request.unique_id())));
  }
  return response;
}

absl::StatusOr<v1::GetMessageByOffsetResponse> MessageStore::GetMessageByOffset(
    const v1::GetMessageByOffsetRequest& request) {
  if (request.physical_offset() < 0) {
    return absl::InvalidArgumentError("physical offset must not be negative");
  }
  v1::GetMessageByOffsetResponse response;
  if (absl::Status s =
          ReadMessage(PhysicalOffset(request.physical_offset()), response.mutable_message(),
                      /*check_crc=*/true);
      !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<v1::GetMetadataResponse> MessageStore::GetMetadata(
    const v1::GetMetadataRequest& request) {
  if (request.key().empty()) return absl::InvalidArgumentError("metadata key must not be empty");
  v1::GetMetadataResponse response;
  absl::optional<std::string> value = metadata_->Get(request.key());
  if (value.has_value()) {
    response.set_found(true);
    response.set_value(*std::move(value));
  }
  return response;
}

absl::Status MessageStore::PutMetadata(const v1::PutMetadataRequest& request) {
  std::vector<MetadataStore::Mutation> batch;
  batch.reserve(request.entries_size());
  for (const v1::MetadataEntry& entry : request.entries()) {
    batch.push_back({entry.key(), entry.value(), entry.deleted()});
  }
  absl::MutexLock lock(&metadata_mu_);
  if (absl::Status s = metadata_->Put(batch); !s.ok()) return s;
  if (ha_master_ != nullptr) ha_master_->NotifyMetadataChanged(request.entries());
  return absl::OkStatus();
}

absl::StatusOr<v1::ListMetadataResponse> MessageStore::ListMetadata(
    const v1::ListMetadataRequest& request) {
  v1::ListMetadataResponse response;
  for (MetadataStore::Entry& entry : metadata_->List(request.prefix())) {
    v1::MetadataEntry* out = response.add_entries();
    out->set_key(std::move(entry.key));
    out->set_value(std::move(entry.value));
  }
  return response;
}

absl::Status MessageStore::DeleteTopic(const v1::DeleteTopicRequest& request) {
  if (absl::Status s = ValidateTopic(request.topic()); !s.ok()) return s;
  if (absl::Status s = queues_->DeleteTopic(request.topic()); !s.ok()) return s;
  commit_log_->RemoveQueueOffsets(request.topic());
  LOG(INFO) << "consume queues of topic " << request.topic() << " deleted";
  return absl::OkStatus();
}

absl::StatusOr<v1::GetStatsResponse> MessageStore::GetStats() {
  v1::GetStatsResponse response;
  response.set_role(options_.role);
  response.set_min_physical_offset(commit_log_->MinOffset());
  response.set_max_physical_offset(commit_log_->MaxOffset());
  response.set_flushed_offset(commit_log_->FlushedOffset());
  response.set_dispatch_behind_bytes(
      std::max<int64_t>(0, commit_log_->MaxOffset() - dispatcher_->dispatched_offset()));
  response.set_skipped_records(dispatcher_->skipped_records());
  response.set_corrupt_records_read(corrupt_records_read_.load(std::memory_order_relaxed));
  for (absl::Duration level : options_.delay.levels) {
    response.add_delay_levels_ms(absl::ToInt64Milliseconds(level));
  }
  if (schedule_ != nullptr) {
    response.set_schedule_delivered(schedule_->delivered());
    response.set_schedule_timer_entries_in_memory(schedule_->timer_entries_in_memory());
  }
  absl::StatusOr<double> ratio = options_.disk_used_ratio(options_.root_dir);
  response.set_disk_used_ratio(ratio.ok() ? *ratio : disk_used_ratio_.load());
  response.set_disk_full(disk_full_.load());
  response.set_put_tps(puts_.Rate());
  response.set_get_tps(gets_.Rate());
  response.set_total_put_messages(puts_.total());
  response.set_total_get_messages(gets_.total());
  if (ha_master_ != nullptr) {
    for (v1::SlaveProgress& slave : ha_master_->Slaves()) {
      *response.add_slaves() = std::move(slave);
    }
  }
  if (options_.role == v1::SLAVE) {
    if (ha_client_ != nullptr) {
      *response.mutable_replication() = ha_client_->status();
    } else {
      response.mutable_replication()->set_last_error("no master address configured");
    }
  }
  return response;
}

std::unique_ptr<StoreApi::Watch> MessageStore::WatchQueues(QueueListener listener) {
  return watchers_.Add(std::move(listener));
}

void MessageStore::RunRetention() {
  absl::StatusOr<double> ratio = options_.disk_used_ratio(options_.root_dir);
  if (!ratio.ok()) {
    LOG(ERROR) << "retention: cannot read disk usage: " << ratio.status();
    return;
  }
  disk_used_ratio_.store(*ratio);
  absl::Time now = options_.clock->Now();
  int hour = absl::ToCivilHour(now, absl::LocalTimeZone()).hour();
  RetentionDecision decision = DecideRetention(options_.retention, *ratio, hour);

  if (decision.disk_full && !disk_full_.exchange(true)) {
    LOG(ERROR) << "retention: " << decision.reason;
    commit_log_->RefuseAppends(absl::StrCat("disk full: ", decision.reason));
  } else if (!decision.disk_full && disk_full_.exchange(false)) {
    LOG(INFO) << "retention: disk usage back to " << *ratio * 100 << "%, writes accepted again";
    if (!shut_down_.load()) commit_log_->AcceptAppends();
  }
  if (!decision.delete_expired) return;

  int64_t dispatched = dispatcher_->dispatched_offset();
  int deleted = commit_log_->file_queue().DeleteFilesWhile(
      [&](const MappedFile& file) {
        // Never delete what consumers cannot have been handed yet.
        if (file.end_offset() > dispatched) return false;
        if (decision.ignore_age) return true;
        absl::StatusOr<absl::Time> modified = file.LastModifiedTime();
        return modified.ok() && now - *modified >= options_.retention.file_reserved_time;
      },
      options_.retention.max_files_per_run);
  if (deleted == 0) return;
  int64_t min_offset = commit_log_->MinOffset();
  int queue_files = queues_->DeleteFilesBelowPhysicalOffset(PhysicalOffset(min_offset));
  int index_files = index_ != nullptr ? index_->DeleteFilesBelowPhysicalOffset(min_offset) : 0;
  LOG(INFO) << "retention (" << decision.reason << "): deleted " << deleted << " commit-log files, "
            << queue_files << " consume-queue files and " << index_files
            << " index files; the commit log now starts at " << min_offset;
}

}  // namespace mq::store
