// Validation of names and counts that cross a service boundary, with RocketMQ's
// rules (TopicValidator, Validators). Each returns INVALID_ARGUMENT with a
// message naming the field and the rule.
#ifndef MQ_COMMON_VALIDATION_H_
#define MQ_COMMON_VALIDATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mq {

inline constexpr size_t kMaxTopicLength = 127;
inline constexpr size_t kMaxNameLength = 127;
inline constexpr size_t kMaxGroupLength = 255;
inline constexpr int32_t kMaxQueueNums = 1024;

// `input` as an error message may quote it: in double quotes, escaped (quotes,
// backslashes, control characters and bytes outside printable ASCII as C
// escapes), at most 64 bytes of it followed by "... (N bytes)" when longer, so
// a hostile or broken client cannot make an error too large to deliver or
// break a log line.
std::string QuoteInput(absl::string_view input);

// True when every character is in [%|a-zA-Z0-9_-].
bool HasOnlyValidNameChars(absl::string_view name);

// A topic: 1..127 characters of [%|a-zA-Z0-9_-].
absl::Status ValidateTopic(absl::string_view topic);

// A cluster or broker name: 1..127 characters of [%|a-zA-Z0-9_-]. `what` names
// the field in the message ("cluster name").
absl::Status ValidateName(absl::string_view what, absl::string_view name);

// A producer or consumer group: 1..255 characters of [%|a-zA-Z0-9_-].
absl::Status ValidateGroup(absl::string_view group);

// A read or write queue count: 1..1024.
absl::Status ValidateQueueNums(absl::string_view what, int32_t nums);

// RocketMQ 5's topic attribute listing the message types RocketMQ 5 clients
// may send to the topic: NORMAL, FIFO, DELAY, TRANSACTION or MIXED (every
// type; also what a topic without the attribute accepts).
inline constexpr absl::string_view kTopicMessageTypeAttribute = "message.type";

// A topic attribute: only kTopicMessageTypeAttribute is known, with one of
// its values (any case).
absl::Status ValidateTopicAttribute(absl::string_view key, absl::string_view value);

// A queue id: 0..kMaxQueueNums-1 (a topic has at most kMaxQueueNums queues).
absl::Status ValidateQueueId(int32_t queue_id);

// A broker id: >= 0 (0 is the master).
absl::Status ValidateBrokerId(int64_t broker_id);

// "host:port" with a port in 1..65535 and a host that is an IPv4 address
// (four numbers 0..255), a DNS name (labels of letters, digits and '-', not
// all-numeric) or a bracketed IPv6 address ("[::1]").
absl::Status ValidateAddress(absl::string_view what, absl::string_view address);

}  // namespace mq

#endif  // MQ_COMMON_VALIDATION_H_
