// The pure translations between RocketMQ 5's protocol (apache.rocketmq.v2) and
// our own (mq.broker.v1, mq.namesrv.v1): routes to message queues, v5
// messages to broker sends, our errors to v5 status codes, and the
// transaction id a v5 producer quotes back. No I/O, so every edge case the
// protocol note lists is unit-tested here (v5_translation_test.cc).
#ifndef MQ_SERVICES_PROXY_V5_TRANSLATION_H_
#define MQ_SERVICES_PROXY_V5_TRANSLATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/apache/rocketmq/v2/messaging.pb.h"
#include "proto/broker.pb.h"
#include "proto/common.pb.h"

namespace mq::proxy {

namespace v2 = ::apache::rocketmq::v2;

// The message types a topic with `attributes` accepts by its
// kTopicMessageTypeAttribute (common/validation.h), never
// MESSAGE_TYPE_UNSPECIFIED, in enum order.
std::vector<v2::MessageType> AcceptedMessageTypes(
    const google::protobuf::Map<std::string, std::string>& attributes);

// A v5 status.
v2::Status MakeStatus(v2::Code code, absl::string_view message = "");
inline v2::Status OkStatus() { return MakeStatus(v2::Code::OK, "OK"); }

// The v5 status of an error of our own API (its mq-response-code first, then
// its canonical code): busy -> TOO_MANY_REQUESTS, missing topic ->
// TOPIC_NOT_FOUND, no permission -> FORBIDDEN, bad message -> BAD_REQUEST,
// unreachable -> PROXY_TIMEOUT or INTERNAL_SERVER_ERROR ... OK -> OK.
v2::Status ToV5Status(const absl::Status& status);

// The v5 status of a stored message's SendStatus (SEND_OK -> OK, flush or
// slave timeouts -> *_PERSISTENCE_TIMEOUT, no slave -> HA_NOT_AVAILABLE).
v2::Status ToV5Status(broker::v1::SendStatus status);

// QueryRoute's queues of `route`: per broker group with a master, queue ids
// 0 .. max(read, write)-1, each READ, WRITE, READ_WRITE or NONE by the
// topic's perm and the queue counts, broker id 0, endpoints = `access_point`
// (the request's own, so every client comes back the way it came; its first
// address only: one address per broker), accepted types from the topic's
// attributes. Groups are in name order. Queue 0 is readable and writable
// whenever the topic is (the Node client only uses queue 0).
std::vector<v2::MessageQueue> RouteToMessageQueues(const v2::Resource& topic,
                                                   const common::v1::TopicRouteData& route,
                                                   const v2::Endpoints& access_point);

// A writable queue of a topic: where the proxy sends.
struct WritableQueue {
  std::string broker_name;
  std::string broker_address;
  int32_t queue_id = 0;
};

// The writable queues of `route` on brokers with a master, ordered by broker
// name then queue id (so a FIFO group's hash lands on the same queue on every
// proxy).
std::vector<WritableQueue> WritableQueues(const common::v1::TopicRouteData& route);

// The queue a FIFO message of `message_group` goes to among `count` queues:
// a stable hash, so a group stays in one queue while the queues do not change.
size_t QueueForMessageGroup(absl::string_view message_group, size_t count);

// What the server tells clients in its Settings replies.
struct ServerSettings {
  // Publishing.max_body_size (the brokers' max message size).
  int32_t max_body_size = 4 * 1024 * 1024;
  // Subscription.long_polling_timeout: how long a push consumer's receive
  // waits for messages.
  absl::Duration long_polling_timeout = absl::Seconds(20);
};

// Most messages one receive hands out (the broker's PopMessage limit), and
// the Subscription.receive_batch_size told to consumers.
inline constexpr int32_t kMaxReceiveBatchSize = 32;

// The settings the server owns, for the client's `settings` (echoed with
// these filled in). Every client gets backoff_policy: exponential in whole
// seconds (the Node client reads only the seconds); producers keep their own
// max_attempts (3 when unset) and get publishing.max_body_size with
// validate_message_type. Consumers get their group's (`group`; null: a group
// the broker does not know yet, so its defaults): max_attempts =
// retry_max_times + 1 (the delivery attempts before the dead-letter queue),
// subscription.fifo = consume_message_orderly, and receive_batch_size and
// long_polling_timeout. Always status OK.
v2::TelemetryCommand SettingsReply(const v2::Settings& settings, const ServerSettings& server,
                                   const broker::v1::SubscriptionGroupConfig* group = nullptr);

// Whether `type` consumes (Settings.subscription, consumer group).
bool IsConsumer(v2::ClientType type);

// The message type of a v5 message: its own system_properties.message_type,
// or derived from its properties when unspecified.
v2::MessageType MessageTypeOf(const v2::Message& message);

// Limits a send is checked against.
struct SendLimits {
  int64_t max_body_size = 0;
};

// The broker send of one v5 message, validated (an error's v5 code in
// `code`): MESSAGE_BODY_EMPTY, MESSAGE_BODY_TOO_LARGE, ILLEGAL_TOPIC,
// ILLEGAL_MESSAGE_ID, ILLEGAL_MESSAGE_TAG, ILLEGAL_MESSAGE_PROPERTY_KEY,
// ILLEGAL_MESSAGE_GROUP, ILLEGAL_DELIVERY_TIME (not a valid time; the
// store's horizon is the broker's to check),
// MESSAGE_PROPERTY_CONFLICT_WITH_TYPE. The client's message id is the
// UNIQ_KEY; tag, keys, message group (__SHARDINGKEY), delivery time
// (TIMER_DELIVER_MS) and the transaction flag (TRAN_MSG, producer group =
// the topic) become our properties. queue_id is left -1 for the caller.
struct TranslatedSend {
  v2::Code code = v2::Code::OK;
  std::string error;
  broker::v1::SendMessageRequest request;
  v2::MessageType type = v2::MessageType::NORMAL;
};
TranslatedSend TranslateSend(const v2::Message& message, const SendLimits& limits);

// The producer group our broker knows a v5 producer's transactions by: the
// topic, as RocketMQ 5's proxy does (v5 producers have no group).
std::string TransactionProducerGroup(absl::string_view topic);

// What a v5 producer quotes back in EndTransaction to end a half message:
// "<broker name>/<commit-log offset>/<queue offset>", so a stateless proxy
// knows where to send it.
struct TransactionHandle {
  std::string broker_name;
  int64_t commit_log_offset = 0;
  int64_t queue_offset = 0;
};
std::string EncodeTransactionId(const TransactionHandle& handle);
// INVALID_ARGUMENT for anything EncodeTransactionId did not make.
absl::StatusOr<TransactionHandle> DecodeTransactionId(absl::string_view id);

// Upper-case hex of the MD5 of `data` (a body_digest as clients check it).
std::string Md5Hex(absl::string_view data);

// A stored message as a v5 client sees it: topic, body (inflated when our
// C++ producer compressed it; with its MD5 digest), user properties, and the system properties the
// send carried (tag, keys, message group, delivery time, born and store host and time, queue id and
// offset), its message type from them (TRANSACTION while a half message, FIFO with a message group,
// DELAY with a delivery time, else NORMAL).
v2::Message ToV5Message(const common::v1::MessageExt& message);

// ---- Consumption (POP) ----

// The receipt handle a v5 client holds: "<broker name>:<the broker's
// handle>", so that Ack, ChangeInvisibleDuration and the dead-letter forward,
// which name only the topic, reach the broker group that handed the message
// out (broker names have no ':').
std::string EncodeReceiptHandle(absl::string_view broker_name, absl::string_view broker_handle);
struct ReceiptHandle {
  std::string broker_name;
  std::string broker_handle;
};
// INVALID_ARGUMENT for anything EncodeReceiptHandle did not make.
absl::StatusOr<ReceiptHandle> DecodeReceiptHandle(absl::string_view handle);

// The broker's range of invisible durations.
inline constexpr absl::Duration kMinInvisibleDuration = absl::Seconds(1);
inline constexpr absl::Duration kMaxInvisibleDuration = absl::Hours(12);

// A v5 invisible duration in milliseconds: below kMinInvisibleDuration
// raised to it (the Node push consumer passes its backoff seconds as
// milliseconds), negative, unset or beyond kMaxInvisibleDuration refused
// (INVALID_ARGUMENT, the message naming the range).
absl::StatusOr<int64_t> InvisibleMillis(const google::protobuf::Duration* duration);

// A delivered message: ToV5Message of what the broker popped (the topic it
// was sent to, even when redelivered through the retry topic), with its
// receipt handle (EncodeReceiptHandle with `broker_name`), delivery attempt
// and invisible duration (until its deadline, from `now`).
v2::Message ToV5Delivered(const broker::v1::PoppedMessage& popped, absl::string_view broker_name,
                          absl::Time now);

// What the server chooses for a receive.
struct ReceiveLimits {
  // The invisible duration of messages received with auto_renew (push
  // consumers), renewed until they are settled.
  absl::Duration auto_renew_invisible = absl::Seconds(30);
  // Kept free before the client's deadline for the answer to travel: the
  // long poll ends this long (at most; half the time left when less)
  // before it.
  absl::Duration deadline_reserve = absl::Seconds(1);
};

// The broker pop of a v5 receive, validated (an error's v5 code in `code`):
// ILLEGAL_CONSUMER_GROUP, ILLEGAL_TOPIC, BAD_REQUEST (no broker name, batch
// size below 1), ILLEGAL_FILTER_EXPRESSION (SQL92: tags only),
// ILLEGAL_INVISIBLE_TIME (InvisibleMillis; unless auto_renew, which takes
// limits.auto_renew_invisible), ILLEGAL_POLLING_TIME (negative). From any
// queue of the topic on the named broker (queue_id -1; the client's queue id
// is ignored, as RocketMQ's proxy does), at most kMaxReceiveBatchSize. The
// long poll ends before the client's deadline, `time_left` from now
// (InfiniteDuration: none): `backend_timeout` is the deadline for the
// broker's answer.
struct TranslatedReceive {
  v2::Code code = v2::Code::OK;
  std::string error;
  broker::v1::PopMessageRequest request;
  absl::Duration backend_timeout;
};
TranslatedReceive TranslateReceive(const v2::ReceiveMessageRequest& receive,
                                   absl::string_view client_id, absl::Duration time_left,
                                   absl::Duration call_timeout, const ReceiveLimits& limits);

// QueryAssignment's queues of `route`: one per broker group with a master
// and a readable queue, id -1 (the broker pops from all its queues of the
// topic; for a FIFO group it keeps each queue's order itself), READ or
// READ_WRITE, endpoints as RouteToMessageQueues.
std::vector<v2::Assignment> RouteToAssignments(const v2::Resource& topic,
                                               const common::v1::TopicRouteData& route,
                                               const v2::Endpoints& access_point);

// The master address of `broker_name` in `route`; empty when it has none.
std::string MasterAddress(const common::v1::TopicRouteData& route, absl::string_view broker_name);

}  // namespace mq::proxy

#endif  // MQ_SERVICES_PROXY_V5_TRANSLATION_H_
