#include "services/broker/pull_message_processor.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "common/units.h"
#include "common/validation.h"
#include "services/broker/broker_errors.h"
#include "services/broker/subscription_filter.h"

namespace mq::broker {

broker::v1::PullStatus MapGetStatus(store::v1::GetStatus status, int64_t request_offset) {
  switch (status) {
    case store::v1::FOUND:
      return broker::v1::FOUND;
    case store::v1::NO_MATCHED_MESSAGE:
    case store::v1::MESSAGE_WAS_REMOVING:
      return broker::v1::NO_MATCHED_MSG;
    case store::v1::OFFSET_TOO_SMALL:
    case store::v1::OFFSET_OVERFLOW_BADLY:
      return broker::v1::OFFSET_ILLEGAL;
    case store::v1::NO_MESSAGE_IN_QUEUE:
      // An empty queue read from its start is simply empty; from elsewhere the
      // consumer's offset is wrong (RocketMQ answers PULL_OFFSET_MOVED).
      return request_offset == 0 ? broker::v1::NO_NEW_MSG : broker::v1::OFFSET_ILLEGAL;
    case store::v1::OFFSET_OVERFLOW_ONE:
    case store::v1::OFFSET_FOUND_NULL:
    default:
      return broker::v1::NO_NEW_MSG;
  }
}

int64_t PhysicalMemoryPercent(int percent) {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  // Unknown memory: assume 4 GiB.
  int64_t memory = pages > 0 && page_size > 0 ? static_cast<int64_t>(pages) * page_size : 4_GiB;
  return memory / 100 * percent;
}

PullMessageProcessor::PullMessageProcessor(store::StoreApi* store, TopicConfigManager* topics,
                                           const SubscriptionGroupManager* groups,
                                           ConsumerOffsetManager* offsets,
                                           PullRequestHoldService* hold, BrokerStats* stats,
                                           PullOptions options)
    : store_(store),
      topics_(topics),
      groups_(groups),
      offsets_(offsets),
      hold_(hold),
      stats_(stats),
      options_(options) {}

absl::StatusOr<std::vector<int64_t>> PullMessageProcessor::Check(
    broker::v1::PullMessageRequest* request) const {
  absl::Status status = ValidateGroup(request->consumer_group());
  if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat("consumer ", status.message()));
  // A group unknown here may pull (a pull consumer sends no heartbeat); one an
  // admin disabled may not (RocketMQ's isConsumeEnable check).
  absl::optional<broker::v1::SubscriptionGroupConfig> group =
      groups_->Find(request->consumer_group());
  if (group.has_value() && !group->consume_enable()) {
    return NoPermission(absl::StrCat("subscription group ", request->consumer_group(),
                                     " does not allow consume (consume_enable is false)"));
  }
  absl::StatusOr<common::v1::TopicConfig> config = topics_->FindExisting(request->topic());
  if (!config.ok()) return config.status();
  if (!HasPerm(config->perm(), common::v1::PERM_READ)) {
    return NoPermission(absl::StrCat("the topic[", request->topic(),
                                     "] pulling message is forbidden (perm ", config->perm(), ")"));
  }
  if (absl::Status s = CheckReadQueueId(*config, request->queue_id()); !s.ok()) return s;
  if (request->queue_offset() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue offset ", request->queue_offset(), " is negative"));
  }
  if (request->max_msg_nums() == 0) request->set_max_msg_nums(kDefaultPullBatchSize);
  if (request->max_msg_nums() < 0 || request->max_msg_nums() > kMaxPullBatchSize) {
    return absl::InvalidArgumentError(absl::StrFormat("max_msg_nums is %d, must be in 1..%d",
                                                      request->max_msg_nums(), kMaxPullBatchSize));
  }
  return ParseSubscription(request->subscription());
}

bool PullMessageProcessor::ReadsFromMemory(const broker::v1::PullMessageRequest& request) const {
  if (!options_.read_recent_on_grpc_threads) return false;
  absl::optional<int64_t> behind =
      store_->ReadBehindBytes(request.topic(), request.queue_id(), request.queue_offset());
  return behind.has_value() && *behind <= options_.max_in_memory_bytes;
}

