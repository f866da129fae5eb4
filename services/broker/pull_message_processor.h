// The pull path (RocketMQ's PullMessageProcessor): checks the request, commits
// the offset it carries, reads the queue from the store filtered by tag hash,
// maps the store's status, and parks an empty pull in the hold service when
// the client asked for long polling.
//
// Status mapping (store GetStatus -> PullStatus), as RocketMQ's codes:
//   FOUND                                          -> FOUND
//   OFFSET_OVERFLOW_ONE, OFFSET_FOUND_NULL,
//   NO_MESSAGE_IN_QUEUE at offset 0                -> NO_NEW_MSG (held if suspend)
//   NO_MATCHED_MESSAGE, MESSAGE_WAS_REMOVING       -> NO_MATCHED_MSG (retry at once
//                                                     from next_begin_offset)
//   OFFSET_TOO_SMALL, OFFSET_OVERFLOW_BADLY,
//   NO_MESSAGE_IN_QUEUE at another offset          -> OFFSET_ILLEGAL
#ifndef MQ_SERVICES_BROKER_PULL_MESSAGE_PROCESSOR_H_
#define MQ_SERVICES_BROKER_PULL_MESSAGE_PROCESSOR_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/broker.pb.h"
#include "proto/store.pb.h"
#include "services/broker/broker_stats.h"
#include "services/broker/consumer_offset_manager.h"
#include "services/broker/pull_request_hold_service.h"
#include "services/broker/subscription_group_manager.h"
#include "services/broker/topic_config_manager.h"
#include "services/store/store_api.h"

namespace mq::broker {

inline constexpr int32_t kDefaultPullBatchSize = 32;
inline constexpr int32_t kMaxPullBatchSize = 1024;

// `percent` of this machine's physical memory (RocketMQ's
// accessMessageInMemoryMaxRatio is 40).
int64_t PhysicalMemoryPercent(int percent);

struct PullOptions {
  // How long an empty pull is held when the request does not say (15 s).
  absl::Duration default_suspend_timeout = absl::Seconds(15);
  // A held pull is answered at least this long before the client's deadline,
  // so the answer arrives before the client gives up.
  absl::Duration deadline_margin = absl::Milliseconds(500);
  // Store commit offsets carried by pulls (false on a slave: its offsets
  // follow the master's).
  bool commit_offsets = true;
  // A reader further behind the end of the commit log than this reads from
  // disk rather than memory: it is told to pull from the broker with id
  // `which_broker_when_consume_slowly` (a slave), and a reader within it to
  // pull from the master (RocketMQ: accessMessageInMemoryMaxRatio, 40 % of
  // physical memory; whichBrokerWhenConsumeSlowly, 1).
  int64_t max_in_memory_bytes = PhysicalMemoryPercent(40);
  int64_t which_broker_when_consume_slowly = 1;
  // Pulls of data within max_in_memory_bytes of the log's end run on the
  // gRPC thread that received them instead of a pull thread (when the store
  // can tell, ReadsFromMemory). false: every pull of an in-process store goes
  // to the pull threads, so no read that has to wait for the disk (data
  // evicted from the page cache, or not read since a restart) holds a gRPC
  // thread, at the cost of a thread hop per pull.
  bool read_recent_on_grpc_threads = true;
};

// The PullStatus for a store read of `request_offset`.
broker::v1::PullStatus MapGetStatus(store::v1::GetStatus status, int64_t request_offset);

// Thread-safe. Every pointer must outlive the processor.
class PullMessageProcessor {
 public:
  using Callback = std::function<void(absl::StatusOr<broker::v1::PullMessageResponse>)>;

  PullMessageProcessor(store::StoreApi* store, TopicConfigManager* topics,
                       const SubscriptionGroupManager* groups, ConsumerOffsetManager* offsets,
                       PullRequestHoldService* hold, BrokerStats* stats, PullOptions options);

  PullMessageProcessor(const PullMessageProcessor&) = delete;
  PullMessageProcessor& operator=(const PullMessageProcessor&) = delete;

  // Answers through `done`, exactly once: from the store read (on the store's
  // callback thread when its reads are asynchronous), or (suspend and nothing
  // new) from the hold service when a message arrives or the hold ends.
  // `client_deadline` caps the hold (absl::InfiniteFuture() when none).
  // Errors: INVALID_ARGUMENT for a bad group, queue id, offset, count or
  // subscription (SUBSCRIPTION_PARSE_FAILED); NOT_FOUND + TOPIC_NOT_EXIST;
  // PERMISSION_DENIED + NO_PERMISSION for an unreadable topic (a %DLQ% topic)
  // or a subscription group with consume disabled; the store's errors.
  void Pull(const broker::v1::PullMessageRequest& request, absl::Time client_deadline,
            Callback done);

  // True when read_recent_on_grpc_threads is on and the store can tell that
  // the read `request` asks for starts within max_in_memory_bytes of the
  // log's end (RocketMQ's in-memory measure): recent data, in the page cache,
  // which a thread that must not block may read. Reads no message.
  bool ReadsFromMemory(const broker::v1::PullMessageRequest& request) const;

  // One read of the queue without holding (what the hold service runs), for
  // a request Pull() checked: answers through `done`, exactly once (inline
  // for an in-process store, on the store's callback thread otherwise).
  void Execute(const broker::v1::PullMessageRequest& request, const std::vector<int64_t>& tag_codes,
               Callback done);

 private:
  // Validates and fills defaults; returns the tag codes of the subscription.
  absl::StatusOr<std::vector<int64_t>> Check(broker::v1::PullMessageRequest* request) const;
  // Answers a read's outcome, or parks the pull with the hold service when it
  // asked to wait and found nothing new.
  void AnswerOrHold(broker::v1::PullMessageRequest request, std::vector<int64_t> tag_codes,
                    absl::Time client_deadline,
                    absl::StatusOr<broker::v1::PullMessageResponse> response, Callback done);
  // The store read for a checked pull.
  static store::v1::GetMessagesRequest ReadRequest(const broker::v1::PullMessageRequest& request,
                                                   const std::vector<int64_t>& tag_codes);
  // The answer to `request`, from the store's; counts what it serves.
  absl::StatusOr<broker::v1::PullMessageResponse> ToPullResponse(
      const broker::v1::PullMessageRequest& request,
      absl::StatusOr<store::v1::GetMessagesResponse> got);

  store::StoreApi* const store_;
  TopicConfigManager* const topics_;
  const SubscriptionGroupManager* const groups_;
  ConsumerOffsetManager* const offsets_;
  PullRequestHoldService* const hold_;
  BrokerStats* const stats_;
  const PullOptions options_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_PULL_MESSAGE_PROCESSOR_H_
