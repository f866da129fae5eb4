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

// The settings the server owns, for the client's `settings` (echoed with
// these filled in): producers get backoff_policy (exponential, whole seconds)
// and publishing.max_body_size = `max_body_size` with
// validate_message_type; consumers a subscription batch size and an
// exponential backoff. Always status OK.
v2::TelemetryCommand SettingsReply(const v2::Settings& settings, int32_t max_body_size);

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

// A stored message as a v5 client sees it (in a transaction check-back):
// topic, body (with its MD5 digest), user properties, and the system
// properties the send carried.
v2::Message ToV5Message(const common::v1::MessageExt& message);

}  // namespace mq::proxy

#endif  // MQ_SERVICES_PROXY_V5_TRANSLATION_H_
