// The simple consumer (RocketMQ 5's SimpleConsumer): consumption by POP. The
// brokers, not the consumer, track the group's progress. Receive() hands out
// messages the group has not consumed yet, each invisible to the group's other
// receives for an invisible duration and carrying a receipt handle; Ack()
// settles one. A message not acked within its invisible duration is received
// again (by any member of the group) with delivery_attempt counted up, and
// after the group's retry_max_times + 1 attempts it goes to the group's
// dead-letter queue (%DLQ%<group>). ChangeInvisibleDuration() extends (or
// shortens) the time before that. For a FIFO group (consume_message_orderly)
// a queue's next message is handed out only after the previous one is acked
// or dead-lettered.
//
//   mq::SimpleConsumerOptions options;
//   options.client.name_server_addresses = {"127.0.0.1:9876"};
//   mq::SimpleConsumer consumer("OrderReaders", options);
//   consumer.Subscribe("Orders", "TagA || TagB");
//   consumer.Start();
//   absl::StatusOr<std::vector<mq::ReceivedMessage>> got =
//       consumer.Receive(16, absl::Seconds(30), absl::Seconds(10));
//   for (const mq::ReceivedMessage& m : *got) {
//     ... process m.message ...; consumer.Ack(m);
//   }
#ifndef MQ_CLIENT_INCLUDE_MQ_SIMPLE_CONSUMER_H_
#define MQ_CLIENT_INCLUDE_MQ_SIMPLE_CONSUMER_H_

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

namespace mq {

namespace client_internal {
class SimpleConsumerImpl;
}  // namespace client_internal

// One delivery of a message.
struct ReceivedMessage {
  // The message as sent (its topic is the one it was sent to, also when it is
  // delivered again through the group's retry queue); reconsume_times is
  // delivery_attempt - 1.
  MessageExt message;
  // Names this delivery; Ack() and ChangeInvisibleDuration() take it. Spent
  // once the message is acked, its invisible duration ends, or
  // ChangeInvisibleDuration() replaced it.
  std::string receipt_handle;
  // 1 for the first delivery.
  int32_t delivery_attempt = 1;
  // When the message becomes visible to the group again unless acked.
  absl::Time invisible_until;
};

struct SimpleConsumerOptions {
  ClientOptions client;
  // Largest uncompressed body accepted from a broker.
  size_t max_body_size_bytes = kDefaultMaxMessageBodyBytes;
};

// Thread-safe: any number of threads may receive and ack at once. Start() and
// Shutdown() must not race with each other.
class SimpleConsumer {
 public:
  // `group`: 1..255 characters of [%|a-zA-Z0-9_-], unique per client instance.
  SimpleConsumer(std::string group, SimpleConsumerOptions options = {});
  // Shuts down if still running.
  ~SimpleConsumer();

  SimpleConsumer(const SimpleConsumer&) = delete;
  SimpleConsumer& operator=(const SimpleConsumer&) = delete;

  // Same states and errors as Producer::Start().
  absl::Status Start();
  // Unregisters the group from the brokers; stops the client instance if
  // nothing else uses it. Idempotent.
  void Shutdown();
  ServiceState state() const;

  // Receives `topic`'s messages whose tag matches `sub_expression` ("*" or ""
  // for all, or "TagA || TagB"); replaces an earlier expression of the topic.
  // Before or after Start(). INVALID_ARGUMENT for a bad topic.
  absl::Status Subscribe(absl::string_view topic, absl::string_view sub_expression = "*");
  absl::Status Unsubscribe(absl::string_view topic);

  // Up to `max_messages` (1..32) messages of the subscribed topics, invisible
  // to the group for `invisible_duration` (1 s .. 12 h; shorter is raised to
  // 1 s). When none is available, waits up to `await_duration` for one
  // (long polling; zero: answers at once) and returns empty if none comes.
  // Errors: INVALID_ARGUMENT for bad arguments or no subscription,
  // FAILED_PRECONDITION when not running, a broker's error when no broker
  // could be asked.
  absl::StatusOr<std::vector<ReceivedMessage>> Receive(int32_t max_messages,
                                                       absl::Duration invisible_duration,
                                                       absl::Duration await_duration);

  // Settles `message` for the group: it is not delivered again.
  // INVALID_ARGUMENT with ResponseCode::kInvalidReceiptHandle when its handle is
  // spent (acked, invisible duration over, replaced).
  absl::Status Ack(const ReceivedMessage& message);

  // Makes `message` invisible for `invisible_duration` from now instead, and
  // replaces its receipt_handle and invisible_until (the old handle is
  // spent). Errors as Ack(); nothing changes on error.
  absl::Status ChangeInvisibleDuration(ReceivedMessage* message, absl::Duration invisible_duration);

  const std::string& group() const;

 private:
  std::unique_ptr<client_internal::SimpleConsumerImpl> impl_;
};

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_SIMPLE_CONSUMER_H_
