#include "services/broker/pop_service.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/blocking_counter.h"
#include "common/format/property_keys.h"
#include "common/format/record_format.h"
#include "common/retry_topics.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/broker/broker_errors.h"
#include "services/broker/send_message_processor.h"
#include "services/broker/subscription_filter.h"
#include "services/broker/transaction_topics.h"

namespace mq::broker {

PopService::PopService(store::StoreApi* store, TopicConfigManager* topics,
                       SubscriptionGroupManager* groups, ConsumerOffsetManager* offsets,
                       ConsumerSendBackProcessor* send_back, const Clock* clock, Runner runner,
                       PopOptions options)
    : store_(store),
      topics_(topics),
      groups_(groups),
      offsets_(offsets),
      send_back_(send_back),
      clock_(clock),
      runner_(std::move(runner)),
      options_(std::move(options)),
      log_writer_(
          [this](const std::vector<internal::PopLogRecord>& records) { return AppendLog(records); },
          runner_, kMaxLogBatchBytes),
      // Handles issued before a restart never name a delivery after it.
      next_delivery_id_(std::max<int64_t>(1, absl::ToUnixMicros(clock->Now()))) {}

PopService::~PopService() { Stop(); }

void PopService::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void PopService::Stop() {
  std::map<int64_t, HeldPop> held;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    held.swap(held_);
    wake_.Signal();
  }
  if (thread_.joinable()) thread_.join();
  for (auto& [id, pop] : held) pop.done(broker::v1::PopMessageResponse());
  // The next start replays from here.
  MaybeCheckpoint(/*now_anyway=*/true);
  log_writer_.Drain();
}

void PopService::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Time next = clock_->Now() + absl::Seconds(1);
    if (!deadlines_.empty()) next = std::min(next, deadlines_.begin()->first);
    for (const auto& [id, pop] : held_) next = std::min(next, pop.pop.hold_until);
    const absl::Duration wait = next - clock_->Now();
    if (wait > absl::ZeroDuration()) {
      wake_.WaitWithTimeout(&mu_, wait);
      continue;
    }
    mu_.Unlock();
    ReviveDue();
    EndExpiredPolls();
    MaybeCheckpoint(/*now_anyway=*/false);
    mu_.Lock();
  }
}

absl::Status PopService::CheckCommon(absl::string_view group, absl::string_view topic) const {
  if (options_.slave) {
    return ServiceNotAvailable(absl::StrCat(
        "broker ", options_.broker_name, " is a slave: POP consumption is served by its master"));
  }
  if (absl::Status status = ValidateGroup(group); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("consumer ", status.message()));
  }
  return ValidateTopic(topic);
}

absl::StatusOr<absl::Duration> PopService::CheckInvisibleTime(int64_t ms) const {
  const absl::Duration time = absl::Milliseconds(ms);
  if (ms < 0 || time > kMaxInvisibleTime) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "invisible_time_ms is %d, must be in 0..%d (shorter than %d is raised to %d)", ms,
        absl::ToInt64Milliseconds(kMaxInvisibleTime), absl::ToInt64Milliseconds(kMinInvisibleTime),
        absl::ToInt64Milliseconds(kMinInvisibleTime)));
  }
  return std::max(time, kMinInvisibleTime);
}

absl::StatusOr<PopService::Prepared> PopService::Check(const broker::v1::PopMessageRequest& request,
                                                       absl::Time client_deadline) {
  if (absl::Status status = CheckCommon(request.consumer_group(), request.topic()); !status.ok()) {
    return status;
  }
  if (!request.broker_name().empty() && request.broker_name() != options_.broker_name) {
    return WithResponseCode(absl::FailedPreconditionError(absl::StrCat(
                                "the pop is for broker ", QuoteInput(request.broker_name()),
                                ", this is broker ", options_.broker_name)),
                            common::v1::SYSTEM_ERROR);
  }
  Prepared pop;
  pop.request = request;
  if (pop.request.max_msg_nums() == 0) pop.request.set_max_msg_nums(kDefaultPopBatchSize);
  if (pop.request.max_msg_nums() < 0 || pop.request.max_msg_nums() > kMaxPopBatchSize) {
    return absl::InvalidArgumentError(absl::StrFormat("max_msg_nums is %d, must be in 1..%d",
                                                      request.max_msg_nums(), kMaxPopBatchSize));
  }
  absl::StatusOr<absl::Duration> invisible = CheckInvisibleTime(request.invisible_time_ms());
  if (!invisible.ok()) return invisible.status();
  pop.request.set_invisible_time_ms(absl::ToInt64Milliseconds(*invisible));
  if (request.poll_timeout_ms() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("poll_timeout_ms is ", request.poll_timeout_ms(), ", must be >= 0"));
  }
  absl::StatusOr<std::vector<int64_t>> tag_codes = ParseSubscription(request.subscription());
  if (!tag_codes.ok()) return tag_codes.status();
  pop.tag_codes = *std::move(tag_codes);

  absl::StatusOr<common::v1::TopicConfig> config = topics_->FindExisting(request.topic());
  if (!config.ok()) return config.status();
  if (!HasPerm(config->perm(), common::v1::PERM_READ)) {
    return NoPermission(absl::StrCat("the topic[", request.topic(),
                                     "] popping message is forbidden (perm ", config->perm(), ")"));
  }
  if (request.queue_id() != -1) {
    if (absl::Status status = CheckReadQueueId(*config, request.queue_id()); !status.ok()) {
      return status;
    }
  }
  const std::string& group = request.consumer_group();
  if (!ConsumerGroupReady(*groups_, *topics_, group)) {
    if (absl::Status status = PrepareConsumerGroup(groups_, topics_, group); !status.ok()) {
      return status;
    }
  }
  absl::optional<broker::v1::SubscriptionGroupConfig> group_config = groups_->Find(group);
  if (!group_config.has_value()) return SubscriptionGroupNotExist(group);
  if (!group_config->consume_enable()) {
    return NoPermission(absl::StrCat("subscription group ", group,
                                     " does not allow consume (consume_enable is false)"));
  }

  pop.orderly = group_config->consume_message_orderly();
  if (request.queue_id() != -1) {
    pop.queues.emplace_back(request.topic(), request.queue_id());
  } else {
    for (int32_t id = 0; id < config->read_queue_nums(); ++id) {
      pop.queues.emplace_back(request.topic(), id);
    }
    absl::StatusOr<common::v1::TopicConfig> retry = topics_->FindExisting(RetryTopic(group));
    if (retry.ok()) {
      for (int32_t id = 0; id < retry->read_queue_nums(); ++id) {
        pop.queues.emplace_back(retry->topic_name(), id);
      }
    }
    uint32_t start;
    {
      absl::MutexLock lock(&mu_);
      start = rotation_[{group, request.topic()}]++;
    }
    if (!pop.queues.empty()) {
      std::rotate(pop.queues.begin(), pop.queues.begin() + start % pop.queues.size(),
                  pop.queues.end());
    }
  }
  const absl::Time now = clock_->Now();
  pop.hold_until = std::min(now + absl::Milliseconds(request.poll_timeout_ms()),
                            client_deadline - options_.deadline_margin);
  return pop;
}

