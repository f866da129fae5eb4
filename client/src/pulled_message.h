// Turning a broker's pull answer into what consumers see: the pull status and
// MessageExt values with uncompressed bodies, filtered by the exact tag.
#ifndef MQ_CLIENT_SRC_PULLED_MESSAGE_H_
#define MQ_CLIENT_SRC_PULLED_MESSAGE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mq/message_ext.h"
#include "mq/pull_consumer.h"
#include "proto/broker.pb.h"
#include "proto/common.pb.h"

namespace mq::client_internal {

PullStatus PullStatusFromProto(broker::v1::PullStatus status);

// The message as consumers see it; the body is uncompressed when its sys_flag
// says so (DATA_LOSS or RESOURCE_EXHAUSTED above `max_body_size_bytes`).
absl::StatusOr<MessageExt> ToMessageExt(const common::v1::MessageExt& wire,
                                        const std::string& broker_name, size_t max_body_size_bytes);

// The messages of `response` (its `records` when the broker sent stored
// records, else its `messages`) whose tag passes `subscription`: the broker
// filters by tag hash, and hashes collide, so the tag itself is checked here.
// Each stored record's CRC is checked: DATA_LOSS for a torn or corrupt one.
absl::StatusOr<std::vector<MessageExt>> MatchingMessages(
    const broker::v1::PullMessageResponse& response,
    const broker::v1::SubscriptionData& subscription, const std::string& broker_name,
    size_t max_body_size_bytes);

// The messages of a pop answer, in the order of its `messages` (from its
// `records` when the broker sent stored records, else from the fields), as
// consumers see them: reconsume times from the delivery attempt, a retried
// message under the topic it was sent to. DATA_LOSS for a torn or corrupt
// record.
absl::StatusOr<std::vector<MessageExt>> PoppedMessages(
    const broker::v1::PopMessageResponse& response, const std::string& broker_name,
    size_t max_body_size_bytes);

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_PULLED_MESSAGE_H_
