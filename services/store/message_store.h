// The store: one data directory holding the commit log, the consume queues,
// the index, the checkpoint and the broker's metadata, with the services that
// keep them (dispatch, flush, retention). The in-process StoreApi; the store
// binary serves it over gRPC and the standalone server calls it directly.
//
// Directory layout (<root>):
//   commitlog/      commit-log files, named by their 20-digit start offset
//   consumequeue/   <topic>/<queueId>/ consume-queue files
//   index/          index files
//   metadata/       the broker's metadata table (and the schedule's progress)
//   checkpoint      how far everything is known to be on disk
//   lock, abort     ownership of the directory; marker of an unclean stop
#ifndef MQ_SERVICES_STORE_MESSAGE_STORE_H_
#define MQ_SERVICES_STORE_MESSAGE_STORE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/rate_counter.h"
#include "common/scheduler.h"
#include "common/units.h"
#include "services/store/async_flusher.h"
#include "services/store/checkpoint.h"
#include "services/store/commit_log.h"
#include "services/store/consume_queue_table.h"
#include "services/store/delay_policy.h"
#include "services/store/dispatcher.h"
#include "services/store/group_commit_service.h"
#include "services/store/ha_client.h"
#include "services/store/ha_master.h"
#include "services/store/index_service.h"
#include "services/store/log_prefaulter.h"
#include "services/store/mapped_file_allocator.h"
#include "services/store/metadata_store.h"
#include "services/store/offsets.h"
#include "services/store/queue_watchers.h"
#include "services/store/replication_options.h"
#include "services/store/retention_policy.h"
#include "services/store/schedule_service.h"
#include "services/store/store_api.h"
#include "services/store/store_lock.h"

namespace mq::store {

enum class FlushDiskType {
  // Appends return at once; a background thread flushes (RocketMQ's ASYNC_FLUSH).
  kAsync,
  // Appends wait until their bytes are on disk, by group commit (SYNC_FLUSH).
  kSync,
};

struct MessageStoreOptions {
  // The data directory; created if missing.
  std::string root_dir;
  int64_t commit_log_file_size = kDefaultCommitLogFileSizeBytes;
  // Units per consume-queue file (RocketMQ: 300,000 = 6,000,000 bytes).
  int64_t consume_queue_units_per_file = 300'000;
  int64_t max_message_body_bytes = format::kDefaultMaxMessageBodyBytes;
  FlushDiskType flush_disk_type = FlushDiskType::kAsync;
  AsyncFlusherOptions async_flush;
  // Commit-log pages kept mapped ahead of the write position (LogPrefaulter),
  // topped up this often; 0 turns it off.
  int64_t commit_log_prefault_bytes = 16_MiB;
  absl::Duration commit_log_prefault_interval = absl::Milliseconds(10);
  GroupCommitOptions group_commit;
  // Consume queues are flushed this often (RocketMQ: 1 s), thoroughly every
  // `consume_queue_thorough_flush_interval` (60 s) together with the index.
  absl::Duration consume_queue_flush_interval = absl::Seconds(1);
  absl::Duration consume_queue_thorough_flush_interval = absl::Seconds(60);
  bool message_index_enable = true;
  int32_t index_slot_count = 5'000'000;
  int32_t index_max_entries = 20'000'000;
  // A master (ASYNC_MASTER, SYNC_MASTER) serves slaves through ha_master(); a
  // SLAVE refuses appends and, with replication.master_address set,
  // replicates its master's log and metadata. SYNC_MASTER appends (with
  // wait_store_ok) wait for a slave's ack: FLUSH_SLAVE_TIMEOUT after
  // replication.ack.slave_timeout, SLAVE_NOT_AVAILABLE at once when no slave
  // is connected or the best lags too far; the messages are stored either way.
  v1::BrokerRole role = v1::ASYNC_MASTER;
  ReplicationOptions replication;
  RetentionOptions retention;
  // Retention runs this often, first after `clean_initial_delay` (RocketMQ:
  // every 10 s, first after 60 s).
  absl::Duration clean_interval = absl::Seconds(10);
  absl::Duration clean_initial_delay = absl::Seconds(60);
  // Verify every record's CRC when recovering after an unclean stop (always)
  // and after a clean one (this flag; RocketMQ's checkCRCOnRecover).
  bool check_crc_on_clean_recover = true;
  // Delayed delivery (delay_policy.h, schedule_service.h): the level table
  // and the deliver-time horizon; a master looks for due messages every
  // `schedule_tick` and checkpoints its progress every
  // `schedule_checkpoint_interval`.
  DelayPolicyOptions delay = DefaultDelayPolicy();
  absl::Duration schedule_tick = absl::Milliseconds(10);
  absl::Duration schedule_checkpoint_interval = absl::Seconds(1);
  ScheduleServiceOptions schedule;
  // Time source for retention (file age, delete hour) and rates.
  // Must outlive the store.
  const Clock* clock = Clock::Real();
  // Used fraction of the disk holding a path; tests substitute their own.
  std::function<absl::StatusOr<double>(const std::string&)> disk_used_ratio = &DiskUsedRatio;
};

// Thread-safe. Open() returns a store that has recovered, rebuilt its queues
// and index up to the end of its commit log, and is ready for traffic.
// Shutdown() (or the destructor) stops it cleanly; a process killed instead
// recovers at the next Open.
class MessageStore final : public StoreApi {
 public:
  static absl::StatusOr<std::unique_ptr<MessageStore>> Open(MessageStoreOptions options);