void PopService::Pop(const broker::v1::PopMessageRequest& request, absl::Time client_deadline,
                     PopCallback done) {
  absl::StatusOr<Prepared> pop = Check(request, client_deadline);
  if (!pop.ok()) {
    done(pop.status());
    return;
  }
  Attempt(*std::move(pop), std::move(done));
}

int64_t PopService::AdvancesLocked(const Prepared& pop) {
  int64_t sum = 0;
  std::set<std::string> seen;
  for (const auto& [topic, queue_id] : pop.queues) {
    if (seen.insert(topic).second) sum += topic_advances_[topic];
  }
  return sum;
}

void PopService::Attempt(Prepared pop, PopCallback done) {
  while (true) {
    int64_t before;
    {
      absl::MutexLock lock(&mu_);
      before = AdvancesLocked(pop);
    }
    absl::StatusOr<broker::v1::PopMessageResponse> response = PopOnce(pop);
    if (!response.ok() || response->messages_size() > 0 || clock_->Now() >= pop.hold_until) {
      done(std::move(response));
      return;
    }
    mu_.Lock();
    if (stopping_) {
      mu_.Unlock();
      done(std::move(response));
      return;
    }
    // A message that arrived during the read would not wake a pop parked
    // after it: read again.
    if (AdvancesLocked(pop) != before) {
      mu_.Unlock();
      continue;
    }
    held_.emplace(next_hold_id_++, HeldPop{std::move(pop), std::move(done)});
    wake_.Signal();
    mu_.Unlock();
    return;
  }
}

void PopService::NotifyMessageArriving(const store::v1::QueueAdvance& advance) {
  std::vector<HeldPop> woken;
  {
    absl::MutexLock lock(&mu_);
    ++topic_advances_[advance.topic()];
    for (auto it = held_.begin(); it != held_.end();) {
      bool match = false;
      for (const auto& [topic, queue_id] : it->second.pop.queues) {
        match = match || (topic == advance.topic() && queue_id == advance.queue_id());
      }
      if (!match) {
        ++it;
        continue;
      }
      woken.push_back(std::move(it->second));
      it = held_.erase(it);
    }
  }
  for (HeldPop& held : woken) {
    Retry(std::move(held));
  }
}

void PopService::Retry(HeldPop held) {
  auto shared = std::make_shared<HeldPop>(std::move(held));
  runner_([this, shared] { Attempt(std::move(shared->pop), std::move(shared->done)); },
          [shared] { shared->done(broker::v1::PopMessageResponse()); });
}

void PopService::WakeFifo(const std::vector<std::pair<std::string, int32_t>>& queues) {
  for (const auto& [topic, queue_id] : queues) {
    store::v1::QueueAdvance advance;
    advance.set_topic(topic);
    advance.set_queue_id(queue_id);
    NotifyMessageArriving(advance);
  }
}

void PopService::EndExpiredPolls() {
  std::vector<HeldPop> expired;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (auto it = held_.begin(); it != held_.end();) {
      if (it->second.pop.hold_until > now) {
        ++it;
        continue;
      }
      expired.push_back(std::move(it->second));
      it = held_.erase(it);
    }
  }
  for (HeldPop& held : expired) {
    // One last read: it answers, as the hold has ended.
    Retry(std::move(held));
  }
}

absl::StatusOr<broker::v1::PopMessageResponse> PopService::PopOnce(const Prepared& pop) {
  broker::v1::PopMessageResponse response;
  internal::PopLogRecord log;
  absl::Status failed;
  for (const auto& [topic, queue_id] : pop.queues) {
    const int remaining = pop.request.max_msg_nums() - response.messages_size();
    if (remaining <= 0) break;
    failed = PopQueue(pop, topic, queue_id, remaining, &response, &log);
    // What was handed out already is answered; the error is not lost if the
    // queue fails again on the next pop.
    if (!failed.ok()) break;
  }
  // Not waited for: unlogged, the messages are still delivered again after a
  // crash (their queue resumes below them), only sooner.
  if (log.ops_size() > 0) log_writer_.Queue(std::move(log));
  if (!failed.ok() && response.messages_size() == 0) return failed;
  return response;
}

