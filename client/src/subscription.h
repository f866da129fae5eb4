// Tag expressions of consumers ("*", "TagA || TagB") and the readable queues
// of a topic.
#ifndef MQ_CLIENT_SRC_SUBSCRIPTION_H_
#define MQ_CLIENT_SRC_SUBSCRIPTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "mq/message_queue.h"
#include "proto/broker.pb.h"
#include "proto/common.pb.h"

namespace mq::client_internal {

// RocketMQ's tag hash: Java's String.hashCode of the tag's bytes.
int32_t TagHashCode(absl::string_view tag);

// "*" or "" subscribes to every tag; otherwise the tags between "||", trimmed.
// `sub_string` is "*" for the all-tags form.
broker::v1::SubscriptionData ParseSubscription(const std::string& topic,
                                               absl::string_view expression);

// True when `tags` (a message's TAGS property) passes `subscription`.
bool MatchesSubscription(const broker::v1::SubscriptionData& subscription, absl::string_view tags);

// Sorted by broker name: queues 0..read_queue_nums-1 of every readable
// QueueData. A master is not required: a slave can serve reads.
std::vector<MessageQueue> SubscribeQueuesFromRoute(const std::string& topic,
                                                   const common::v1::TopicRouteData& route);

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_SUBSCRIPTION_H_
