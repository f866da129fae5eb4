// The topics the broker keeps for transactional messages and POP's log (RocketMQ's
// TopicValidator names). Clients may neither send to them nor read them.
#ifndef MQ_SERVICES_BROKER_TRANSACTION_TOPICS_H_
#define MQ_SERVICES_BROKER_TRANSACTION_TOPICS_H_

#include "absl/strings/string_view.h"

namespace mq::broker {

// Half messages, queue 0, until they are settled.
inline constexpr absl::string_view kTransactionHalfTopic = "RMQ_SYS_TRANS_HALF_TOPIC";
// Op records, queue 0: one per settled half, body its half queue offset.
inline constexpr absl::string_view kTransactionOpTopic = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
// Copies of halves discarded after the most checks, for the operator.
inline constexpr absl::string_view kTransactionCheckMaxTimeTopic = "TRANS_CHECK_MAX_TIME_TOPIC";

inline bool IsTransactionSystemTopic(absl::string_view topic) {
  return topic == kTransactionHalfTopic || topic == kTransactionOpTopic ||
         topic == kTransactionCheckMaxTimeTopic;
}

// POP consumption's log (PopService), queue 0: a PopLogRecord per change.
inline constexpr absl::string_view kPopLogTopic = "RMQ_SYS_POP_LOG";

// The broker's own topics: no producer may send to them.
inline bool IsBrokerSystemTopic(absl::string_view topic) {
  return IsTransactionSystemTopic(topic) || topic == kPopLogTopic;
}

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_TRANSACTION_TOPICS_H_