absl::Status PopService::AppendLog(const std::vector<internal::PopLogRecord>& records) {
  store::v1::AppendBatchRequest append;
  append.set_wait_store_ok(true);
  const int64_t now_ms = absl::ToUnixMillis(clock_->Now());
  for (const internal::PopLogRecord& record : records) {
    store::v1::AppendEntry* entry = append.add_entries();
    common::v1::Message* message = entry->mutable_message();
    message->set_topic(std::string(kPopLogTopic));
    message->set_body(record.SerializeAsString());
    entry->set_queue_id(0);
    entry->set_born_timestamp_ms(now_ms);
    entry->set_born_host(options_.store_host);
    entry->set_store_host(options_.store_host);
  }
  absl::StatusOr<store::v1::AppendBatchResponse> appended = store_->AppendBatch(append);
  if (!appended.ok()) return StoreCallError("cannot append to the POP log", appended.status());
  if (appended->results_size() != append.entries_size()) {
    return absl::InternalError(
        absl::StrFormat("the store answered %d results for %d POP log records",
                        appended->results_size(), append.entries_size()));
  }
  for (const store::v1::AppendResult& result : appended->results()) {
    absl::StatusOr<broker::v1::SendStatus> status = MapPutStatus(result);
    if (!status.ok()) return PrefixStatus("cannot append to the POP log: ", status.status());
  }
  return absl::OkStatus();
}

internal::PopLogOp PopService::LogOp(const Queue& queue, int64_t offset, const InFlight* entry,
                                     int64_t next_offset) {
  internal::PopLogOp op;
  op.set_group(queue.group);
  op.set_topic(queue.topic);
  op.set_queue_id(queue.queue_id);
  op.set_queue_offset(offset);
  op.set_settled(entry == nullptr);
  if (entry != nullptr) {
    op.set_delivery_id(entry->delivery_id);
    op.set_deadline_ms(absl::ToUnixMillis(entry->deadline));
    op.set_commit_log_offset(entry->commit_log_offset);
    op.set_next_offset(next_offset);
    op.set_attempt(entry->attempt);
  }
  return op;
}

void PopService::MaybeCheckpoint(bool now_anyway) {
  if (options_.slave) return;
  {
    absl::MutexLock lock(&checkpoint_mu_);
    if (log_writer_.handed_over() == handed_over_at_checkpoint_) return;
    if (!now_anyway && clock_->Now() - last_checkpoint_ < options_.checkpoint_interval) return;
  }
  Checkpoint();
}

void PopService::Checkpoint() {
  absl::MutexLock checkpoint_lock(&checkpoint_mu_);
  constexpr int kMaxOpsPerPiece = 1024;
  std::vector<internal::PopLogRecord> pieces(1);
  auto add = [&pieces]() -> internal::PopLogOp* {
    if (pieces.back().ops_size() >= kMaxOpsPerPiece) pieces.emplace_back();
    return pieces.back().add_ops();
  };
  absl::MutexLock lock(&mu_);
  for (const auto& [key, queue] : queues_) {
    if (!queue->loaded) continue;
    for (const auto& [offset, entry] : queue->in_flight) {
      *add() = LogOp(*queue, offset, &entry, queue->next_offset);
    }
    if (queue->in_flight.empty() && queue->next_offset > 0) {
      *add() = LogOp(*queue, queue->next_offset - 1, nullptr, queue->next_offset);
    }
  }
  checkpoint_id_ = std::max(checkpoint_id_ + 1, absl::ToUnixMicros(clock_->Now()));
  for (size_t i = 0; i < pieces.size(); ++i) {
    pieces[i].set_checkpoint_id(checkpoint_id_);
    pieces[i].set_checkpoint_piece(static_cast<int32_t>(i));
    pieces[i].set_checkpoint_pieces(static_cast<int32_t>(pieces.size()));
  }
  // Under mu_: a change made after this snapshot logs its record after it.
  log_writer_.QueueAll(std::move(pieces));
  handed_over_at_checkpoint_ = log_writer_.handed_over();
  last_checkpoint_ = clock_->Now();
}

absl::StatusOr<int64_t> PopService::ReplayStart(int64_t min, int64_t max) {
  // Backwards, a window at a time, to the last piece of a checkpoint whose
  // first piece is still kept.
  constexpr int64_t kWindow = 256;
  for (int64_t end = max; end > min;) {
    const int64_t begin = std::max(min, end - kWindow);
    std::vector<internal::PopLogRecord> window;
    std::vector<int64_t> offsets;
    for (int64_t offset = begin; offset < end;) {
      store::v1::GetMessagesRequest get;
      get.set_topic(std::string(kPopLogTopic));
      get.set_queue_id(0);
      get.set_offset(offset);
      get.set_max_count(static_cast<int32_t>(end - offset));
      absl::StatusOr<store::v1::GetMessagesResponse> got = store_->GetMessages(get);
      if (!got.ok()) return StoreCallError("cannot read the POP log", got.status());
      for (const common::v1::MessageExt& message : got->messages()) {
        if (message.queue_offset() >= end) break;
        internal::PopLogRecord record;
        if (!record.ParseFromString(message.body())) continue;
        window.push_back(std::move(record));
        offsets.push_back(message.queue_offset());
      }
      if (got->next_begin_offset() <= offset) break;
      offset = got->next_begin_offset();
    }
    for (size_t i = window.size(); i-- > 0;) {
      const internal::PopLogRecord& last = window[i];
      if (last.checkpoint_pieces() <= 0 ||
          last.checkpoint_piece() != last.checkpoint_pieces() - 1) {
        continue;
      }
      const int64_t first_offset = offsets[i] - (last.checkpoint_pieces() - 1);
      if (first_offset < min) continue;
      store::v1::GetMessagesRequest get;
      get.set_topic(std::string(kPopLogTopic));
      get.set_queue_id(0);
      get.set_offset(first_offset);
      get.set_max_count(1);
      absl::StatusOr<store::v1::GetMessagesResponse> got = store_->GetMessages(get);
      if (!got.ok()) return StoreCallError("cannot read the POP log", got.status());
      internal::PopLogRecord first;
      if (got->messages_size() == 1 && got->messages(0).queue_offset() == first_offset &&
          first.ParseFromString(got->messages(0).body()) &&
          first.checkpoint_id() == last.checkpoint_id() && first.checkpoint_piece() == 0) {
        return first_offset;
      }
    }
    end = begin;
  }
  return min;
}

