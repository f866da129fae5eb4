// StoreApi over gRPC, for a broker whose store runs as a separate process.
//
// Appends are coalesced: concurrent AppendBatch calls queue up, and sender
// threads drain the queue into as few AppendBatch RPCs as the limits allow,
// then hand each caller its own slice of the results. The store group-commits
// one RPC as one unit, so many producers' messages share one flush (and one
// slave round trip) across the process boundary, as they would in-process. A
// caller's request is never split, and requests that differ in wait_store_ok
// never share an RPC.
//
// WatchQueues keeps one streaming RPC open for all listeners and reopens it
// with exponential backoff when it breaks; events in the gap are lost (the
// pull hold service's periodic check covers them).
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
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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
  int64_t max_batch_bytes = 4 * 1024 * 1024;
  // Append RPCs in flight at once.
  int sender_threads = 4;
  // Reconnect delays of the watch stream.
  absl::Duration watch_initial_backoff = absl::Milliseconds(100);
  absl::Duration watch_max_backoff = absl::Seconds(5);
};

// Thread-safe.
class RemoteStore final : public store::StoreApi {
 public:
  RemoteStore(std::shared_ptr<grpc::Channel> channel, RemoteStoreOptions options);
  // Fails queued appends with UNAVAILABLE, cancels calls in flight, closes
  // the watch stream, and joins the threads. Watches must be gone first.
  ~RemoteStore() override;

  RemoteStore(const RemoteStore&) = delete;
  RemoteStore& operator=(const RemoteStore&) = delete;

  // Waits until the channel is connected. UNAVAILABLE after `timeout`.
  absl::Status WaitForConnected(absl::Duration timeout);

  absl::StatusOr<store::v1::AppendBatchResponse> AppendBatch(
      const store::v1::AppendBatchRequest& request) override ABSL_LOCKS_EXCLUDED(mu_);
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
    const store::v1::AppendBatchRequest* request = nullptr;
    int64_t bytes = 0;
    bool done = false;
    absl::StatusOr<store::v1::AppendBatchResponse> result;
  };

  void SenderLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Takes the next group of pending appends that may share one RPC.
  std::vector<PendingAppend*> TakeBatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendBatch(const std::vector<PendingAppend*>& batch) ABSL_LOCKS_EXCLUDED(mu_);

  void WatchLoop() ABSL_LOCKS_EXCLUDED(watch_mu_, listeners_mu_);
  void RemoveListener(int id) ABSL_LOCKS_EXCLUDED(listeners_mu_);

  const RemoteStoreOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<store::v1::Store::Stub> stub_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<PendingAppend*> queue_ ABSL_GUARDED_BY(mu_);
  // Contexts of append RPCs in flight, cancelled at destruction.
  std::vector<grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(mu_);
  int64_t append_rpcs_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> senders_;

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
