#include "services/store/grpc_store.h"

#include <utility>

#include "absl/time/time.h"
#include "common/status.h"
#include "services/store/advance_buffer.h"

namespace mq::store {

namespace {

template <typename Response>
grpc::Status Reply(absl::StatusOr<Response> result, Response* response,
                   grpc::ServerContext* context) {
  if (!result.ok()) return ToGrpcStatus(result.status(), context);
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status StoreService::AppendBatch(grpc::ServerContext* context,
                                       const v1::AppendBatchRequest* request,
                                       v1::AppendBatchResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return Reply(store_->AppendBatch(*request), response, context);
}

grpc::Status StoreService::GetMessages(grpc::ServerContext* context,
                                       const v1::GetMessagesRequest* request,
                                       v1::GetMessagesResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return Reply(store_->GetMessages(*request), response, context);
}

grpc::Status StoreService::GetQueueOffsets(grpc::ServerContext* context,
                                           const v1::GetQueueOffsetsRequest* request,
                                           v1::GetQueueOffsetsResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return Reply(store_->GetQueueOffsets(*request), response, context);
}

grpc::Status StoreService::GetOffsetByTime(grpc::ServerContext* context,
                                           const v1::GetOffsetByTimeRequest* request,
                                           v1::GetOffsetByTimeResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return Reply(store_->GetOffsetByTime(*request), response, context);
}

grpc::Status StoreService::QueryByKey(grpc::ServerContext* context,
                                      const v1::QueryByKeyRequest* request,
                                      v1::QueryMessagesResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return Reply(store_->QueryByKey(*request), response, context);
}

grpc::Status StoreService::QueryByUniqueId(grpc::ServerContext* context,
                                           const v1::QueryByUniqueIdRequest* request,
                                           v1::QueryMessagesResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return Reply(store_->QueryByUniqueId(*request), response, context);
}

grpc::Status StoreService::GetMessageByOffset(grpc::ServerContext* context,
                                              const v1::GetMessageByOffsetRequest* request,
                                              v1::GetMessageByOffsetResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return Reply(store_->GetMessageByOffset(*request), response, context);
}

grpc::Status StoreService::GetMetadata(grpc::ServerContext* context,
                                       const v1::GetMetadataRequest* request,
                                       v1::GetMetadataResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return Reply(store_->GetMetadata(*request), response, context);
}

grpc::Status StoreService::PutMetadata(grpc::ServerContext* context,
                                       const v1::PutMetadataRequest* request,
                                       v1::PutMetadataResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return ToGrpcStatus(store_->PutMetadata(*request), context);
}

grpc::Status StoreService::ListMetadata(grpc::ServerContext* context,
                                        const v1::ListMetadataRequest* request,
                                        v1::ListMetadataResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return Reply(store_->ListMetadata(*request), response, context);
}

grpc::Status StoreService::DeleteTopic(grpc::ServerContext* context,
                                       const v1::DeleteTopicRequest* request,
                                       v1::DeleteTopicResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return ToGrpcStatus(store_->DeleteTopic(*request), context);
}

grpc::Status StoreService::WatchQueues(grpc::ServerContext* context,
                                       const v1::WatchQueuesRequest* request,
                                       grpc::ServerWriter<v1::QueueAdvances>* writer) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  AdvanceBuffer buffer;
  std::unique_ptr<StoreApi::Watch> watch =
      store_->WatchQueues([&buffer](const v1::QueueAdvance& advance) { buffer.Push(advance); });
  if (!writer->Write(v1::QueueAdvances())) return grpc::Status::OK;
  while (!context->IsCancelled()) {
    v1::QueueAdvances advances = buffer.Take(absl::Milliseconds(200));
    if (advances.advances_size() > 0 && !writer->Write(advances)) return grpc::Status::OK;
  }
  return grpc::Status::OK;
}

grpc::Status StoreService::Replicate(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::MasterMessage, v1::ReplicaMessage>* stream) {
  if (authorizer_ != nullptr) {
    absl::Status allowed = authorizer_->Check("/mq.store.v1.Store/Replicate",
                                              context->client_metadata(), context->peer(), nullptr);
    if (!allowed.ok()) return ToGrpcStatus(allowed, context);
  }
  if (ha_master_ == nullptr) {
    return ToGrpcStatus(absl::UnimplementedError("this store is a slave and serves no "
                                                 "replication: replicate from its master"),
                        context);
  }
  return ha_master_->Serve(context, stream);
}

grpc::Status StoreService::GetStats(grpc::ServerContext* context,
                                    const v1::GetStatsRequest* request,
                                    v1::GetStatsResponse* response) {
  if (grpc::Status refused = acl::Refusal(authorizer_, context, *request); !refused.ok()) {
    return refused;
  }
  return Reply(store_->GetStats(), response, context);
}

}  // namespace mq::store