absl::Status PopService::Recover() {
  int64_t records = 0;
  store::v1::GetQueueOffsetsRequest bounds;
  bounds.set_topic(std::string(kPopLogTopic));
  bounds.set_queue_id(0);
  absl::StatusOr<store::v1::GetQueueOffsetsResponse> kept = store_->GetQueueOffsets(bounds);
  if (!kept.ok()) return StoreCallError("cannot read the POP log's offsets", kept.status());
  absl::StatusOr<int64_t> start = ReplayStart(kept->min_offset(), kept->max_offset());
  if (!start.ok()) return start.status();
  int64_t offset = *start;
  absl::MutexLock lock(&mu_);
  while (true) {
    store::v1::GetMessagesRequest get;
    get.set_topic(std::string(kPopLogTopic));
    get.set_queue_id(0);
    get.set_offset(offset);
    get.set_max_count(256);
    absl::StatusOr<store::v1::GetMessagesResponse> got = store_->GetMessages(get);
    if (!got.ok()) return StoreCallError("cannot read the POP log", got.status());
    for (const common::v1::MessageExt& message : got->messages()) {
      internal::PopLogRecord record;
      if (!record.ParseFromString(message.body())) {
        LOG(WARNING) << "POP log record at " << message.queue_offset()
                     << " does not parse; ignored";
        continue;
      }
      ++records;
      for (const internal::PopLogOp& op : record.ops()) {
        std::unique_ptr<Queue>& queue = queues_[QueueKey(op.group(), op.topic(), op.queue_id())];
        if (queue == nullptr) {
          queue = std::make_unique<Queue>();
          queue->group = op.group();
          queue->topic = op.topic();
          queue->queue_id = op.queue_id();
          queue->loaded = true;
        }
        queue->next_offset =
            std::max({queue->next_offset, op.next_offset(), op.queue_offset() + 1});
        if (op.settled()) {
          queue->in_flight.erase(op.queue_offset());
          continue;
        }
        InFlight& entry = queue->in_flight[op.queue_offset()];
        entry.delivery_id = op.delivery_id();
        entry.deadline = absl::FromUnixMillis(op.deadline_ms());
        entry.commit_log_offset = op.commit_log_offset();
        entry.attempt = std::max(1, op.attempt());
        next_delivery_id_ = std::max(next_delivery_id_, op.delivery_id() + 1);
      }
    }
    const bool advanced = got->next_begin_offset() > offset;
    offset = std::max(offset, got->next_begin_offset());
    if (got->status() != store::v1::FOUND || !advanced) break;
  }
  in_flight_count_ = 0;
  deadlines_.clear();
  for (auto& [key, queue] : queues_) {
    // The queue may have moved on before the log's first kept record.
    if (absl::optional<int64_t> committed =
            offsets_->Query(queue->group, queue->topic, queue->queue_id);
        committed.has_value() && *committed > queue->next_offset) {
      queue->next_offset = *committed;
    }
    queue->committed = -1;
    for (auto& [offset, entry] : queue->in_flight) {
      entry.due = deadlines_.end();
      IndexLocked(queue.get(), offset, &entry);
      ++in_flight_count_;
    }
    AdvanceCommittedLocked(queue.get());
  }
  LOG(INFO) << "POP log replayed from offset " << *start << ": " << records << " records, "
            << in_flight_count_ << " messages in flight";
  return absl::OkStatus();
}

PopService::Queue* PopService::GetQueue(const std::string& group, const std::string& topic,
                                        int32_t queue_id) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Queue>& queue = queues_[QueueKey(group, topic, queue_id)];
  if (queue == nullptr) {
    queue = std::make_unique<Queue>();
    queue->group = group;
    queue->topic = topic;
    queue->queue_id = queue_id;
  }
  return queue.get();
}

absl::Status PopService::LoadQueue(Queue* queue) {
  {
    absl::MutexLock lock(&mu_);
    if (queue->loaded) return absl::OkStatus();
  }
  store::v1::GetQueueOffsetsRequest request;
  request.set_topic(queue->topic);
  request.set_queue_id(queue->queue_id);
  absl::StatusOr<store::v1::GetQueueOffsetsResponse> offsets = store_->GetQueueOffsets(request);
  if (!offsets.ok()) return StoreCallError("cannot read the queue's offsets", offsets.status());
  absl::optional<int64_t> committed = offsets_->Query(queue->group, queue->topic, queue->queue_id);
  int64_t start = offsets->min_offset();
  if (committed.has_value()) {
    start = std::clamp(*committed, offsets->min_offset(), offsets->max_offset());
  }
  absl::MutexLock lock(&mu_);
  queue->loaded = true;
  queue->next_offset = start;
  queue->committed = start;
  // The group shows in consumerProgress from its first pop on.
  if (committed != start) offsets_->Commit(queue->group, queue->topic, queue->queue_id, start);
  return absl::OkStatus();
}

