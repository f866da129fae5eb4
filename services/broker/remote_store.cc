#include "services/broker/remote_store.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/rpc.h"
#include "common/status.h"

namespace mq::broker {

namespace {

absl::Status StoreStopping() { return absl::UnavailableError("the store client is shutting down"); }

}  // namespace

class RemoteStore::WatchHandle : public store::StoreApi::Watch {
 public:
  WatchHandle(RemoteStore* store, int id) : store_(store), id_(id) {}
  ~WatchHandle() override { store_->RemoveListener(id_); }

 private:
  RemoteStore* const store_;
  const int id_;
};

struct RemoteStore::AppendCall {
  grpc::ClientContext context;
  store::v1::AppendBatchRequest request;
  store::v1::AppendBatchResponse response;
  Batch batch;
};

struct RemoteStore::ReadCall {
  grpc::ClientContext context;
  store::v1::GetMessagesRequest request;
  store::v1::GetMessagesResponse response;
  GetMessagesCallback done;
};

RemoteStore::RemoteStore(std::shared_ptr<grpc::Channel> channel, RemoteStoreOptions options)
    : options_(options), channel_(std::move(channel)), stub_(store::v1::Store::NewStub(channel_)) {}

RemoteStore::~RemoteStore() {
  std::deque<std::unique_ptr<PendingAppend>> queued;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    queued.swap(queue_);
    for (AppendCall* call : in_flight_) call->context.TryCancel();
    for (ReadCall* call : reads_in_flight_) call->context.TryCancel();
  }
  for (auto& pending : queued) pending->done(StoreStopping());
  {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return rpcs_in_flight_ == 0 && read_rpcs_ == 0;
    };
    mu_.Await(absl::Condition(&idle));
  }
  {
    absl::MutexLock lock(&watch_mu_);
    watch_stopping_ = true;
    if (watch_context_ != nullptr) watch_context_->TryCancel();
  }
  if (watch_thread_.joinable()) watch_thread_.join();
}

absl::Status RemoteStore::WaitForConnected(absl::Duration timeout) {
  if (channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + timeout))) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("store not reachable within ", absl::FormatDuration(timeout)));
}

absl::StatusOr<store::v1::AppendBatchResponse> RemoteStore::AppendBatch(
    const store::v1::AppendBatchRequest& request) {
  absl::Notification answered;
  absl::StatusOr<store::v1::AppendBatchResponse> result;
  AppendBatchAsync(request, [&](absl::StatusOr<store::v1::AppendBatchResponse> response) {
    result = std::move(response);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

void RemoteStore::AppendBatchAsync(store::v1::AppendBatchRequest request, AppendCallback done) {
  auto pending = std::make_unique<PendingAppend>();
  pending->entries = request.entries_size();
  pending->bytes = static_cast<int64_t>(request.ByteSizeLong());
  pending->request = std::move(request);
  pending->done = std::move(done);
  Batch batch;
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(pending));
      if (rpcs_in_flight_ >= std::max(1, options_.max_append_rpcs)) return;
      ++rpcs_in_flight_;
      batch = TakeBatchLocked();
    }
  }
  if (pending != nullptr) {
    pending->done(StoreStopping());
    return;
  }
  StartRpc(std::move(batch));
}

