// The queues a producer may write to for one topic, built from its route.
#ifndef MQ_CLIENT_SRC_TOPIC_PUBLISH_INFO_H_
#define MQ_CLIENT_SRC_TOPIC_PUBLISH_INFO_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "client/src/thread_local_index.h"
#include "mq/message_queue.h"
#include "proto/common.pb.h"

namespace mq::client_internal {

// Immutable once built; shared between threads as shared_ptr<const ...>.
class TopicPublishInfo {
 public:
  // With `order_topic_conf` ("brokerA:4;brokerB:4"): those queues, an ordered
  // topic. Otherwise, sorted by broker name, queues 0..write_queue_nums-1 of
  // every writable QueueData whose broker has a master (id 0).
  static std::shared_ptr<const TopicPublishInfo> FromRoute(const std::string& topic,
                                                           const common::v1::TopicRouteData& route);

  // True when there is at least one queue to write to.
  bool ok() const { return !queues_.empty(); }
  bool order_topic() const { return order_topic_; }
  const std::vector<MessageQueue>& queues() const { return queues_; }
  const common::v1::TopicRouteData& route() const { return route_; }

  // Round robin with `index`: the first of the next queues.size() queues whose
  // broker is not `avoid_broker` and that `usable` accepts (when given). Null if
  // none qualifies or there are no queues.
  const MessageQueue* SelectQueue(const ThreadLocalIndex& index, absl::string_view avoid_broker,
                                  const std::function<bool(const MessageQueue&)>& usable) const;

  // Plain round robin; null if there are no queues.
  const MessageQueue* SelectQueue(const ThreadLocalIndex& index) const;

  // Write queue count of `broker_name`'s writable QueueData, or -1.
  int32_t WriteQueueNumsOf(absl::string_view broker_name) const;

 private:
  TopicPublishInfo() = default;

  bool order_topic_ = false;
  std::vector<MessageQueue> queues_;
  common::v1::TopicRouteData route_;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_TOPIC_PUBLISH_INFO_H_