absl::Status PopService::PopQueue(const Prepared& pop, const std::string& topic, int32_t queue_id,
                                  int max, broker::v1::PopMessageResponse* response,
                                  internal::PopLogRecord* log) {
  Queue* queue = GetQueue(pop.request.consumer_group(), topic, queue_id);
  absl::MutexLock read_lock(&queue->read_mu);
  if (absl::Status status = LoadQueue(queue); !status.ok()) return status;
  store::v1::GetMessagesRequest get;
  get.set_topic(topic);
  get.set_queue_id(queue_id);
  {
    absl::MutexLock lock(&mu_);
    // FIFO: the next message only once the previous one is settled.
    if (pop.orderly && !queue->in_flight.empty()) return absl::OkStatus();
    get.set_offset(queue->next_offset);
  }
  get.set_max_count(pop.orderly ? 1 : max);
  for (int64_t code : pop.tag_codes) get.add_tag_codes(code);
  const bool records = pop.request.stored_records();
  get.set_stored_records(records);
  absl::StatusOr<store::v1::GetMessagesResponse> got = store_->GetMessages(get);
  if (!got.ok()) return StoreCallError("store read failed", got.status());

  // What the bookkeeping needs of each message read, from its fields or its
  // record's header.
  struct Read {
    int64_t offset;
    int64_t commit_log_offset;
    int32_t reconsume_times;
    // Records: where it is in got->records().
    absl::string_view record;
  };
  std::vector<Read> read;
  if (records) {
    read.reserve(got->message_count());
    absl::string_view rest = got->records();
    while (!rest.empty()) {
      absl::StatusOr<format::RecordHeader> header = format::ReadRecordHeader(rest);
      if (!header.ok()) {
        return PrefixStatus(
            absl::StrCat("the store's answer for ", topic, " queue ", queue_id, ": "),
            header.status());
      }
      read.push_back({header->queue_offset, header->physical_offset, header->reconsume_times,
                      rest.substr(0, header->size)});
      rest.remove_prefix(header->size);
    }
  } else {
    read.reserve(got->messages_size());
    for (const common::v1::MessageExt& message : got->messages()) {
      read.push_back({message.queue_offset(), message.commit_log_offset(),
                      message.reconsume_times(), absl::string_view()});
    }
  }

  const absl::Time now = clock_->Now();
  const absl::Time deadline = now + absl::Milliseconds(pop.request.invisible_time_ms());
  // Under the lock only the bookkeeping; the answer and the log ops are built
  // after it (a queue's group, topic and id never change).
  struct Handed {
    InFlight entry;
    int64_t next_offset;
  };
  std::vector<Handed> handed;
  handed.reserve(read.size());
  {
    absl::MutexLock lock(&mu_);
    switch (got->status()) {
      case store::v1::OFFSET_OVERFLOW_ONE:
      case store::v1::OFFSET_FOUND_NULL:
      case store::v1::NO_MESSAGE_IN_QUEUE:
        return absl::OkStatus();
      default:
        // FOUND, or a range to skip (no match, removed, corrupt, out of range).
        queue->next_offset = got->next_begin_offset();
        break;
    }
    for (const Read& message : read) {
      InFlight& entry = queue->in_flight[message.offset];
      entry.delivery_id = next_delivery_id_++;
      entry.deadline = deadline;
      entry.commit_log_offset = message.commit_log_offset;
      entry.attempt = message.reconsume_times + 1;
      if (message.offset == queue->redeliver_offset) {
        // Handed out again in place (FIFO).
        entry.attempt = std::max(entry.attempt, queue->redeliver_attempt);
      }
      entry.due = deadlines_.end();
      IndexLocked(queue, message.offset, &entry);
      ++in_flight_count_;
      handed.push_back({entry, queue->next_offset});
    }
    AdvanceCommittedLocked(queue);
  }
  const bool retry = IsRetryTopic(topic);
  for (size_t i = 0; i < read.size(); ++i) {
    const int64_t offset = read[i].offset;
    const InFlight& entry = handed[i].entry;
    broker::v1::PoppedMessage& popped = *response->add_messages();
    popped.set_receipt_handle(HandleFor(*queue, offset, entry.delivery_id));
    popped.set_delivery_attempt(entry.attempt);
    popped.set_invisible_until_ms(absl::ToUnixMillis(deadline));
    if (records) {
      response->mutable_records()->append(read[i].record.data(), read[i].record.size());
    } else {
      common::v1::MessageExt& message = *got->mutable_messages(static_cast<int>(i));
      message.set_reconsume_times(entry.attempt - 1);
      if (retry) {
        auto original = message.properties().find(std::string(format::kPropertyRetryTopic));
        if (original != message.properties().end()) message.set_topic(original->second);
      }
      *popped.mutable_message() = std::move(message);
    }
    *log->add_ops() = LogOp(*queue, offset, &entry, handed[i].next_offset);
  }
  return absl::OkStatus();
}