RemoteStore::Batch RemoteStore::TakeBatchLocked() {
  Batch batch;
  int entries = 0;
  int64_t bytes = 0;
  bool wait_store_ok = queue_.front()->request.wait_store_ok();
  while (!queue_.empty()) {
    PendingAppend& next = *queue_.front();
    if (!batch.empty() && (next.request.wait_store_ok() != wait_store_ok ||
                           entries + next.entries > options_.max_batch_entries ||
                           bytes + next.bytes > options_.max_batch_bytes)) {
      break;
    }
    entries += next.entries;
    bytes += next.bytes;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

void RemoteStore::StartRpc(Batch batch) {
  auto* call = new AppendCall;
  if (batch.size() == 1) {
    call->request.Swap(&batch.front()->request);
  } else {
    int total_entries = 0;
    for (const auto& pending : batch) total_entries += pending->entries;
    call->request.set_wait_store_ok(batch.front()->request.wait_store_ok());
    call->request.mutable_entries()->Reserve(total_entries);
    for (const auto& pending : batch) {
      for (store::v1::AppendEntry& entry : *pending->request.mutable_entries()) {
        call->request.add_entries()->Swap(&entry);
      }
    }
  }
  call->batch = std::move(batch);
  SetDeadline(&call->context, options_.append_timeout);
  {
    absl::MutexLock lock(&mu_);
    in_flight_.insert(call);
    ++append_rpcs_;
    if (stopping_) call->context.TryCancel();
  }
  stub_->async()->AppendBatch(&call->context, &call->request, &call->response,
                              [this, call](grpc::Status status) { OnRpcDone(call, status); });
}

void RemoteStore::OnRpcDone(AppendCall* call, const grpc::Status& rpc) {
  std::unique_ptr<AppendCall> owned(call);
  absl::Status status;
  if (!rpc.ok()) {
    status = FromGrpcStatus(rpc, call->context);
  } else if (call->response.results_size() != call->request.entries_size()) {
    status = absl::InternalError(absl::StrFormat("store answered %d results for %d entries",
                                                 call->response.results_size(),
                                                 call->request.entries_size()));
  }
  int offset = 0;
  for (auto& pending : call->batch) {
    int count = pending->entries;
    if (status.ok()) {
      store::v1::AppendBatchResponse slice;
      slice.mutable_results()->Reserve(count);
      for (int i = offset; i < offset + count; ++i) {
        slice.add_results()->Swap(call->response.mutable_results(i));
      }
      pending->done(std::move(slice));
    } else {
      pending->done(status);
    }
    offset += count;
  }

  {
    absl::MutexLock lock(&mu_);
    in_flight_.erase(call);
  }
  // The call (its context) goes before the RPC counts as done: once it does,
  // the destructor may release the channel, and a context must not outlive it.
  owned.reset();
  Batch next;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || queue_.empty()) {
      --rpcs_in_flight_;
      return;
    }
    next = TakeBatchLocked();
  }
  StartRpc(std::move(next));
}

absl::StatusOr<store::v1::GetMessagesResponse> RemoteStore::GetMessages(
    const store::v1::GetMessagesRequest& request) {
  return CallUnary(*stub_, &store::v1::Store::Stub::GetMessages, request, options_.call_timeout);
}

void RemoteStore::GetMessagesAsync(store::v1::GetMessagesRequest request,
                                   GetMessagesCallback done) {
  auto call = std::make_unique<ReadCall>();
  call->request = std::move(request);
  call->done = std::move(done);
  SetDeadline(&call->context, options_.call_timeout);
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    stopping = stopping_;
    if (!stopping) {
      reads_in_flight_.insert(call.get());
      ++read_rpcs_;
    }
  }
  if (stopping) {
    call->done(StoreStopping());
    return;
  }
  ReadCall* raw = call.release();
  stub_->async()->GetMessages(&raw->context, &raw->request, &raw->response,
                              [this, raw](grpc::Status status) { OnReadDone(raw, status); });
}

void RemoteStore::OnReadDone(ReadCall* call, const grpc::Status& rpc) {
  std::unique_ptr<ReadCall> owned(call);
  {
    absl::MutexLock lock(&mu_);
    reads_in_flight_.erase(call);
  }
  GetMessagesCallback done = std::move(call->done);
  absl::StatusOr<store::v1::GetMessagesResponse> result = std::move(call->response);
  if (!rpc.ok()) result = FromGrpcStatus(rpc, call->context);
  // The context goes before the read counts as done (as in OnRpcDone).
  owned.reset();
  done(std::move(result));
  absl::MutexLock lock(&mu_);
  --read_rpcs_;
}

absl::StatusOr<store::v1::GetQueueOffsetsResponse> RemoteStore::GetQueueOffsets(
    const store::v1::GetQueueOffsetsRequest& request) {
  return CallUnary(*stub_, &store::v1::Store::Stub::GetQueueOffsets, request,
                   options_.call_timeout);
}

absl::StatusOr<store::v1::GetOffsetByTimeResponse> RemoteStore::GetOffsetByTime(
    const store::v1::GetOffsetByTimeRequest& request) {
  return CallUnary(*stub_, &store::v1::Store::Stub::GetOffsetByTime, request,
                   options_.call_timeout);
}

