// The send pipeline (RocketMQ's SendMessageProcessor): validates a send,
// finds or auto-creates its topic, picks the queue, stamps hosts and times,
// runs the send hooks and hands the messages to the store as one AppendBatch,
// then maps the store's outcome to a SendStatus or an error.
//
// Errors carry a response code (common/status.h) for the client's retry rule:
//   INVALID_ARGUMENT   + MESSAGE_ILLEGAL        bad topic name, group, body,
//                                              properties, mixed batch topics
//   INVALID_ARGUMENT   + SYSTEM_ERROR           queue id outside the topic's
//                                              write queues (a stale route:
//                                              retrying elsewhere helps)
//   NOT_FOUND          + TOPIC_NOT_EXIST        topic missing, not creatable
//   PERMISSION_DENIED  + NO_PERMISSION          topic not writable
//   FAILED_PRECONDITION + SYSTEM_ERROR          request meant another broker
//   UNAVAILABLE        + SERVICE_NOT_AVAILABLE  broker is a slave; store
//                                              unreachable, full or stopping
//   RESOURCE_EXHAUSTED + SYSTEM_BUSY            store overloaded
//   INTERNAL           + SYSTEM_ERROR           any other store failure
//   NOT_FOUND + SUBSCRIPTION_GROUP_NOT_EXIST     a send to %RETRY%<group> of a
//                                              group this broker does not have
//
// A send to %RETRY%<group> (RocketMQ's handleRetryAndDLQ): the topic is
// created on demand with the group's retry queue count, and a message whose
// reconsume times reached its max (property MAX_RECONSUME_TIMES, else the
// group's retry max times) goes to %DLQ%<group> instead, without delay.
#ifndef MQ_SERVICES_BROKER_SEND_MESSAGE_PROCESSOR_H_
#define MQ_SERVICES_BROKER_SEND_MESSAGE_PROCESSOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/condition_log.h"
#include "common/format/record_format.h"
#include "proto/broker.pb.h"
#include "proto/store.pb.h"
#include "services/broker/send_hook.h"
#include "services/broker/subscription_group_manager.h"
#include "services/broker/topic_config_manager.h"
#include "services/broker/transaction_topics.h"
#include "services/store/store_api.h"

namespace mq::broker {

struct SendOptions {
  // This broker's group name; a request naming another group is refused.
  std::string broker_name;
  store::v1::BrokerRole role = store::v1::ASYNC_MASTER;
  // "a.b.c.d:port" recorded as each message's store host.
  std::string store_host;
  // Largest message body (and sum of a batch's bodies).
  int64_t max_message_size = format::kDefaultMaxMessageBodyBytes;
};

// Thread-safe. Send/SendBatch block for the store's append (and its flush or
// slave wait); SendAsync/SendBatchAsync block only where the store's
// AppendBatchAsync does (StoreApi::AppendsAreAsync). `store`, `topics`,
// `groups` and `hooks` must outlive the processor.
class SendMessageProcessor {
 public:
  // Turns the entry of a half message (property TRAN_MSG=true) into the
  // entry stored (TransactionService::ToHalf).
  using HalfMessagePreparer = std::function<absl::Status(store::v1::AppendEntry*)>;

  // Without `prepare_half` (a slave) half messages are refused with
  // NO_PERMISSION.
  SendMessageProcessor(store::StoreApi* store, TopicConfigManager* topics,
                       SubscriptionGroupManager* groups, BrokerSendHookRegistry* hooks,
                       SendOptions options, HalfMessagePreparer prepare_half = nullptr);

  SendMessageProcessor(const SendMessageProcessor&) = delete;
  SendMessageProcessor& operator=(const SendMessageProcessor&) = delete;

  template <typename Response>
  using Callback = std::function<void(absl::StatusOr<Response>)>;

  // `born_host` is the producer's "ip:port". `done` runs once, on any
  // thread, possibly before this returns. The message moves into the store's
  // entry: a caller that owns the request moves it in, and the body is not
  // copied.
  void SendAsync(broker::v1::SendMessageRequest request, absl::string_view born_host,
                 Callback<broker::v1::SendMessageResponse> done);
  absl::StatusOr<broker::v1::SendMessageResponse> Send(broker::v1::SendMessageRequest request,
                                                       absl::string_view born_host);

  // Single sends that arrived together (a coalesced stream frame), stored
  // with one store append of all the messages that pass validation and the
  // hooks: one lock, one group-commit wait, one slave wait. Each is answered
  // alone, in `requests`' order: a refused send fails alone and its
  // neighbours are stored. `done` runs once, on any thread, possibly before
  // this returns; it blocks only where SendAsync does.
  void SendEachAsync(
      std::vector<broker::v1::SendMessageRequest> requests, absl::string_view born_host,
      std::function<void(std::vector<absl::StatusOr<broker::v1::SendMessageResponse>>)> done);

