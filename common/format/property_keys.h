// The message property keys the client, broker and store read or write, with
// RocketMQ's names (MessageConst). The only definition of each key.
#ifndef MQ_COMMON_FORMAT_PROPERTY_KEYS_H_
#define MQ_COMMON_FORMAT_PROPERTY_KEYS_H_

#include "absl/strings/string_view.h"

namespace mq::format {

// The tag consumers filter by ("TagA").
inline constexpr absl::string_view kPropertyTags = "TAGS";
// Business keys, space separated, indexed for queries.
inline constexpr absl::string_view kPropertyKeys = "KEYS";
// The producer-assigned unique id (the client's msgId).
inline constexpr absl::string_view kPropertyUniqueKey = "UNIQ_KEY";
// "false" asks the broker not to wait for a sync flush or a slave ack. Not
// stored.
inline constexpr absl::string_view kPropertyWaitStoreMsgOk = "WAIT";
// The delay level (1..18) of a delayed message.
inline constexpr absl::string_view kPropertyDelayTimeLevel = "DELAY";
// The absolute delivery time of a timer message, ms since the epoch
// (RocketMQ 5's name, and the older name it still accepts).
inline constexpr absl::string_view kPropertyTimerDeliverMs = "TIMER_DELIVER_MS";
inline constexpr absl::string_view kPropertyStartDeliverTime = "__STARTDELIVERTIME";
// Set by the store on a scheduled message: when it is due, ms since the epoch.
inline constexpr absl::string_view kPropertyScheduleDueMs = "SCHEDULE_DUE_MS";
// Set by the store on each copy its schedule delivers: "<queueId>:<offset>"
// of the schedule-topic entry it came from (exactly-once after a crash).
inline constexpr absl::string_view kPropertyScheduleSource = "SCHEDULE_SOURCE";
// "true" on the half message of a transaction.
inline constexpr absl::string_view kPropertyTransactionPrepared = "TRAN_MSG";
// The topic and queue a delayed or half message is delivered to in the end.
inline constexpr absl::string_view kPropertyRealTopic = "REAL_TOPIC";
inline constexpr absl::string_view kPropertyRealQueueId = "REAL_QID";
// The topic a message sent back for retry was first consumed from.
inline constexpr absl::string_view kPropertyRetryTopic = "RETRY_TOPIC";
// The msgId of the message a retry copy was made from.
inline constexpr absl::string_view kPropertyOriginMessageId = "ORIGIN_MESSAGE_ID";
// How many times the message was consumed again, and the most it may be.
inline constexpr absl::string_view kPropertyReconsumeTime = "RECONSUME_TIME";
inline constexpr absl::string_view kPropertyMaxReconsumeTimes = "MAX_RECONSUME_TIMES";
// The message group of a FIFO message (RocketMQ 5's sharding key): messages
// of one group are kept in one queue, in order.
inline constexpr absl::string_view kPropertyShardingKey = "__SHARDINGKEY";
// The producer group that sent a transactional message.
inline constexpr absl::string_view kPropertyProducerGroup = "PGROUP";
// How many times the broker asked the producer group about a half message.
inline constexpr absl::string_view kPropertyTransactionCheckTimes = "TRANSACTION_CHECK_TIMES";
// On the visible copy of a committed transactional message: the queue offset
// of its half message, so a commit is never made twice.
inline constexpr absl::string_view kPropertyTransactionPreparedQueueOffset =
    "TRAN_PREPARED_QUEUE_OFFSET";

}  // namespace mq::format

#endif  // MQ_COMMON_FORMAT_PROPERTY_KEYS_H_