absl::StatusOr<store::v1::QueryMessagesResponse> RemoteStore::QueryByKey(
    const store::v1::QueryByKeyRequest& request) {
  return CallUnary(*stub_, &store::v1::Store::Stub::QueryByKey, request, options_.call_timeout);
}

absl::StatusOr<store::v1::QueryMessagesResponse> RemoteStore::QueryByUniqueId(
    const store::v1::QueryByUniqueIdRequest& request) {
  return CallUnary(*stub_, &store::v1::Store::Stub::QueryByUniqueId, request,
                   options_.call_timeout);
}

absl::StatusOr<store::v1::GetMessageByOffsetResponse> RemoteStore::GetMessageByOffset(
    const store::v1::GetMessageByOffsetRequest& request) {
  return CallUnary(*stub_, &store::v1::Store::Stub::GetMessageByOffset, request,
                   options_.call_timeout);
}

absl::StatusOr<store::v1::GetMetadataResponse> RemoteStore::GetMetadata(
    const store::v1::GetMetadataRequest& request) {
  return CallUnary(*stub_, &store::v1::Store::Stub::GetMetadata, request, options_.call_timeout);
}

absl::Status RemoteStore::PutMetadata(const store::v1::PutMetadataRequest& request) {
  return CallUnary(*stub_, &store::v1::Store::Stub::PutMetadata, request, options_.call_timeout)
      .status();
}

absl::StatusOr<store::v1::ListMetadataResponse> RemoteStore::ListMetadata(
    const store::v1::ListMetadataRequest& request) {
  return CallUnary(*stub_, &store::v1::Store::Stub::ListMetadata, request, options_.call_timeout);
}

absl::Status RemoteStore::DeleteTopic(const store::v1::DeleteTopicRequest& request) {
  return CallUnary(*stub_, &store::v1::Store::Stub::DeleteTopic, request, options_.call_timeout)
      .status();
}

absl::StatusOr<store::v1::GetStatsResponse> RemoteStore::GetStats() {
  return CallUnary(*stub_, &store::v1::Store::Stub::GetStats, store::v1::GetStatsRequest(),
                   options_.call_timeout);
}

size_t RemoteStore::queued_appends() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

int64_t RemoteStore::append_rpcs() const {
  absl::MutexLock lock(&mu_);
  return append_rpcs_;
}

std::unique_ptr<store::StoreApi::Watch> RemoteStore::WatchQueues(QueueListener listener) {
  int id = 0;
  {
    absl::MutexLock lock(&listeners_mu_);
    id = next_listener_id_++;
    listeners_[id] = std::move(listener);
  }
  {
    absl::MutexLock lock(&watch_mu_);
    if (!watch_started_ && !watch_stopping_) {
      watch_started_ = true;
      watch_thread_ = std::thread([this] { WatchLoop(); });
    }
  }
  return std::make_unique<WatchHandle>(this, id);
}

void RemoteStore::RemoveListener(int id) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

void RemoteStore::WatchLoop() {
  absl::Duration backoff = options_.watch_initial_backoff;
  while (true) {
    auto context = std::make_shared<grpc::ClientContext>();
    {
      absl::MutexLock lock(&watch_mu_);
      if (watch_stopping_) return;
      watch_context_ = context;
    }
    std::unique_ptr<grpc::ClientReader<store::v1::QueueAdvances>> reader =
        stub_->WatchQueues(context.get(), store::v1::WatchQueuesRequest());
    store::v1::QueueAdvances advances;
    while (reader->Read(&advances)) {
      backoff = options_.watch_initial_backoff;
      absl::MutexLock lock(&listeners_mu_);
      for (const store::v1::QueueAdvance& advance : advances.advances()) {
        for (auto& [id, listener] : listeners_) listener(advance);
      }
    }
    grpc::Status status = reader->Finish();
    absl::MutexLock lock(&watch_mu_);
    watch_context_.reset();
    if (watch_stopping_) return;
    LOG_EVERY_N(WARNING, 10) << "store watch stream ended (" << status.error_code() << ": "
                             << status.error_message() << "); reopening in "
                             << absl::FormatDuration(backoff);
    watch_mu_.AwaitWithTimeout(absl::Condition(&watch_stopping_), backoff);
    if (watch_stopping_) return;
    backoff = std::min(backoff * 2, options_.watch_max_backoff);
  }
}

}  // namespace mq::broker