void PullMessageProcessor::Pull(const broker::v1::PullMessageRequest& original,
                                absl::Time client_deadline, Callback done) {
  broker::v1::PullMessageRequest request = original;
  absl::StatusOr<std::vector<int64_t>> tag_codes = Check(&request);
  if (!tag_codes.ok()) {
    done(tag_codes.status());
    return;
  }
  if (options_.commit_offsets && request.commit_offset() >= 0) {
    offsets_->Commit(request.consumer_group(), request.topic(), request.queue_id(),
                     request.commit_offset());
  }
  store::v1::GetMessagesRequest read = ReadRequest(request, *tag_codes);
  store_->GetMessagesAsync(
      std::move(read),
      [this, request = std::move(request), tag_codes = *std::move(tag_codes), client_deadline,
       done = std::move(done)](absl::StatusOr<store::v1::GetMessagesResponse> got) mutable {
        absl::StatusOr<broker::v1::PullMessageResponse> response =
            ToPullResponse(request, std::move(got));
        AnswerOrHold(std::move(request), std::move(tag_codes), client_deadline, std::move(response),
                     std::move(done));
      });
}

void PullMessageProcessor::AnswerOrHold(broker::v1::PullMessageRequest request,
                                        std::vector<int64_t> tag_codes, absl::Time client_deadline,
                                        absl::StatusOr<broker::v1::PullMessageResponse> response,
                                        Callback done) {
  if (!response.ok() || response->status() != broker::v1::NO_NEW_MSG || !request.suspend()) {
    done(std::move(response));
    return;
  }
  absl::Duration suspend = request.suspend_timeout_ms() > 0
                               ? absl::Milliseconds(request.suspend_timeout_ms())
                               : options_.default_suspend_timeout;
  absl::Time now = absl::Now();
  absl::Time hold_until = std::min(now + suspend, client_deadline - options_.deadline_margin);
  if (hold_until <= now) {
    done(std::move(response));
    return;
  }
  // The hold service answers from now on; if it is stopped, answer here.
  auto shared_done = std::make_shared<Callback>(std::move(done));
  if (!hold_->Hold(std::move(request), std::move(tag_codes), hold_until,
                   [shared_done](absl::StatusOr<broker::v1::PullMessageResponse> result) {
                     (*shared_done)(std::move(result));
                   })) {
    (*shared_done)(std::move(response));
  }
}

void PullMessageProcessor::Execute(const broker::v1::PullMessageRequest& request,
                                   const std::vector<int64_t>& tag_codes, Callback done) {
  store_->GetMessagesAsync(
      ReadRequest(request, tag_codes),
      [this, request, done = std::move(done)](absl::StatusOr<store::v1::GetMessagesResponse> got) {
        done(ToPullResponse(request, std::move(got)));
      });
}

store::v1::GetMessagesRequest PullMessageProcessor::ReadRequest(
    const broker::v1::PullMessageRequest& request, const std::vector<int64_t>& tag_codes) {
  store::v1::GetMessagesRequest get;
  get.set_topic(request.topic());
  get.set_queue_id(request.queue_id());
  get.set_offset(request.queue_offset());
  get.set_max_count(request.max_msg_nums() > 0 ? request.max_msg_nums() : kDefaultPullBatchSize);
  for (int64_t code : tag_codes) get.add_tag_codes(code);
  get.set_stored_records(request.stored_records());
  return get;
}

absl::StatusOr<broker::v1::PullMessageResponse> PullMessageProcessor::ToPullResponse(
    const broker::v1::PullMessageRequest& request,
    absl::StatusOr<store::v1::GetMessagesResponse> got) {
  const int64_t request_offset = request.queue_offset();
  if (!got.ok()) return StoreCallError("store read failed", got.status());
  broker::v1::PullMessageResponse response;
  response.set_status(MapGetStatus(got->status(), request_offset));
  response.set_next_begin_offset(got->next_begin_offset());
  response.set_min_offset(got->min_offset());
  response.set_max_offset(got->max_offset());
  // Where the next pull should go: a reader far behind is served by a slave,
  // so it does not evict the master's page cache; one that caught up, by the
  // master. The client falls back to the master when no such slave exists.
  bool behind =
      got->status() == store::v1::FOUND && got->behind_bytes() > options_.max_in_memory_bytes;
  response.set_suggest_which_broker_id(behind ? options_.which_broker_when_consume_slowly : 0);
  response.mutable_corrupt_offsets()->Swap(got->mutable_corrupt_offsets());
  if (response.status() == broker::v1::FOUND) {
    response.mutable_messages()->Swap(got->mutable_messages());
    response.mutable_records()->swap(*got->mutable_records());
    stats_->AddGets(got->message_count());
    if (BrokerMetrics* metrics = stats_->metrics(); metrics != nullptr) {
      int64_t bytes = static_cast<int64_t>(response.records().size());
      for (const common::v1::MessageExt& message : response.messages()) {
        bytes += static_cast<int64_t>(message.body().size());
      }
      metrics->RecordPull(request.topic(), request.consumer_group(), got->message_count(), bytes);
    }
  }
  return response;
}

}  // namespace mq::broker
