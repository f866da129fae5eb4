// StoreApi over gRPC, for a broker whose store runs as a separate process.
//
// Appends are asynchronous and coalesced: appends queue up while
// max_append_rpcs AppendBatch RPCs are in flight, and each RPC's completion
// drains the queue into the next RPC, as large as the limits allow, then hands
// each caller its own slice of the results. No thread waits for the store. The store group-commits
// one RPC as one unit, so many producers' messages share one flush (and one
// slave round trip) across the process boundary, as they would in-process. A
// caller's request is never split, and requests that differ in wait_store_ok
// never share an RPC.
//
// WatchQueues keeps one streaming RPC open for all listeners and reopens it
// with exponential backoff when it breaks; events in the gap are lost (the
// pull hold service's periodic check covers them). The store writes whatever
// advances are pending as one stream message; each is handed to every
// listener.
//
// Every unary call has a deadline.
#ifndef MQ_SERVICES_BROKER_REMOTE_STORE_H_
#define MQ_SERVICES_BROKER_REMOTE_STORE_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/grpc_options.h"
#include "common/units.h"
#include "proto/store.grpc.pb.h"
#include "services/store/store_api.h"

namespace mq::broker {

struct RemoteStoreOptions {
  // Deadline of every call but appends.
  absl::Duration call_timeout = absl::Seconds(10);
  // Deadline of an append RPC; covers the store's sync-flush (5 s) and slave
  // (3 s) waits.
  absl::Duration append_timeout = absl::Seconds(15);
  // Limits of one coalesced AppendBatch RPC (a single larger request still
  // goes alone).
  int max_batch_entries = 512;
  int64_t max_batch_bytes = 4_MiB;
  // Append RPCs in flight at once. One: while it is out, appends queue and
  // the next RPC carries them all, as a group commit across the process
  // boundary. More RPCs in flight made smaller batches and measured slower
  // (1, 2, 4, 16 compared in benchmarks/HISTORY.md).
  int max_append_rpcs = 1;
  // Reconnect delays of the watch stream.
  absl::Duration watch_initial_backoff = absl::Milliseconds(100);
  absl::Duration watch_max_backoff = kMaxReconnectBackoff;
};

// Thread-safe.
class RemoteStore final : public store::StoreApi {
 public:
  RemoteStore(std::shared_ptr<grpc::Channel> channel, RemoteStoreOptions options);
  // Fails queued appends with UNAVAILABLE, cancels append and read RPCs in
  // flight and waits for their callbacks, closes the watch stream, and joins its thread.
  // Watches must be gone first.
  ~RemoteStore() override;

  RemoteStore(const RemoteStore&) = delete;
  RemoteStore& operator=(const RemoteStore&) = delete;

  // Waits until the channel is connected. UNAVAILABLE after `timeout`.
  absl::Status WaitForConnected(absl::Duration timeout);

  absl::StatusOr<store::v1::AppendBatchResponse> AppendBatch(
      const store::v1::AppendBatchRequest& request) override ABSL_LOCKS_EXCLUDED(mu_);
  void AppendBatchAsync(store::v1::AppendBatchRequest request, AppendCallback done) override
      ABSL_LOCKS_EXCLUDED(mu_);
  bool AppendsAreAsync() const override { return true; }
  absl::StatusOr<store::v1::GetMessagesResponse> GetMessages(
      const store::v1::GetMessagesRequest& request) override;
  void GetMessagesAsync(store::v1::GetMessagesRequest request, GetMessagesCallback done) override
      ABSL_LOCKS_EXCLUDED(mu_);
  bool ReadsAreAsync() const override { return true; }
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
  std::unique_ptr<Watch> WatchQueues(QueueListener listener) override
      ABSL_LOCKS_EXCLUDED(watch_mu_, listeners_mu_);

  // Appends waiting for a sender (for tests and monitoring).
  size_t queued_appends() const ABSL_LOCKS_EXCLUDED(mu_);
  // Append RPCs sent so far.
  int64_t append_rpcs() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class WatchHandle;
  // One caller's append, waiting in the queue or in an RPC.
  struct PendingAppend {
    store::v1::AppendBatchRequest request;  // emptied when its RPC starts
    int entries = 0;
    int64_t bytes = 0;
    AppendCallback done;
  };
  using Batch = std::vector<std::unique_ptr<PendingAppend>>;
  // One AppendBatch RPC in flight and the appends it carries.
  struct AppendCall;
  // One GetMessages RPC in flight.
  struct ReadCall;

  // Takes the next group of pending appends that may share one RPC.
  Batch TakeBatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends `batch` as one RPC; the caller counted it in rpcs_in_flight_.
  void StartRpc(Batch batch) ABSL_LOCKS_EXCLUDED(mu_);
  void OnRpcDone(AppendCall* call, const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  void OnReadDone(ReadCall* call, const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_);

  void WatchLoop() ABSL_LOCKS_EXCLUDED(watch_mu_, listeners_mu_);
  void RemoveListener(int id) ABSL_LOCKS_EXCLUDED(listeners_mu_);

  const RemoteStoreOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<store::v1::Store::Stub> stub_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::unique_ptr<PendingAppend>> queue_ ABSL_GUARDED_BY(mu_);
  // Append RPCs started and not yet completed (cancelled at destruction).
  std::set<AppendCall*> in_flight_ ABSL_GUARDED_BY(mu_);
  // Slots taken: RPCs in flight plus ones being started.
  int rpcs_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t append_rpcs_ ABSL_GUARDED_BY(mu_) = 0;
  // Asynchronous reads started and not yet completed (cancelled at
  // destruction), and their count, which drops only once a call is destroyed.
  std::set<ReadCall*> reads_in_flight_ ABSL_GUARDED_BY(mu_);
  int read_rpcs_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex watch_mu_;
  bool watch_stopping_ ABSL_GUARDED_BY(watch_mu_) = false;
  bool watch_started_ ABSL_GUARDED_BY(watch_mu_) = false;
  std::shared_ptr<grpc::ClientContext> watch_context_ ABSL_GUARDED_BY(watch_mu_);
  std::thread watch_thread_;

  // Held while listeners run, so removing one waits for its call to return.
  absl::Mutex listeners_mu_;
  int next_listener_id_ ABSL_GUARDED_BY(listeners_mu_) = 0;
  std::map<int, QueueListener> listeners_ ABSL_GUARDED_BY(listeners_mu_);
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_REMOTE_STORE_H_