  // All messages go to one queue, validated first: one bad message refuses
  // the whole batch.
  void SendBatchAsync(broker::v1::SendBatchRequest request, absl::string_view born_host,
                      Callback<broker::v1::SendBatchResponse> done);
  absl::StatusOr<broker::v1::SendBatchResponse> SendBatch(broker::v1::SendBatchRequest request,
                                                          absl::string_view born_host);

  // Stores a message the broker built itself (a consumer's send-back copy, a
  // resent dead letter) on a broker-chosen write queue of `config`'s topic:
  // the hooks, store append and status mapping of a send, without a
  // producer's checks or the %RETRY% rules. `entry` is complete but for its
  // queue id and store host. Blocks for the store.
  absl::StatusOr<broker::v1::SendMessageResponse> StoreCopy(store::v1::AppendEntry entry,
                                                            const common::v1::TopicConfig& config);
  // StoreCopy of each entry, appended together (one store call); an answer
  // per entry, in order.
  std::vector<absl::StatusOr<broker::v1::SendMessageResponse>> StoreCopies(
      std::vector<store::v1::AppendEntry> entries, const common::v1::TopicConfig& config);

 private:
  struct Target {
    common::v1::TopicConfig config;
    int32_t queue_id = 0;
  };
  struct Stored {
    broker::v1::SendStatus status = broker::v1::SEND_OK;
    std::vector<store::v1::AppendResult> results;
  };

  // A single send validated, its topic and queue resolved, its entry filled.
  struct PreparedSend {
    BrokerSendContext context;
    std::string unique_key;
    int32_t queue_id = 0;
    // The caller wants to wait for the store (property WAIT).
    bool wait_store_ok = true;
  };

  // The checks and bookkeeping of one single send; fills `entry` with the
  // message (moved out of `request`).
  absl::StatusOr<PreparedSend> PrepareSend(broker::v1::SendMessageRequest* request,
                                           absl::string_view born_host,
                                           store::v1::AppendEntry* entry);
  absl::Status CheckBroker(absl::string_view requested_broker_name,
                           absl::string_view producer_group) const;
  absl::Status CheckMessage(const common::v1::Message& message) const;
  // A half message (TRAN_MSG=true) goes to the half topic: rewrites `entry`.
  absl::Status PrepareTransaction(store::v1::AppendEntry* entry) const;
  // Validates a batch; returns the sum of its bodies' sizes.
  absl::StatusOr<int64_t> CheckBatch(const broker::v1::SendBatchRequest& request) const;
  // handleRetryAndDLQ for a send to %RETRY%<group>: creates the retry topic
  // when missing, and redirects `message` to %DLQ%<group> (no delay, any
  // queue) when `reconsume_times` reached its max.
  absl::Status ApplyRetryRules(int32_t reconsume_times, common::v1::Message* message,
                               int32_t* queue_id);
  absl::StatusOr<Target> ResolveTarget(absl::string_view topic, absl::string_view default_topic,
                                       int32_t default_topic_queue_nums, int32_t queue_id);
  // Fills the parts of an entry every message of a send shares; returns
  // whether the caller wants to wait for the store (property WAIT).
  bool FillEntry(common::v1::Message message, const Target& target, int32_t sys_flag,
                 int64_t born_timestamp_ms, int32_t reconsume_times, absl::string_view born_host,
                 store::v1::AppendEntry* entry) const;
  // Runs the hooks around the store call and maps the outcome.
  void Append(store::v1::AppendBatchRequest request, BrokerSendContext context,
              Callback<Stored> done);
  // The answer to a stored single message.
  broker::v1::SendMessageResponse ToSendResponse(const Stored& stored,
                                                 const std::string& unique_key,
                                                 int32_t queue_id) const;
  // Maps the store's answer to an append of `entries` messages.
  absl::StatusOr<Stored> MapStored(const absl::StatusOr<store::v1::AppendBatchResponse>& response,
                                   int entries, BrokerSendContext* context) const;

  store::StoreApi* const store_;
  TopicConfigManager* const topics_;
  SubscriptionGroupManager* const groups_;
  BrokerSendHookRegistry* const hooks_;
  const SendOptions options_;
  const HalfMessagePreparer prepare_half_;
  // Sends the store refused or failed (a full disk fails them all): logged
  // when that starts and when it clears, not once per send.
  mutable ConditionLog store_failures_{"sends to the store"};
  // Round robin over write queues when the client lets the broker choose.
  std::atomic<uint32_t> next_queue_{0};
};

// The SendStatus for a stored message's PutStatus, or the error (with its
// response code) for a PutStatus that means "not stored".
absl::StatusOr<broker::v1::SendStatus> MapPutStatus(const store::v1::AppendResult& result);

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_SEND_MESSAGE_PROCESSOR_H_
