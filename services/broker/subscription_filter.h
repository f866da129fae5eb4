// A consumer's tag expression as the broker filters with it: "*" (or empty)
// for every message, or "TagA || TagB". The broker filters by the tags' hash
// codes (RocketMQ's tagsCode, Java's String.hashCode), which the store keeps
// in its consume queues; two tags may share a code, so the client checks the
// exact tag of what it receives.
#ifndef MQ_SERVICES_BROKER_SUBSCRIPTION_FILTER_H_
#define MQ_SERVICES_BROKER_SUBSCRIPTION_FILTER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mq::broker {

// The sorted, distinct tag hash codes of `expression`; empty for "*" or "".
// INVALID_ARGUMENT with SUBSCRIPTION_PARSE_FAILED when it names no tag ("||").
absl::StatusOr<std::vector<int64_t>> ParseSubscription(absl::string_view expression);

// Whether a message with tag hash `tag_code` passes `codes` (empty passes all).
bool MatchesTagCodes(const std::vector<int64_t>& codes, int64_t tag_code);

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_SUBSCRIPTION_FILTER_H_
