// A consumer group's dead letters (%DLQ%<group>, which no consumer can pull:
// the topic is write only): list them, and resend them to the topic they were
// consumed from (RETRY_TOPIC, else REAL_TOPIC) with their reconsume count
// reset, so the group (and every other group of that topic) consumes them
// again. A resent dead letter stays in the DLQ (a queue is a log); the copy
// keeps its msgId.
#ifndef MQ_SERVICES_BROKER_DEAD_LETTER_PROCESSOR_H_
#define MQ_SERVICES_BROKER_DEAD_LETTER_PROCESSOR_H_

#include <vector>

#include "absl/status/statusor.h"
#include "proto/broker.pb.h"
#include "services/broker/send_message_processor.h"
#include "services/broker/topic_config_manager.h"
#include "services/store/store_api.h"

namespace mq::broker {

// Thread-safe. Every pointer must outlive the processor. Blocks for the store.
class DeadLetterProcessor {
 public:
  DeadLetterProcessor(store::StoreApi* store, TopicConfigManager* topics,
                      SendMessageProcessor* send);

  DeadLetterProcessor(const DeadLetterProcessor&) = delete;
  DeadLetterProcessor& operator=(const DeadLetterProcessor&) = delete;

  // Up to max_num dead letters from `offset` (an offset below the oldest kept
  // starts at the oldest). INVALID_ARGUMENT for a bad group, offset or count;
  // NOT_FOUND + TOPIC_NOT_EXIST when the group has no DLQ here.
  absl::StatusOr<broker::v1::ListDeadLettersResponse> List(
      const broker::v1::ListDeadLettersRequest& request);

  // Resends one dead letter (msg_id) or all of them. Every copy is checked
  // before the first is stored: INVALID_ARGUMENT for a bad group, NOT_FOUND
  // for an unknown msgId or a group without a DLQ, NOT_FOUND +
  // TOPIC_NOT_EXIST or PERMISSION_DENIED when an original topic is gone or
  // not writable; nothing is stored then. FAILED_PRECONDITION on a slave.
  absl::StatusOr<broker::v1::ResendDeadLettersResponse> Resend(
      const broker::v1::ResendDeadLettersRequest& request, bool slave);

 private:
  // Every dead letter of the group, in queue order.
  absl::StatusOr<std::vector<common::v1::MessageExt>> ReadAll(const std::string& dlq_topic);

  store::StoreApi* const store_;
  TopicConfigManager* const topics_;
  SendMessageProcessor* const send_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_DEAD_LETTER_PROCESSOR_H_
