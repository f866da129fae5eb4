// The pull consumer: the application picks queues and offsets and pulls
// messages itself; the group's committed offsets live on the brokers.
//
//   mq::PullConsumerOptions options;
//   options.client.name_server_addresses = {"127.0.0.1:9876"};
//   mq::PullConsumer consumer("OrderReaders", options);
//   consumer.Start();
//   for (const mq::MessageQueue& queue : *consumer.FetchSubscribeQueues("Orders")) {
//     int64_t offset = consumer.QueryConsumerOffset(queue).value_or(0);
//     absl::StatusOr<mq::PullResult> r = consumer.Pull(queue, "TagA || TagB", offset, 32);
//     ... process r->messages ...; consumer.UpdateConsumerOffset(queue, r->next_begin_offset);
//   }
#ifndef MQ_CLIENT_INCLUDE_MQ_PULL_CONSUMER_H_
#define MQ_CLIENT_INCLUDE_MQ_PULL_CONSUMER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mq/client_options.h"
#include "mq/message_ext.h"
#include "mq/message_queue.h"

namespace mq {

namespace client_internal {
class PullConsumerImpl;
}  // namespace client_internal

enum class PullStatus {
  kFound,          // FOUND: `messages` holds what matched (possibly empty after tag filtering)
  kNoNewMsg,       // NO_NEW_MSG: nothing at or after the offset yet
  kNoMatchedMsg,   // NO_MATCHED_MSG: messages were there, none matched the tags
  kOffsetIllegal,  // OFFSET_ILLEGAL: the offset is outside the queue; resume at next_begin_offset
};

struct PullResult {
  PullStatus status = PullStatus::kNoNewMsg;
  // The offset to pull from next.
  int64_t next_begin_offset = 0;
  int64_t min_offset = 0;
  int64_t max_offset = 0;
  std::vector<MessageExt> messages;
};

// Defaults are RocketMQ 4.9.8's DefaultMQPullConsumer's.
struct PullConsumerOptions {
  ClientOptions client;
  // Deadline of a pull that returns at once.
  absl::Duration pull_timeout = absl::Seconds(10);
  // PullBlockIfNotFound: how long the broker holds an empty pull, and the
  // client's deadline for it (must be longer).
  absl::Duration broker_suspend_max = absl::Seconds(20);
  absl::Duration timeout_when_suspend = absl::Seconds(30);
  // Largest uncompressed body accepted from a broker.
  size_t max_body_size_bytes = kDefaultMaxMessageBodyBytes;
};

// Thread-safe: any number of threads may pull at once. Start() and Shutdown()
// must not race with each other.
class PullConsumer {
 public:
  // `group`: 1..255 characters of [%|a-zA-Z0-9_-], unique per client instance.
  PullConsumer(std::string group, PullConsumerOptions options = {});
  // Shuts down if still running.
  ~PullConsumer();

  PullConsumer(const PullConsumer&) = delete;
  PullConsumer& operator=(const PullConsumer&) = delete;

  // Same states and errors as Producer::Start().
  absl::Status Start();
  // Unregisters the group from the brokers; stops the client instance if
  // nothing else uses it. Idempotent.
  void Shutdown();
  ServiceState state() const;

  // The readable queues of `topic` (slaves count: a group whose master is down
  // is still readable). Also subscribes the group to the topic in heartbeats.
  absl::StatusOr<std::vector<MessageQueue>> FetchSubscribeQueues(absl::string_view topic);

  // Up to `max_nums` (1..1024) messages from `offset` on whose tag matches
  // `sub_expression` ("*" or "" for all, or "TagA || TagB"). Returns at once.
  absl::StatusOr<PullResult> Pull(const MessageQueue& queue, absl::string_view sub_expression,
                                  int64_t offset, int32_t max_nums);
  // As Pull(), but the broker holds an empty answer until a message arrives or
  // broker_suspend_max passes (long polling).
  absl::StatusOr<PullResult> PullBlockIfNotFound(const MessageQueue& queue,
                                                 absl::string_view sub_expression, int64_t offset,
                                                 int32_t max_nums);

  // The group's committed offset of `queue`; NOT_FOUND if it never committed.
  absl::StatusOr<int64_t> QueryConsumerOffset(const MessageQueue& queue);
  absl::Status UpdateConsumerOffset(const MessageQueue& queue, int64_t offset);

  // Offsets of the queue: the first still stored, and one past the last.
  absl::StatusOr<int64_t> MinOffset(const MessageQueue& queue);
  absl::StatusOr<int64_t> MaxOffset(const MessageQueue& queue);
  // The offset of the first message stored at or after `time`.
  absl::StatusOr<int64_t> SearchOffset(const MessageQueue& queue, absl::Time time);

  const std::string& group() const;

 private:
  std::unique_ptr<client_internal::PullConsumerImpl> impl_;
};

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_PULL_CONSUMER_H_
