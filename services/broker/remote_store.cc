#include "services/broker/remote_store.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status.h"

namespace mq::broker {

namespace {

template <typename Request, typename Response>
using StubMethod = grpc::Status (store::v1::Store::Stub::*)(grpc::ClientContext*, const Request&,
                                                            Response*);

template <typename Request, typename Response>
absl::StatusOr<Response> Unary(store::v1::Store::Stub* stub, StubMethod<Request, Response> method,
                               const Request& request, absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  Response response;
  grpc::Status status = (stub->*method)(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, context);
  return response;
}

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

RemoteStore::RemoteStore(std::shared_ptr<grpc::Channel> channel, RemoteStoreOptions options)
    : options_(options), channel_(std::move(channel)), stub_(store::v1::Store::NewStub(channel_)) {
  for (int i = 0; i < std::max(1, options_.sender_threads); ++i) {
    senders_.emplace_back([this] { SenderLoop(); });
  }
}

RemoteStore::~RemoteStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (PendingAppend* pending : queue_) {
      pending->result = StoreStopping();
      pending->done = true;
    }
    queue_.clear();
    for (grpc::ClientContext* context : in_flight_) context->TryCancel();
  }
  for (std::thread& sender : senders_) sender.join();
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
  PendingAppend pending;
  pending.request = &request;
  pending.bytes = static_cast<int64_t>(request.ByteSizeLong());
  absl::MutexLock lock(&mu_);
  if (stopping_) return StoreStopping();
  queue_.push_back(&pending);
  mu_.Await(absl::Condition(&pending.done));
  return std::move(pending.result);
}

std::vector<RemoteStore::PendingAppend*> RemoteStore::TakeBatchLocked() {
  std::vector<PendingAppend*> batch;
  int entries = 0;
  int64_t bytes = 0;
  bool wait_store_ok = queue_.front()->request->wait_store_ok();
  while (!queue_.empty()) {
    PendingAppend* next = queue_.front();
    int next_entries = next->request->entries_size();
    if (!batch.empty() && (next->request->wait_store_ok() != wait_store_ok ||
                           entries + next_entries > options_.max_batch_entries ||
                           bytes + next->bytes > options_.max_batch_bytes)) {
      break;
    }
    batch.push_back(next);
    queue_.pop_front();
    entries += next_entries;
    bytes += next->bytes;
  }
  return batch;
}

void RemoteStore::SenderLoop() {
  while (true) {
    std::vector<PendingAppend*> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      batch = TakeBatchLocked();
    }
    SendBatch(batch);
  }
}

void RemoteStore::SendBatch(const std::vector<PendingAppend*>& batch) {
  store::v1::AppendBatchRequest combined;
  const store::v1::AppendBatchRequest* request = batch.front()->request;
  int total_entries = 0;
  for (const PendingAppend* pending : batch) total_entries += pending->request->entries_size();
  if (batch.size() > 1) {
    combined.set_wait_store_ok(request->wait_store_ok());
    combined.mutable_entries()->Reserve(total_entries);
    for (const PendingAppend* pending : batch) {
      for (const store::v1::AppendEntry& entry : pending->request->entries()) {
        *combined.add_entries() = entry;
      }
    }
    request = &combined;
  }

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.append_timeout));
  absl::Status status;
  store::v1::AppendBatchResponse response;
  bool sent = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      status = StoreStopping();
    } else {
      in_flight_.push_back(&context);
      ++append_rpcs_;
      sent = true;
    }
  }
  if (sent) {
    grpc::Status rpc = stub_->AppendBatch(&context, *request, &response);
    if (!rpc.ok()) {
      status = FromGrpcStatus(rpc, context);
    } else if (response.results_size() != total_entries) {
      status = absl::InternalError(absl::StrFormat("store answered %d results for %d entries",
                                                   response.results_size(), total_entries));
    }
  }

  absl::MutexLock lock(&mu_);
  if (sent) in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), &context));
  int offset = 0;
  for (PendingAppend* pending : batch) {
    int count = pending->request->entries_size();
    if (status.ok()) {
      store::v1::AppendBatchResponse slice;
      slice.mutable_results()->Reserve(count);
      for (int i = offset; i < offset + count; ++i) {
        *slice.add_results() = std::move(*response.mutable_results(i));
      }
      pending->result = std::move(slice);
    } else {
      pending->result = status;
    }
    offset += count;
    pending->done = true;
  }
}