std::string PopService::HandleFor(const Queue& queue, int64_t offset, int64_t delivery_id) const {
  ReceiptHandle handle;
  handle.broker_name = options_.broker_name;
  handle.topic = queue.topic;
  handle.queue_id = queue.queue_id;
  handle.queue_offset = offset;
  handle.delivery_id = delivery_id;
  return EncodeReceiptHandle(handle);
}

void PopService::IndexLocked(Queue* queue, int64_t offset, InFlight* entry) {
  const bool earliest = deadlines_.empty() || entry->deadline < deadlines_.begin()->first;
  entry->due = deadlines_.emplace(entry->deadline, std::make_pair(queue, offset));
  if (earliest) wake_.Signal();
}

void PopService::UnindexLocked(InFlight* entry) {
  if (entry->due == deadlines_.end()) return;
  deadlines_.erase(entry->due);
  entry->due = deadlines_.end();
}

void PopService::AdvanceCommittedLocked(Queue* queue) {
  const int64_t settled_below =
      queue->in_flight.empty() ? queue->next_offset : queue->in_flight.begin()->first;
  if (settled_below == queue->committed) return;
  queue->committed = settled_below;
  offsets_->Commit(queue->group, queue->topic, queue->queue_id, settled_below);
}

void PopService::SettleLocked(Queue* queue, int64_t offset) {
  auto it = queue->in_flight.find(offset);
  if (it == queue->in_flight.end()) return;
  UnindexLocked(&it->second);
  queue->in_flight.erase(it);
  --in_flight_count_;
  AdvanceCommittedLocked(queue);
}

absl::StatusOr<ReceiptHandle> PopService::CheckHandle(const std::string& group,
                                                      const std::string& topic,
                                                      absl::string_view text) const {
  absl::StatusOr<ReceiptHandle> handle = DecodeReceiptHandle(text);
  if (!handle.ok()) return handle.status();
  if (handle->broker_name != options_.broker_name) {
    return InvalidReceiptHandle(text, absl::StrCat("is of broker ", handle->broker_name,
                                                   ", this is broker ", options_.broker_name));
  }
  if (handle->topic != topic && handle->topic != RetryTopic(group)) {
    return InvalidReceiptHandle(text, absl::StrCat("is of topic ", handle->topic, ", not of ",
                                                   topic, " or ", RetryTopic(group)));
  }
  return handle;
}

absl::StatusOr<std::pair<PopService::Queue*, PopService::InFlight*>> PopService::FindLocked(
    const std::string& group, const ReceiptHandle& handle, absl::string_view text) {
  constexpr absl::string_view kOver =
      "its delivery is over (acked, dead-lettered, expired, or replaced by a later handle)";
  auto queue = queues_.find(QueueKey(group, handle.topic, handle.queue_id));
  if (queue == queues_.end()) return InvalidReceiptHandle(text, kOver);
  auto entry = queue->second->in_flight.find(handle.queue_offset);
  if (entry == queue->second->in_flight.end() || entry->second.delivery_id != handle.delivery_id) {
    return InvalidReceiptHandle(text, kOver);
  }
  if (clock_->Now() >= entry->second.deadline) {
    return InvalidReceiptHandle(text, "its invisible time has ended: it is delivered again");
  }
  return std::make_pair(queue->second.get(), &entry->second);
}

absl::StatusOr<broker::v1::AckMessageResponse> PopService::Ack(
    const broker::v1::AckMessageRequest& request) {
  if (absl::Status status = CheckCommon(request.consumer_group(), request.topic()); !status.ok()) {
    return status;
  }
  if (request.receipt_handles().empty()) {
    return absl::InvalidArgumentError("the ack names no receipt handle");
  }
  const std::string& group = request.consumer_group();
  // From the log record to the settling: see checkpoint_mu_.
  absl::ReaderMutexLock checkpoint_lock(&checkpoint_mu_);
  broker::v1::AckMessageResponse response;
  // Decoded once, outside the lock; a handle that does not decode is
  // answered now.
  std::vector<absl::optional<ReceiptHandle>> handles;
  handles.reserve(request.receipt_handles_size());
  for (const std::string& text : request.receipt_handles()) {
    broker::v1::AckResult& result = *response.add_results();
    result.set_receipt_handle(text);
    absl::StatusOr<ReceiptHandle> handle = CheckHandle(group, request.topic(), text);
    if (!handle.ok()) {
      result.set_code(common::v1::INVALID_RECEIPT_HANDLE);
      result.set_error_message(std::string(handle.status().message()));
      handles.emplace_back();
      continue;
    }
    handles.emplace_back(*std::move(handle));
  }
  // The handles that name a current delivery are logged settled first, so an
  // ack answered SUCCESS survives a crash; then settled.
  internal::PopLogRecord log;
  {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < request.receipt_handles_size(); ++i) {
      if (!handles[i].has_value()) continue;
      broker::v1::AckResult& result = *response.mutable_results(i);
      auto found = FindLocked(group, *handles[i], request.receipt_handles(i));
      if (!found.ok()) {
        result.set_code(common::v1::INVALID_RECEIPT_HANDLE);
        result.set_error_message(std::string(found.status().message()));
        handles[i].reset();
        continue;
      }
      result.set_code(common::v1::SUCCESS);
    }
  }
  for (const absl::optional<ReceiptHandle>& handle : handles) {
    if (!handle.has_value()) continue;
    internal::PopLogOp& op = *log.add_ops();
    op.set_group(group);
    op.set_topic(handle->topic);
    op.set_queue_id(handle->queue_id);
    op.set_queue_offset(handle->queue_offset);
    op.set_settled(true);
  }
  if (log.ops_size() == 0) return response;
  if (absl::Status logged = log_writer_.Write(std::move(log)); !logged.ok()) return logged;
  std::vector<std::pair<std::string, int32_t>> settled;
  {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < request.receipt_handles_size(); ++i) {
      if (!handles[i].has_value()) continue;
      broker::v1::AckResult& result = *response.mutable_results(i);
      auto found = FindLocked(group, *handles[i], request.receipt_handles(i));
      if (!found.ok()) {
        // Expired (or acked by a concurrent call) meanwhile.
        result.set_code(common::v1::INVALID_RECEIPT_HANDLE);
        result.set_error_message(std::string(found.status().message()));
        continue;
      }
      SettleLocked(found->first, handles[i]->queue_offset);
      settled.emplace_back(found->first->topic, found->first->queue_id);
    }
  }
  absl::optional<broker::v1::SubscriptionGroupConfig> group_config = groups_->Find(group);
  if (group_config.has_value() && group_config->consume_message_orderly()) WakeFifo(settled);
  return response;
}

