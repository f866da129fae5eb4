// How a consumer group splits a topic's queues among its live members
// (RocketMQ's AllocateMessageQueueAveragely).
#ifndef MQ_CLIENT_SRC_ALLOCATE_STRATEGY_H_
#define MQ_CLIENT_SRC_ALLOCATE_STRATEGY_H_

#include <string>
#include <vector>

#include "mq/message_queue.h"

namespace mq::client_internal {

// The share of `client_id` among `client_ids`: with Q queues and C clients,
// the client at position i of the sorted ids gets the contiguous run of the
// sorted queues starting at i * (Q / C) + min(i, Q % C), of length Q / C, plus
// one when i < Q % C. Every queue goes to exactly one client, shares differ by
// at most one queue, and every member computes the same split from the same
// inputs. Empty when `client_id` is not a member. The inputs need not be sorted.
std::vector<MessageQueue> AllocateAveragely(std::vector<MessageQueue> queues,
                                            std::vector<std::string> client_ids,
                                            const std::string& client_id);

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_ALLOCATE_STRATEGY_H_
