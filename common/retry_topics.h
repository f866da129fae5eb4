// The names of a consumer group's retry and dead-letter topics (RocketMQ's
// MixAll.getRetryTopic / getDLQTopic): the one definition the client, broker
// and tools use.
#ifndef MQ_COMMON_RETRY_TOPICS_H_
#define MQ_COMMON_RETRY_TOPICS_H_

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace mq {

inline constexpr absl::string_view kRetryTopicPrefix = "%RETRY%";
inline constexpr absl::string_view kDlqTopicPrefix = "%DLQ%";
// Attempts before a message goes to the dead-letter queue when neither the
// consumer nor the group says (RocketMQ's retryMaxTimes).
inline constexpr int kDefaultMaxReconsumeTimes = 16;

// "%RETRY%<group>": where a group's messages wait to be consumed again.
inline std::string RetryTopic(absl::string_view group) {
  return absl::StrCat(kRetryTopicPrefix, group);
}
// "%DLQ%<group>": where a group's messages go after their last attempt.
inline std::string DlqTopic(absl::string_view group) {
  return absl::StrCat(kDlqTopicPrefix, group);
}
inline bool IsRetryTopic(absl::string_view topic) {
  return absl::StartsWith(topic, kRetryTopicPrefix);
}
inline bool IsDlqTopic(absl::string_view topic) { return absl::StartsWith(topic, kDlqTopicPrefix); }

}  // namespace mq

#endif  // MQ_COMMON_RETRY_TOPICS_H_