absl::StatusOr<broker::v1::ChangeInvisibleTimeResponse> PopService::ChangeInvisibleTime(
    const broker::v1::ChangeInvisibleTimeRequest& request) {
  if (absl::Status status = CheckCommon(request.consumer_group(), request.topic()); !status.ok()) {
    return status;
  }
  absl::StatusOr<absl::Duration> invisible = CheckInvisibleTime(request.invisible_time_ms());
  if (!invisible.ok()) return invisible.status();
  absl::StatusOr<ReceiptHandle> handle =
      CheckHandle(request.consumer_group(), request.topic(), request.receipt_handle());
  if (!handle.ok()) return handle.status();
  broker::v1::ChangeInvisibleTimeResponse response;
  internal::PopLogRecord log;
  {
    absl::MutexLock lock(&mu_);
    auto found = FindLocked(request.consumer_group(), *handle, request.receipt_handle());
    if (!found.ok()) return found.status();
    auto [queue, entry] = *found;
    const int64_t offset = handle->queue_offset;
    UnindexLocked(entry);
    entry->delivery_id = next_delivery_id_++;
    entry->deadline = clock_->Now() + *invisible;
    IndexLocked(queue, offset, entry);
    response.set_receipt_handle(HandleFor(*queue, offset, entry->delivery_id));
    response.set_invisible_until_ms(absl::ToUnixMillis(entry->deadline));
    *log.add_ops() = LogOp(*queue, offset, entry, queue->next_offset);
  }
  // Not waited for: unlogged, a crash brings back the earlier deadline and
  // handle: the message is delivered again sooner, not lost.
  log_writer_.Queue(std::move(log));
  return response;
}

absl::StatusOr<broker::v1::ForwardToDeadLetterResponse> PopService::ForwardToDeadLetter(
    const broker::v1::ForwardToDeadLetterRequest& request) {
  if (absl::Status status = CheckCommon(request.consumer_group(), request.topic()); !status.ok()) {
    return status;
  }
  absl::StatusOr<ReceiptHandle> handle =
      CheckHandle(request.consumer_group(), request.topic(), request.receipt_handle());
  if (!handle.ok()) return handle.status();
  Queue* queue;
  InFlight* entry;
  const int64_t offset = handle->queue_offset;
  int64_t delivery_id;
  {
    absl::MutexLock lock(&mu_);
    auto found = FindLocked(request.consumer_group(), *handle, request.receipt_handle());
    if (!found.ok()) return found.status();
    std::tie(queue, entry) = *found;
    // Taken out of play: no handle is valid and the revive skips it.
    delivery_id = entry->delivery_id;
    entry->delivery_id = 0;
    UnindexLocked(entry);
  }
  absl::StatusOr<broker::v1::ConsumerSendBackResponse> moved =
      send_back_->Redeliver(queue->group, entry->commit_log_offset, /*dead_letter=*/true);
  internal::PopLogRecord log;
  {
    absl::MutexLock lock(&mu_);
    if (!moved.ok()) {
      entry->delivery_id = delivery_id;
      IndexLocked(queue, offset, entry);
      return moved.status();
    }
    SettleLocked(queue, offset);
    *log.add_ops() = LogOp(*queue, offset, nullptr, 0);
  }
  // Not waited for: unlogged, a crash delivers the message once more.
  log_writer_.Queue(std::move(log));
  WakeFifo({{queue->topic, queue->queue_id}});
  broker::v1::ForwardToDeadLetterResponse response;
  response.set_topic(moved->topic());
  response.set_msg_id(moved->msg_id());
  return response;
}