absl::StatusOr<store::v1::GetMessagesResponse> RemoteStore::GetMessages(
    const store::v1::GetMessagesRequest& request) {
  return Unary(stub_.get(), &store::v1::Store::Stub::GetMessages, request, options_.call_timeout);
}

absl::StatusOr<store::v1::GetQueueOffsetsResponse> RemoteStore::GetQueueOffsets(
    const store::v1::GetQueueOffsetsRequest& request) {
  return Unary(stub_.get(), &store::v1::Store::Stub::GetQueueOffsets, request,
               options_.call_timeout);
}

absl::StatusOr<store::v1::GetOffsetByTimeResponse> RemoteStore::GetOffsetByTime(
    const store::v1::GetOffsetByTimeRequest& request) {
  return Unary(stub_.get(), &store::v1::Store::Stub::GetOffsetByTime, request,
               options_.call_timeout);
}

absl::StatusOr<store::v1::QueryMessagesResponse> RemoteStore::QueryByKey(
    const store::v1::QueryByKeyRequest& request) {
  return Unary(stub_.get(), &store::v1::Store::Stub::QueryByKey, request, options_.call_timeout);
}

absl::StatusOr<store::v1::QueryMessagesResponse> RemoteStore::QueryByUniqueId(
    const store::v1::QueryByUniqueIdRequest& request) {
  return Unary(stub_.get(), &store::v1::Store::Stub::QueryByUniqueId, request,
               options_.call_timeout);
}

absl::StatusOr<store::v1::GetMessageByOffsetResponse> RemoteStore::GetMessageByOffset(
    const store::v1::GetMessageByOffsetRequest& request) {
  return Unary(stub_.get(), &store::v1::Store::Stub::GetMessageByOffset, request,
               options_.call_timeout);
}

absl::StatusOr<store::v1::GetMetadataResponse> RemoteStore::GetMetadata(
    const store::v1::GetMetadataRequest& request) {
  return Unary(stub_.get(), &store::v1::Store::Stub::GetMetadata, request, options_.call_timeout);
}

absl::Status RemoteStore::PutMetadata(const store::v1::PutMetadataRequest& request) {
  return Unary(stub_.get(), &store::v1::Store::Stub::PutMetadata, request, options_.call_timeout)
      .status();
}

absl::StatusOr<store::v1::ListMetadataResponse> RemoteStore::ListMetadata(
    const store::v1::ListMetadataRequest& request) {
  return Unary(stub_.get(), &store::v1::Store::Stub::ListMetadata, request, options_.call_timeout);
}

absl::Status RemoteStore::DeleteTopic(const store::v1::DeleteTopicRequest& request) {
  return Unary(stub_.get(), &store::v1::Store::Stub::DeleteTopic, request, options_.call_timeout)
      .status();
}

absl::StatusOr<store::v1::GetStatsResponse> RemoteStore::GetStats() {
  return Unary(stub_.get(), &store::v1::Store::Stub::GetStats, store::v1::GetStatsRequest(),
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
    std::unique_ptr<grpc::ClientReader<store::v1::QueueAdvance>> reader =
        stub_->WatchQueues(context.get(), store::v1::WatchQueuesRequest());
    store::v1::QueueAdvance advance;
    while (reader->Read(&advance)) {
      backoff = options_.watch_initial_backoff;
      if (advance.topic().empty()) continue;  // the stream's opening message
      absl::MutexLock lock(&listeners_mu_);
      for (auto& [id, listener] : listeners_) listener(advance);
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
