#include "mq/error_code.h"

#include "common/status.h"
#include "proto/common.pb.h"

namespace mq {
namespace {

// The public values are the wire's.
#define MQ_SAME_CODE(ours, wire)                                              \
  static_assert(static_cast<int32_t>(ResponseCode::ours) == common::v1::wire, \
                #ours " differs from " #wire)
MQ_SAME_CODE(kSuccess, SUCCESS);
MQ_SAME_CODE(kSystemError, SYSTEM_ERROR);
MQ_SAME_CODE(kSystemBusy, SYSTEM_BUSY);
MQ_SAME_CODE(kRequestCodeNotSupported, REQUEST_CODE_NOT_SUPPORTED);
MQ_SAME_CODE(kFlushDiskTimeout, FLUSH_DISK_TIMEOUT);
MQ_SAME_CODE(kSlaveNotAvailable, SLAVE_NOT_AVAILABLE);
MQ_SAME_CODE(kFlushSlaveTimeout, FLUSH_SLAVE_TIMEOUT);
MQ_SAME_CODE(kMessageIllegal, MESSAGE_ILLEGAL);
MQ_SAME_CODE(kServiceNotAvailable, SERVICE_NOT_AVAILABLE);
MQ_SAME_CODE(kVersionNotSupported, VERSION_NOT_SUPPORTED);
MQ_SAME_CODE(kNoPermission, NO_PERMISSION);
MQ_SAME_CODE(kTopicNotExist, TOPIC_NOT_EXIST);
MQ_SAME_CODE(kTopicExistAlready, TOPIC_EXIST_ALREADY);
MQ_SAME_CODE(kPullNotFound, PULL_NOT_FOUND);
MQ_SAME_CODE(kPullRetryImmediately, PULL_RETRY_IMMEDIATELY);
MQ_SAME_CODE(kPullOffsetMoved, PULL_OFFSET_MOVED);
MQ_SAME_CODE(kQueryNotFound, QUERY_NOT_FOUND);
MQ_SAME_CODE(kSubscriptionParseFailed, SUBSCRIPTION_PARSE_FAILED);
MQ_SAME_CODE(kSubscriptionNotExist, SUBSCRIPTION_NOT_EXIST);
MQ_SAME_CODE(kSubscriptionNotLatest, SUBSCRIPTION_NOT_LATEST);
MQ_SAME_CODE(kSubscriptionGroupNotExist, SUBSCRIPTION_GROUP_NOT_EXIST);
MQ_SAME_CODE(kConsumerNotOnline, CONSUMER_NOT_ONLINE);
MQ_SAME_CODE(kInvalidReceiptHandle, INVALID_RECEIPT_HANDLE);
#undef MQ_SAME_CODE

}  // namespace

absl::optional<ResponseCode> ResponseCodeOf(const absl::Status& status) {
  absl::optional<common::v1::ResponseCode> code = GetResponseCode(status);
  if (!code.has_value()) return absl::nullopt;
  return static_cast<ResponseCode>(*code);
}

absl::string_view ResponseCodeName(ResponseCode code) {
  const int32_t value = static_cast<int32_t>(code);
  if (!common::v1::ResponseCode_IsValid(value)) return "UNKNOWN";
  return common::v1::ResponseCode_Name(static_cast<common::v1::ResponseCode>(value));
}

}  // namespace mq
