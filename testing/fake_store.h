// TEST ONLY. An in-memory StoreApi for the broker's unit tests: messages in
// per-queue vectors, metadata in a map, queue listeners called after each
// append. It follows the store's contract closely enough for the broker's logic
// (statuses of GetMessages, tag filtering, offsets) and adds knobs a real store
// lacks: a forced put status, injected call errors, a gate that blocks appends,
// and counters of calls.
#ifndef MQ_TESTING_FAKE_STORE_H_
#define MQ_TESTING_FAKE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "services/store/store_api.h"

namespace mq::testing {

// Thread-safe.
class FakeStore : public store::StoreApi {
 public:
  FakeStore() = default;
  ~FakeStore() override;

  absl::StatusOr<store::v1::AppendBatchResponse> AppendBatch(
      const store::v1::AppendBatchRequest& request) override;
  absl::StatusOr<store::v1::GetMessagesResponse> GetMessages(
      const store::v1::GetMessagesRequest& request) override;
  absl::StatusOr<store::v1::GetQueueOffsetsResponse> GetQueueOffsets(
      const store::v1::GetQueueOffsetsRequest& request) override;
  absl::StatusOr<store::v1::GetOffsetByTimeResponse> GetOffsetByTime(
      const store::v1::GetOffsetByTimeRequest& request) override;
  absl::StatusOr<store::v1::QueryMessagesResponse> QueryByKey(
      const store::v1::QueryByKeyRequest& request) override;
  absl::StatusOr<store::v1::QueryMessagesResponse> QueryByUniqueId(
      const store::v1::QueryByUniqueIdRequest& request) override;
  absl::StatusOr<store::v1::GetMessageByOffsetResponse> GetMessageByOffset(
      const store::v1::GetMessageByOffsetRequest& request) override;
  absl::StatusOr<store::v1::GetMetadataResponse> GetMetadata(
      const store::v1::GetMetadataRequest& request) override;
  absl::Status PutMetadata(const store::v1::PutMetadataRequest& request) override;
  absl::StatusOr<store::v1::ListMetadataResponse> ListMetadata(
      const store::v1::ListMetadataRequest& request) override;
  absl::Status DeleteTopic(const store::v1::DeleteTopicRequest& request) override;
  absl::StatusOr<store::v1::GetStatsResponse> GetStats() override;
  std::unique_ptr<Watch> WatchQueues(QueueListener listener) override;

  // Every later append answers each entry with `status` (stored only for the
  // statuses that mean stored: PUT_OK and the three timeouts).
  void SetPutStatus(store::v1::PutStatus status) ABSL_LOCKS_EXCLUDED(mu_);
  // Every later call of any method (but WatchQueues) fails with `status` (OK clears).
  void SetCallError(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // While closed, AppendBatch blocks (before touching any data).
  void SetAppendGateOpen(bool open) ABSL_LOCKS_EXCLUDED(mu_);
  // While closed, GetMessages blocks (before reading).
  void SetReadGateOpen(bool open) ABSL_LOCKS_EXCLUDED(mu_);
  // While disabled, appends call no queue listener (a lost event).
  void SetWatchEnabled(bool enabled) ABSL_LOCKS_EXCLUDED(listeners_mu_);
  // Makes queue `topic`/`queue_id` start at `min_offset` (as if older data
  // had been removed by retention).
  void SetMinOffset(const std::string& topic, int32_t queue_id, int64_t min_offset)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the messages of queue `topic`/`queue_id` below `offset`, as
  // retention does; the others keep their offsets.
  void RemoveBefore(const std::string& topic, int32_t queue_id, int64_t offset)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Number of AppendBatch calls, and the entry count of each, in call order.
  std::vector<int> append_batch_sizes() const ABSL_LOCKS_EXCLUDED(mu_);
  // The wait_store_ok flag of each AppendBatch call, in call order.
  std::vector<bool> append_waits() const ABSL_LOCKS_EXCLUDED(mu_);
  // AppendBatch calls blocked at the gate right now.
  int appends_waiting_at_gate() const ABSL_LOCKS_EXCLUDED(mu_);
  // GetMessages calls blocked at the read gate right now.
  int reads_waiting_at_gate() const ABSL_LOCKS_EXCLUDED(mu_);
  int put_metadata_calls() const ABSL_LOCKS_EXCLUDED(mu_);
  // GetMessageByOffset calls so far.
  int get_by_offset_calls() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> deleted_topics() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t watch_count() const ABSL_LOCKS_EXCLUDED(listeners_mu_);

 private:
  class WatchImpl;
  struct Queue {
    int64_t min_offset = 0;
    std::vector<common::v1::MessageExt> messages;  // messages[i] has offset min_offset + i
  };

  void Unwatch(int id) ABSL_LOCKS_EXCLUDED(listeners_mu_);

  mutable absl::Mutex mu_;
  store::v1::PutStatus put_status_ ABSL_GUARDED_BY(mu_) = store::v1::PUT_OK;
  absl::Status call_error_ ABSL_GUARDED_BY(mu_);
  bool gate_open_ ABSL_GUARDED_BY(mu_) = true;
  int waiting_at_gate_ ABSL_GUARDED_BY(mu_) = 0;
  bool read_gate_open_ ABSL_GUARDED_BY(mu_) = true;
  int reads_waiting_at_gate_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<std::string, int32_t>, Queue> queues_ ABSL_GUARDED_BY(mu_);
  // physical offset -> message
  std::map<int64_t, common::v1::MessageExt> by_offset_ ABSL_GUARDED_BY(mu_);
  int64_t next_physical_offset_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t total_puts_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::string> metadata_ ABSL_GUARDED_BY(mu_);
  std::vector<int> append_batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> append_waits_ ABSL_GUARDED_BY(mu_);
  int put_metadata_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int get_by_offset_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> deleted_topics_ ABSL_GUARDED_BY(mu_);

  // Held while listeners run, so a Watch's destruction waits for its call.
  mutable absl::Mutex listeners_mu_;
  int next_watch_id_ ABSL_GUARDED_BY(listeners_mu_) = 0;
  std::map<int, QueueListener> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  bool watch_enabled_ ABSL_GUARDED_BY(listeners_mu_) = true;
};

}  // namespace mq::testing

#endif  // MQ_TESTING_FAKE_STORE_H_