  ~MessageStore() override;
  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;

  // Refuses new appends, stops replication, dispatches and flushes
  // everything, writes the checkpoint and marks the directory cleanly closed.
  // Idempotent.
  absl::Status Shutdown();

  // The master side of replication, for the gRPC service's Replicate; null on
  // a slave.
  HaMaster* ha_master() { return ha_master_.get(); }
  // Ends the replication streams (both sides) and releases appends waiting
  // for slaves. A server calls it before its own shutdown, so open streams do
  // not hold that up; Shutdown() calls it too. Idempotent.
  void StopReplication();

  // StoreApi.
  absl::StatusOr<v1::AppendBatchResponse> AppendBatch(
      const v1::AppendBatchRequest& request) override;
  // SYNC_FLUSH appends are answered from the group-commit thread; a
  // SYNC_MASTER's appends block for the slave (AppendBatch).
  void AppendBatchAsync(v1::AppendBatchRequest request, AppendCallback done) override;
  // Not a SYNC_MASTER.
  bool AppendsAreAsync() const override;
  absl::StatusOr<v1::GetMessagesResponse> GetMessages(
      const v1::GetMessagesRequest& request) override;
  absl::optional<int64_t> ReadBehindBytes(absl::string_view topic, int32_t queue_id,
                                          int64_t offset) const override;
  absl::StatusOr<v1::GetQueueOffsetsResponse> GetQueueOffsets(
      const v1::GetQueueOffsetsRequest& request) override;
  absl::StatusOr<v1::GetOffsetByTimeResponse> GetOffsetByTime(
      const v1::GetOffsetByTimeRequest& request) override;
  absl::StatusOr<v1::QueryMessagesResponse> QueryByKey(
      const v1::QueryByKeyRequest& request) override;
  absl::StatusOr<v1::QueryMessagesResponse> QueryByUniqueId(
      const v1::QueryByUniqueIdRequest& request) override;
  absl::StatusOr<v1::GetMessageByOffsetResponse> GetMessageByOffset(
      const v1::GetMessageByOffsetRequest& request) override;
  absl::StatusOr<v1::GetMetadataResponse> GetMetadata(
      const v1::GetMetadataRequest& request) override;
  absl::Status PutMetadata(const v1::PutMetadataRequest& request) override
      ABSL_LOCKS_EXCLUDED(metadata_mu_);
  absl::StatusOr<v1::ListMetadataResponse> ListMetadata(
      const v1::ListMetadataRequest& request) override;
  absl::Status DeleteTopic(const v1::DeleteTopicRequest& request) override;
  absl::StatusOr<v1::GetStatsResponse> GetStats() override;
  std::unique_ptr<Watch> WatchQueues(QueueListener listener) override;

  // One retention pass now (normally run every clean_interval).
  void RunRetention();

