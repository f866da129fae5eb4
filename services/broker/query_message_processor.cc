#include "services/broker/query_message_processor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/format/record_format.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/broker/broker_errors.h"

namespace mq::broker {

namespace {

absl::Status QueryNotFound(absl::string_view what) {
  return WithResponseCode(absl::NotFoundError(absl::StrCat("no message ", what)),
                          common::v1::QUERY_NOT_FOUND);
}

absl::StatusOr<broker::v1::QueryMessageResponse> ToResponse(
    absl::StatusOr<store::v1::QueryMessagesResponse> found, absl::string_view what) {
  if (!found.ok() && found.status().code() == absl::StatusCode::kNotFound) {
    return QueryNotFound(what);
  }
  if (!found.ok()) return StoreCallError("store query failed", found.status());
  if (found->messages().empty()) return QueryNotFound(what);
  broker::v1::QueryMessageResponse response;
  response.mutable_messages()->Swap(found->mutable_messages());
  return response;
}

}  // namespace

absl::StatusOr<broker::v1::QueryMessageResponse> QueryMessageProcessor::QueryById(
    const broker::v1::QueryMessageByIdRequest& request) {
  absl::Status status = topics_->FindExisting(request.topic()).status();
  if (!status.ok()) return status;
  if (request.msg_id().empty()) return absl::InvalidArgumentError("msg_id must not be empty");
  store::v1::QueryByUniqueIdRequest query;
  query.set_topic(request.topic());
  query.set_unique_id(request.msg_id());
  const std::string what =
      absl::StrCat("with id ", QuoteInput(request.msg_id()), " in topic ", request.topic());
  absl::StatusOr<store::v1::QueryMessagesResponse> found = store_->QueryByUniqueId(query);
  const bool none =
      found.ok() ? found->messages().empty() : found.status().code() == absl::StatusCode::kNotFound;
  if (none) {
    // A message sent without UNIQ_KEY has its offset message id as its id.
    absl::StatusOr<format::OffsetMessageId> id = format::ParseOffsetMessageId(request.msg_id());
    if (id.ok()) {
      store::v1::GetMessageByOffsetRequest get;
      get.set_physical_offset(id->physical_offset);
      absl::StatusOr<store::v1::GetMessageByOffsetResponse> at = store_->GetMessageByOffset(get);
      if (at.ok() && at->message().topic() == request.topic() &&
          at->message().offset_msg_id() == request.msg_id()) {
        store::v1::QueryMessagesResponse by_offset;
        *by_offset.add_messages() = std::move(*at->mutable_message());
        found = std::move(by_offset);
      }
    }
  }
  return ToResponse(std::move(found), what);
}

absl::StatusOr<broker::v1::QueryMessageResponse> QueryMessageProcessor::QueryByKey(
    const broker::v1::QueryMessageByKeyRequest& request) {
  absl::Status status = topics_->FindExisting(request.topic()).status();
  if (!status.ok()) return status;
  if (request.key().empty()) return absl::InvalidArgumentError("key must not be empty");
  int32_t max_num = request.max_num() == 0 ? kDefaultQueryMaxNum : request.max_num();
  if (max_num < 0 || max_num > kMaxQueryMaxNum) {
    return absl::InvalidArgumentError(
        absl::StrFormat("max_num is %d, must be in 1..%d", request.max_num(), kMaxQueryMaxNum));
  }
  store::v1::QueryByKeyRequest query;
  query.set_topic(request.topic());
  query.set_key(request.key());
  query.set_max_count(max_num);
  query.set_begin_timestamp_ms(request.begin_timestamp_ms());
  query.set_end_timestamp_ms(request.end_timestamp_ms());
  return ToResponse(store_->QueryByKey(query), absl::StrCat("with key ", QuoteInput(request.key()),
                                                            " in topic ", request.topic()));
}

absl::StatusOr<broker::v1::QueryMessageResponse> QueryMessageProcessor::ViewByOffsetId(
    const broker::v1::ViewMessageByOffsetIdRequest& request) {
  absl::StatusOr<format::OffsetMessageId> id =
      format::ParseOffsetMessageId(request.offset_msg_id());
  if (!id.ok()) return id.status();
  store::v1::GetMessageByOffsetRequest get;
  get.set_physical_offset(id->physical_offset);
  absl::StatusOr<store::v1::GetMessageByOffsetResponse> found = store_->GetMessageByOffset(get);
  if (!found.ok()) {
    if (found.status().code() == absl::StatusCode::kNotFound) {
      return QueryNotFound(absl::StrCat("at offset id ", QuoteInput(request.offset_msg_id())));
    }
    return StoreCallError("store read failed", found.status());
  }
  broker::v1::QueryMessageResponse response;
  *response.add_messages() = std::move(*found->mutable_message());
  return response;
}

absl::StatusOr<broker::v1::GetQueueOffsetsResponse> QueryMessageProcessor::GetQueueOffsets(
    const broker::v1::GetQueueOffsetsRequest& request) {
  absl::Status status = topics_->CheckReadQueue(request.topic(), request.queue_id());
  if (!status.ok()) return status;
  store::v1::GetQueueOffsetsRequest get;
  get.set_topic(request.topic());
  get.set_queue_id(request.queue_id());
  absl::StatusOr<store::v1::GetQueueOffsetsResponse> offsets = store_->GetQueueOffsets(get);
  if (!offsets.ok()) return StoreCallError("store read failed", offsets.status());
  broker::v1::GetQueueOffsetsResponse response;
  response.set_min_offset(offsets->min_offset());
  response.set_max_offset(offsets->max_offset());
  response.set_last_update_timestamp_ms(offsets->last_store_timestamp_ms());
  return response;
}

absl::StatusOr<broker::v1::SearchOffsetResponse> QueryMessageProcessor::SearchOffset(
    const broker::v1::SearchOffsetRequest& request) {
  absl::Status status = topics_->CheckReadQueue(request.topic(), request.queue_id());
  if (!status.ok()) return status;
  store::v1::GetOffsetByTimeRequest get;
  get.set_topic(request.topic());
  get.set_queue_id(request.queue_id());
  get.set_timestamp_ms(request.timestamp_ms());
  absl::StatusOr<store::v1::GetOffsetByTimeResponse> offset = store_->GetOffsetByTime(get);
  if (!offset.ok()) return StoreCallError("store read failed", offset.status());
  broker::v1::SearchOffsetResponse response;
  response.set_offset(offset->offset());
  return response;
}

}  // namespace mq::broker