int PopService::ReviveDue() {
  struct Due {
    Queue* queue;
    int64_t offset;
    int64_t commit_log_offset;
    int32_t attempt;
  };
  std::vector<Due> due;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      auto [queue, offset] = deadlines_.begin()->second;
      InFlight& entry = queue->in_flight.at(offset);
      entry.delivery_id = 0;
      UnindexLocked(&entry);
      due.push_back({queue, offset, entry.commit_log_offset, entry.attempt});
    }
  }
  // Locals below are changed under mu_ only: chunks of a large round run at
  // once on the runner's threads (a store read per redelivery and an append
  // per chunk), so a burst of expiries is redelivered within the target.
  int settled = 0;
  internal::PopLogRecord log;
  // FIFO queues that may hand out a message again.
  std::vector<std::pair<std::string, int32_t>> freed;
  // Settles a redelivered (or dead-lettered) item, or tries it again later.
  auto moved = [&](const Due& item, bool dead_letter,
                   const absl::StatusOr<broker::v1::ConsumerSendBackResponse>& result) {
    absl::MutexLock lock(&mu_);
    if (result.ok()) {
      SettleLocked(item.queue, item.offset);
      *log.add_ops() = LogOp(*item.queue, item.offset, nullptr, 0);
      ++settled;
      if (dead_letter) freed.emplace_back(item.queue->topic, item.queue->queue_id);
      return;
    }
    LOG_EVERY_N(WARNING, 100) << "cannot redeliver a message of group " << item.queue->group << " ("
                              << item.queue->topic << " queue " << item.queue->queue_id
                              << " offset " << item.offset
                              << "), trying again: " << result.status();
    InFlight& entry = item.queue->in_flight.at(item.offset);
    entry.deadline = clock_->Now() + options_.revive_retry_interval;
    IndexLocked(item.queue, item.offset, &entry);
  };
  // A chunk's copies of one group are stored with one append per target
  // topic (ConsumerSendBackProcessor::RedeliverAll).
  auto revive = [&](size_t begin, size_t end) {
    std::map<std::string, std::vector<std::pair<const Due*, bool>>> by_group;
    for (size_t i = begin; i < end; ++i) {
      const Due& item = due[i];
      absl::optional<broker::v1::SubscriptionGroupConfig> group = groups_->Find(item.queue->group);
      bool dead_letter = false;
      if (group.has_value() && group->consume_message_orderly()) {
        if (item.attempt <= group->retry_max_times()) {
          // FIFO: handed out again in place; the queue waits for it.
          absl::MutexLock lock(&mu_);
          Queue* queue = item.queue;
          queue->in_flight.erase(item.offset);
          --in_flight_count_;
          queue->next_offset = std::min(queue->next_offset, item.offset);
          queue->redeliver_offset = item.offset;
          queue->redeliver_attempt = item.attempt + 1;
          ++settled;
          freed.emplace_back(queue->topic, queue->queue_id);
          continue;
        }
        dead_letter = true;
      }
      by_group[item.queue->group].emplace_back(&item, dead_letter);
    }
    for (const auto& [group, items] : by_group) {
      std::vector<ConsumerSendBackProcessor::Redelivery> messages(items.size());
      std::map<Queue*, std::vector<size_t>> by_queue;
      for (size_t k = 0; k < items.size(); ++k) {
        messages[k].commit_log_offset = items[k].first->commit_log_offset;
        messages[k].dead_letter = items[k].second;
        by_queue[items[k].first->queue].push_back(k);
      }
      // Read a queue's due messages with one store read per range of
      // offsets, not one per message; what is not found so is read by its
      // commit-log offset.
      for (auto& [queue, members] : by_queue) {
        std::sort(members.begin(), members.end(), [&items](size_t x, size_t y) {
          return items[x].first->offset < items[y].first->offset;
        });
        std::map<int64_t, common::v1::MessageExt> read;
        const int64_t last = items[members.back()].first->offset;
        for (int64_t next = items[members.front()].first->offset; next <= last;) {
          store::v1::GetMessagesRequest get;
          get.set_topic(queue->topic);
          get.set_queue_id(queue->queue_id);
          get.set_offset(next);
          get.set_max_count(static_cast<int32_t>(std::min<int64_t>(1024, last - next + 1)));
          absl::StatusOr<store::v1::GetMessagesResponse> got = store_->GetMessages(get);
          if (!got.ok() || got->next_begin_offset() <= next) break;
          for (common::v1::MessageExt& message : *got->mutable_messages()) {
            read.emplace(message.queue_offset(), std::move(message));
          }
          next = got->next_begin_offset();
        }
        for (size_t k : members) {
          auto it = read.find(items[k].first->offset);
          if (it != read.end() && it->second.commit_log_offset() == messages[k].commit_log_offset) {
            messages[k].stored = std::move(it->second);
          }
        }
      }
      std::vector<absl::StatusOr<broker::v1::ConsumerSendBackResponse>> results =
          send_back_->RedeliverAll(group, std::move(messages));
      for (size_t k = 0; k < items.size(); ++k) {
        moved(*items[k].first, items[k].second, results[k]);
      }
    }
  };
  constexpr size_t kChunk = 128;
  if (due.size() <= kChunk) {
    revive(0, due.size());
  } else {
    const size_t chunks = (due.size() + kChunk - 1) / kChunk;
    absl::BlockingCounter pending(static_cast<int>(chunks));
    for (size_t c = 0; c < chunks; ++c) {
      auto work = [&, c] {
        revive(c * kChunk, std::min(due.size(), (c + 1) * kChunk));
        pending.DecrementCount();
      };
      // Refused (busy, stopping): done here instead.
      runner_(work, work);
    }
    pending.Wait();
  }
  // Not waited for: unlogged, a crash delivers these once more. A large
  // round is logged in pieces, each well under the largest message.
  constexpr int kMaxOpsPerRecord = 1024;
  for (int begin = 0; begin < log.ops_size(); begin += kMaxOpsPerRecord) {
    internal::PopLogRecord piece;
    for (int i = begin; i < std::min(log.ops_size(), begin + kMaxOpsPerRecord); ++i) {
      *piece.add_ops() = std::move(*log.mutable_ops(i));
    }
    log_writer_.Queue(std::move(piece));
  }
  WakeFifo(freed);
  return settled;
}

int64_t PopService::in_flight_count() const {
  absl::MutexLock lock(&mu_);
  return in_flight_count_;
}

size_t PopService::held_count() const {
  absl::MutexLock lock(&mu_);
  return held_.size();
}

}  // namespace mq::broker
