// One queue of a topic on one broker group.
#ifndef MQ_CLIENT_INCLUDE_MQ_MESSAGE_QUEUE_H_
#define MQ_CLIENT_INCLUDE_MQ_MESSAGE_QUEUE_H_

#include <cstdint>
#include <string>
#include <tuple>

namespace mq {

struct MessageQueue {
  std::string topic;
  std::string broker_name;
  int32_t queue_id = 0;

  // "topic@broker_name#queue_id", for logs and errors.
  std::string ToString() const;

  friend bool operator==(const MessageQueue& a, const MessageQueue& b) {
    return a.queue_id == b.queue_id && a.topic == b.topic && a.broker_name == b.broker_name;
  }
  friend bool operator!=(const MessageQueue& a, const MessageQueue& b) { return !(a == b); }
  friend bool operator<(const MessageQueue& a, const MessageQueue& b) {
    return std::tie(a.topic, a.broker_name, a.queue_id) <
           std::tie(b.topic, b.broker_name, b.queue_id);
  }
};

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_MESSAGE_QUEUE_H_
