// The gRPC face of a store: translates store.proto calls to a StoreApi.
#ifndef MQ_SERVICES_STORE_GRPC_STORE_H_
#define MQ_SERVICES_STORE_GRPC_STORE_H_

#include "common/acl/authorizer.h"
#include "proto/store.grpc.pb.h"
#include "services/store/ha_master.h"
#include "services/store/store_api.h"

namespace mq::store {

// Thread-safe. `store` (and `ha_master`, if given) must outlive the service.
// Replicate streams are served by `ha_master`; without one (a slave store)
// Replicate answers UNIMPLEMENTED.
class StoreService final : public v1::Store::Service {
 public:
  explicit StoreService(StoreApi* store, HaMaster* ha_master = nullptr)
      : store_(store), ha_master_(ha_master) {}

  // Access control of every call (must outlive the service); before the
  // server starts. Null (the default): none.
  void set_authorizer(const acl::Authorizer* authorizer) { authorizer_ = authorizer; }

  grpc::Status AppendBatch(grpc::ServerContext* context, const v1::AppendBatchRequest* request,
                           v1::AppendBatchResponse* response) override;
  grpc::Status GetMessages(grpc::ServerContext* context, const v1::GetMessagesRequest* request,
                           v1::GetMessagesResponse* response) override;
  grpc::Status GetQueueOffsets(grpc::ServerContext* context,
                               const v1::GetQueueOffsetsRequest* request,
                               v1::GetQueueOffsetsResponse* response) override;
  grpc::Status GetOffsetByTime(grpc::ServerContext* context,
                               const v1::GetOffsetByTimeRequest* request,
                               v1::GetOffsetByTimeResponse* response) override;
  grpc::Status QueryByKey(grpc::ServerContext* context, const v1::QueryByKeyRequest* request,
                          v1::QueryMessagesResponse* response) override;
  grpc::Status QueryByUniqueId(grpc::ServerContext* context,
                               const v1::QueryByUniqueIdRequest* request,
                               v1::QueryMessagesResponse* response) override;
  grpc::Status GetMessageByOffset(grpc::ServerContext* context,
                                  const v1::GetMessageByOffsetRequest* request,
                                  v1::GetMessageByOffsetResponse* response) override;
  grpc::Status GetMetadata(grpc::ServerContext* context, const v1::GetMetadataRequest* request,
                           v1::GetMetadataResponse* response) override;
  grpc::Status PutMetadata(grpc::ServerContext* context, const v1::PutMetadataRequest* request,
                           v1::PutMetadataResponse* response) override;
  grpc::Status ListMetadata(grpc::ServerContext* context, const v1::ListMetadataRequest* request,
                            v1::ListMetadataResponse* response) override;
  grpc::Status DeleteTopic(grpc::ServerContext* context, const v1::DeleteTopicRequest* request,
                           v1::DeleteTopicResponse* response) override;
  grpc::Status WatchQueues(grpc::ServerContext* context, const v1::WatchQueuesRequest* request,
                           grpc::ServerWriter<v1::QueueAdvances>* writer) override;
  grpc::Status Replicate(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::MasterMessage, v1::ReplicaMessage>* stream) override;
  grpc::Status GetStats(grpc::ServerContext* context, const v1::GetStatsRequest* request,
                        v1::GetStatsResponse* response) override;

 private:
  StoreApi* const store_;
  HaMaster* const ha_master_;
  const acl::Authorizer* authorizer_ = nullptr;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_GRPC_STORE_H_
