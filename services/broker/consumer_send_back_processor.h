// The consumer send-back (RocketMQ's SendMessageProcessor.consumerSendMsgBack,
// Broker.ConsumerSendBack): a consumer hands back a message it failed to
// consume, and the broker stores a copy to be consumed again later.
//
// The copy keeps the body, flag, sys flag, properties, born time and host of
// the stored message, and its msgId (UNIQ_KEY); it gets RETRY_TOPIC (the topic
// first consumed from, when not already set), ORIGIN_MESSAGE_ID (the first
// copy's source) and reconsume times + 1, without the properties of the
// original's own delivery (ClearDeliveryProperties). It goes to:
//  - %DLQ%<group> (one queue, write only), without delay, when the request's
//    delay level is < 0 or the message was consumed max times already (the
//    request's max, or the group's retry max times when it is -1);
//  - %RETRY%<group> (the group's retry queue count, read-write) otherwise,
//    with DELAY = the request's level, or 3 + reconsume times when it is 0
//    (RocketMQ: 10 s, 30 s, 1 m, 2 m, ... 2 h for attempts 1..16), at most
//    the store's level count.
// Both topics are created on demand.
//
// Errors (nothing is stored):
//   UNAVAILABLE + SERVICE_NOT_AVAILABLE          the broker is a slave
//   FAILED_PRECONDITION + SYSTEM_ERROR           the request names another broker
//   INVALID_ARGUMENT                             bad group, offset, max, or a
//                                                msgId that is not the one at
//                                                the offset
//   NOT_FOUND + SUBSCRIPTION_GROUP_NOT_EXIST     unknown group
//   NOT_FOUND                                    no message at the offset
//   the store's errors, as a send's
#ifndef MQ_SERVICES_BROKER_CONSUMER_SEND_BACK_PROCESSOR_H_
#define MQ_SERVICES_BROKER_CONSUMER_SEND_BACK_PROCESSOR_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/map.h"
#include "proto/broker.pb.h"
#include "proto/store.pb.h"
#include "services/broker/send_message_processor.h"
#include "services/broker/subscription_group_manager.h"
#include "services/broker/topic_config_manager.h"
#include "services/store/store_api.h"

namespace mq::broker {

// RocketMQ's first retry of a message waits for level 3 (10 s).
inline constexpr int32_t kFirstRetryDelayLevel = 3;
// RocketMQ's messageDelayLevel has 18 levels.
inline constexpr int32_t kDefaultDelayLevelCount = 18;

struct SendBackOptions {
  // This broker's group name; a request naming another group is refused.
  std::string broker_name;
  store::v1::BrokerRole role = store::v1::ASYNC_MASTER;
  // Levels of the store's delay table (--message_delay_level of the store);
  // a retry's level is clamped to it.
  int32_t delay_level_count = kDefaultDelayLevelCount;
};

// Removes the properties that steered the stored message's own delivery
// (a deliver time, the store's schedule bookkeeping, REAL_TOPIC/REAL_QID, the
// transaction flag) and must not steer a copy of it.
void ClearDeliveryProperties(google::protobuf::Map<std::string, std::string>* properties);

// The delay level of a retry copy: `requested` when > 0, else 3 + the
// message's reconsume times; at most `level_count`.
int32_t RetryDelayLevel(int32_t requested, int32_t reconsume_times, int32_t level_count);

// Thread-safe. Every pointer must outlive the processor. Blocks for the store.
class ConsumerSendBackProcessor {
 public:
  ConsumerSendBackProcessor(store::StoreApi* store, TopicConfigManager* topics,
                            SubscriptionGroupManager* groups, SendMessageProcessor* send,
                            SendBackOptions options);

  ConsumerSendBackProcessor(const ConsumerSendBackProcessor&) = delete;
  ConsumerSendBackProcessor& operator=(const ConsumerSendBackProcessor&) = delete;

  absl::StatusOr<broker::v1::ConsumerSendBackResponse> SendBack(
      const broker::v1::ConsumerSendBackRequest& request);

  // POP's redelivery (RocketMQ's PopReviveService): the same copy as
  // SendBack, of the message at `commit_log_offset` for `group`, but a retry
  // copy is visible at once (no DELAY: the message's invisible time was its
  // wait). To the DLQ when `dead_letter` or after the group's retry max times.
  absl::StatusOr<broker::v1::ConsumerSendBackResponse> Redeliver(const std::string& group,
                                                                 int64_t commit_log_offset,
                                                                 bool dead_letter);
  struct Redelivery {
    int64_t commit_log_offset = 0;
    bool dead_letter = false;
    // The message at commit_log_offset when the caller has read it already
    // (else it is read here).
    absl::optional<common::v1::MessageExt> stored;
  };
  // Redeliver of each of `messages`, the copies to one topic stored with one
  // append; a result per message, in order.
  std::vector<absl::StatusOr<broker::v1::ConsumerSendBackResponse>> RedeliverAll(
      const std::string& group, std::vector<Redelivery> messages);

 private:
  // A copy read and built, not yet stored.
  struct PreparedCopy {
    store::v1::AppendEntry entry;
    common::v1::TopicConfig target;
    bool dead = false;
    std::string group;
    // Of the message copied.
    int32_t reconsume_times = 0;
  };

  absl::Status Check(const broker::v1::ConsumerSendBackRequest& request) const;
  // SendBack, with the retry copy's DELAY left out when `immediate`.
  absl::StatusOr<broker::v1::ConsumerSendBackResponse> Copy(
      const broker::v1::ConsumerSendBackRequest& request, bool immediate);
  // Copy up to the store append; `stored`: the message at the request's
  // commit-log offset, if read already (it is used up).
  absl::StatusOr<PreparedCopy> Prepare(const broker::v1::ConsumerSendBackRequest& request,
                                       bool immediate, common::v1::MessageExt* stored);
  // Copy's answer once `copy` was stored as `sent`.
  static absl::StatusOr<broker::v1::ConsumerSendBackResponse> Finish(
      const PreparedCopy& copy, const absl::StatusOr<broker::v1::SendMessageResponse>& sent);

  store::StoreApi* const store_;
  TopicConfigManager* const topics_;
  SubscriptionGroupManager* const groups_;
  SendMessageProcessor* const send_;
  const SendBackOptions options_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_CONSUMER_SEND_BACK_PROCESSOR_H_
