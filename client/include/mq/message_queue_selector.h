// Queue choice for ordered messages: the application picks the queue, and the
// producer makes exactly one attempt on it, with no retry on another queue
// (a retry elsewhere would break the order).
#ifndef MQ_CLIENT_INCLUDE_MQ_MESSAGE_QUEUE_SELECTOR_H_
#define MQ_CLIENT_INCLUDE_MQ_MESSAGE_QUEUE_SELECTOR_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "mq/message.h"
#include "mq/message_queue.h"

namespace mq {

// Returns the index in `queues` (the topic's writable queues, in route order:
// by broker name, then queue id) of the queue to send `message` to. An index
// out of range fails the send with INVALID_ARGUMENT. Called on the sending
// thread; `queues` is never empty.
using MessageQueueSelector =
    std::function<size_t(const std::vector<MessageQueue>& queues, const Message& message)>;

// A selector sending every message with the same `sharding_key` (an order id,
// a user id) to the same queue while the topic's queues stay the same. The
// hash (32-bit FNV-1a) is stable across processes and platforms.
MessageQueueSelector SelectQueueByHash(std::string sharding_key);

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_MESSAGE_QUEUE_SELECTOR_H_