  // Every record below this commit-log offset is in the queues and the index.
  int64_t dispatched_offset() const { return dispatcher_->dispatched_offset(); }
  int64_t max_physical_offset() const { return commit_log_->MaxOffset(); }

  // The schedule of a master (null on a slave); tests drive it directly.
  ScheduleService* schedule() { return schedule_.get(); }

 private:
  explicit MessageStore(MessageStoreOptions options);

  absl::Status Load();
  // Finds the end of the valid commit log, cuts everything after it from the
  // log, the queues and the index, and rebuilds them up to the end.
  absl::Status Recover(bool clean_shutdown);
  int64_t UncleanRecoveryStartOffset() const;
  void StartServices();
  void FlushConsumeQueues(bool thorough);
  // SYNC_MASTER: waits for a slave to acknowledge `end_offset`, or marks the
  // stored results SLAVE_NOT_AVAILABLE / FLUSH_SLAVE_TIMEOUT.
  void WaitForSlave(int64_t end_offset, v1::AppendBatchResponse* response);
  // Validates and appends the entries, filling `response`; returns the end
  // offset of what was stored, 0 if nothing was.
  int64_t AppendEntries(const v1::AppendBatchRequest& request, v1::AppendBatchResponse* response);
  // AppendEntries of any entries: `check` kLenient for the schedule's copies.
  int64_t AppendEntryList(absl::Span<const v1::AppendEntry* const> entries, DelayCheck check,
                          v1::AppendBatchResponse* response);
  // The schedule's append of delivered copies.
  std::vector<v1::AppendResult> AppendScheduled(std::vector<v1::AppendEntry> entries);
  // One round of the schedule thread.
  void RunSchedule();

  // Reads the record a consume-queue unit points at, into `out`.
  absl::Status ReadMessage(PhysicalOffset physical_offset, common::v1::MessageExt* out,
                           bool check_crc = false) const;
  absl::StatusOr<int64_t> StoreTimeAt(PhysicalOffset physical_offset) const;
  // Counts a record a read left out as damaged, and logs it once.
  void NoteCorruptRecord(absl::string_view topic, int32_t queue_id, const ConsumeQueueUnit& unit,
                         const absl::Status& status) ABSL_LOCKS_EXCLUDED(corrupt_mu_);

  const MessageStoreOptions options_;
  std::unique_ptr<StoreLock> lock_;
  std::unique_ptr<MappedFileAllocator> allocator_;
  std::unique_ptr<CommitLog> commit_log_;
  std::unique_ptr<ConsumeQueueTable> queues_;
  std::unique_ptr<IndexService> index_;
  std::unique_ptr<Checkpoint> checkpoint_;
  std::unique_ptr<MetadataStore> metadata_;
  QueueWatchers watchers_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<AsyncFlusher> async_flusher_;
  std::unique_ptr<GroupCommitService> group_commit_;
  std::unique_ptr<Scheduler> queue_flush_task_;
  std::unique_ptr<LogPrefaulter> prefaulter_;
  std::unique_ptr<Scheduler> prefault_task_;
  std::unique_ptr<Scheduler> retention_task_;
  std::unique_ptr<ScheduleService> schedule_;
  std::unique_ptr<Scheduler> schedule_task_;
  absl::Time last_schedule_checkpoint_;
  // Exactly one of them, created at start: ha_master_ on a master, ha_client_
  // on a slave with a master address.
  std::unique_ptr<HaMaster> ha_master_;
  std::unique_ptr<HaClient> ha_client_;
  // Orders metadata changes as slaves see them the same as on disk.
  absl::Mutex metadata_mu_;

  RateCounter puts_;
  RateCounter gets_;
  std::atomic<bool> shut_down_{false};
  std::atomic<bool> disk_full_{false};
  std::atomic<double> disk_used_ratio_{0};
  std::atomic<int64_t> corrupt_records_read_{0};
  static constexpr size_t kMaxCorruptLogged = 4096;
  absl::Mutex corrupt_mu_;
  // Commit-log offsets of the damaged records logged already.
  absl::flat_hash_set<PhysicalOffset> corrupt_logged_ ABSL_GUARDED_BY(corrupt_mu_);
  absl::Time last_thorough_flush_;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_MESSAGE_STORE_H_
