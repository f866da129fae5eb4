// What a broker needs from its store. Two implementations: the store itself,
// in-process (the standalone server), and a gRPC client of a separate store
// process. Requests and responses are the store.proto messages, so both paths
// carry exactly the same data and the gRPC service is a thin adapter.
#ifndef MQ_SERVICES_STORE_STORE_API_H_
#define MQ_SERVICES_STORE_STORE_API_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "proto/store.pb.h"

namespace mq::store {

// Thread-safe: every method may be called from many threads at once.
// Errors: INVALID_ARGUMENT for bad requests, NOT_FOUND for a missing message or
// key, UNAVAILABLE when the store cannot be reached or is shutting down.
// Per-message outcomes of an append (disk full, flush timeout, slave not
// available, ...) are statuses inside the response, not errors of the call.
class StoreApi {
 public:
  virtual ~StoreApi() = default;

  virtual absl::StatusOr<v1::AppendBatchResponse> AppendBatch(
      const v1::AppendBatchRequest& request) = 0;
  using AppendCallback = std::function<void(absl::StatusOr<v1::AppendBatchResponse>)>;
  // AppendBatch that reports through `done` (called exactly once, on any
  // thread, possibly before this returns). Takes the request, so an
  // implementation that answers later need not copy message bodies. This
  // default blocks in AppendBatch.
  virtual void AppendBatchAsync(v1::AppendBatchRequest request, AppendCallback done) {
    done(AppendBatch(request));
  }
  // True when AppendBatchAsync never blocks (waits for a flush end or a
  // store's answer in a callback): the broker then runs sends on the gRPC
  // thread that received them instead of handing them to send threads.
  virtual bool AppendsAreAsync() const { return false; }
  virtual absl::StatusOr<v1::GetMessagesResponse> GetMessages(
      const v1::GetMessagesRequest& request) = 0;
  using GetMessagesCallback = std::function<void(absl::StatusOr<v1::GetMessagesResponse>)>;
  // GetMessages that reports through `done` (called exactly once, on any
  // thread, possibly before this returns). This default blocks in
  // GetMessages.
  virtual void GetMessagesAsync(v1::GetMessagesRequest request, GetMessagesCallback done) {
    done(GetMessages(request));
  }
  // True when GetMessagesAsync never blocks (the read is another process's
  // answer, reported in a callback): the broker then starts pulls on the gRPC
  // thread that received them instead of handing them to pull threads.
  virtual bool ReadsAreAsync() const { return false; }
  // How far a read of `topic`/`queue_id` from `offset` would start behind the
  // end of the log, in bytes, when that is cheap to tell without reading the
  // log (one consume-queue unit); 0 when the answer needs no log read (an
  // offset outside the queue, an unknown queue); nullopt when unknown.
  // RocketMQ's measure of whether a read is served from memory
  // (accessMessageInMemoryMaxRatio). This default: nullopt.
  virtual absl::optional<int64_t> ReadBehindBytes(absl::string_view topic, int32_t queue_id,
                                                  int64_t offset) const {
    return absl::nullopt;
  }
  virtual absl::StatusOr<v1::GetQueueOffsetsResponse> GetQueueOffsets(
      const v1::GetQueueOffsetsRequest& request) = 0;
  virtual absl::StatusOr<v1::GetOffsetByTimeResponse> GetOffsetByTime(
      const v1::GetOffsetByTimeRequest& request) = 0;
  virtual absl::StatusOr<v1::QueryMessagesResponse> QueryByKey(
      const v1::QueryByKeyRequest& request) = 0;
  virtual absl::StatusOr<v1::QueryMessagesResponse> QueryByUniqueId(
      const v1::QueryByUniqueIdRequest& request) = 0;
  virtual absl::StatusOr<v1::GetMessageByOffsetResponse> GetMessageByOffset(
      const v1::GetMessageByOffsetRequest& request) = 0;
  virtual absl::StatusOr<v1::GetMetadataResponse> GetMetadata(
      const v1::GetMetadataRequest& request) = 0;
  virtual absl::Status PutMetadata(const v1::PutMetadataRequest& request) = 0;
  virtual absl::StatusOr<v1::ListMetadataResponse> ListMetadata(
      const v1::ListMetadataRequest& request) = 0;
  virtual absl::Status DeleteTopic(const v1::DeleteTopicRequest& request) = 0;
  virtual absl::StatusOr<v1::GetStatsResponse> GetStats() = 0;

  // A registration of a queue listener; destroying it unregisters the
  // listener (after any call in progress returns).
  class Watch {
   public:
    virtual ~Watch() = default;
  };
  using QueueListener = std::function<void(const v1::QueueAdvance&)>;

  // Calls `listener` each time the dispatcher indexes messages of a queue, on
  // a store thread; the listener must be quick and must not call back into
  // the store. Used to wake long-polling pulls.
  virtual std::unique_ptr<Watch> WatchQueues(QueueListener listener) = 0;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_STORE_API_H_
