// Reads for admin tools and consumers that bypass the pull path: messages by
// unique id, by key and by offset id, a queue's offsets, and the offset for a
// time. Each is one store call with the arguments checked first.
#ifndef MQ_SERVICES_BROKER_QUERY_MESSAGE_PROCESSOR_H_
#define MQ_SERVICES_BROKER_QUERY_MESSAGE_PROCESSOR_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "proto/broker.pb.h"
#include "services/broker/topic_config_manager.h"
#include "services/store/store_api.h"

namespace mq::broker {

inline constexpr int32_t kDefaultQueryMaxNum = 32;
inline constexpr int32_t kMaxQueryMaxNum = 64;

// Thread-safe. `store` must outlive the processor. Errors: INVALID_ARGUMENT
// for bad arguments; NOT_FOUND with QUERY_NOT_FOUND when no message matches;
// the store's errors otherwise.
class QueryMessageProcessor {
 public:
  // Both must outlive the processor. A topic the broker does not have (never
  // created, or deleted) is NOT_FOUND with TOPIC_NOT_EXIST for every query, and
  // a queue must be one of its read queues.
  QueryMessageProcessor(store::StoreApi* store, const TopicConfigManager* topics)
      : store_(store), topics_(topics) {}

  // Messages of a topic with a producer's unique id (UNIQ_KEY).
  absl::StatusOr<broker::v1::QueryMessageResponse> QueryById(
      const broker::v1::QueryMessageByIdRequest& request);
  // Messages of a topic whose KEYS contain a key, newest first; max_num 0
  // means 32, at most 64.
  absl::StatusOr<broker::v1::QueryMessageResponse> QueryByKey(
      const broker::v1::QueryMessageByKeyRequest& request);
  // The message an offset message id (32 hex digits) points at.
  absl::StatusOr<broker::v1::QueryMessageResponse> ViewByOffsetId(
      const broker::v1::ViewMessageByOffsetIdRequest& request);
  absl::StatusOr<broker::v1::GetQueueOffsetsResponse> GetQueueOffsets(
      const broker::v1::GetQueueOffsetsRequest& request);
  absl::StatusOr<broker::v1::SearchOffsetResponse> SearchOffset(
      const broker::v1::SearchOffsetRequest& request);

 private:
  store::StoreApi* const store_;
  const TopicConfigManager* const topics_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_QUERY_MESSAGE_PROCESSOR_H_
