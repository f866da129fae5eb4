#include "services/broker/transaction_service.h"

#include <glog/logging.h>

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/format/property_keys.h"
#include "common/format/record_format.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/broker/broker_errors.h"
#include "services/broker/metadata_json.h"
#include "services/broker/send_message_processor.h"

namespace mq::broker {

namespace {

// Messages read from a system queue per store call.
constexpr int32_t kReadBatch = 256;

std::string Property(const common::v1::MessageExt& message, absl::string_view key) {
  auto it = message.properties().find(std::string(key));
  return it == message.properties().end() ? std::string() : it->second;
}

absl::Status NotSettleable(absl::string_view message) {
  return WithResponseCode(absl::FailedPreconditionError(message), common::v1::SYSTEM_ERROR);
}

// The first stored outcome of an append of one entry, or its error.
absl::StatusOr<store::v1::AppendResult> SingleResult(
    absl::string_view what, const absl::StatusOr<store::v1::AppendBatchResponse>& response) {
  if (!response.ok()) return StoreCallError(what, response.status());
  if (response->results_size() != 1) {
    return WithResponseCode(
        absl::InternalError(absl::StrCat(what, ": the store answered ", response->results_size(),
                                         " results for one message")),
        common::v1::SYSTEM_ERROR);
  }
  absl::StatusOr<broker::v1::SendStatus> status = MapPutStatus(response->results(0));
  if (!status.ok()) return PrefixStatus(absl::StrCat(what, ": "), status.status());
  return response->results(0);
}

}  // namespace

absl::Status ValidateTransactionOptions(const TransactionOptions& options) {
  if (options.transaction_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the transaction timeout must be positive");
  }
  if (options.check_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the transaction check interval must be positive");
  }
  if (options.check_max < 1) {
    return absl::InvalidArgumentError("the transaction check max must be at least 1");
  }
  return absl::OkStatus();
}

TransactionService::TransactionService(store::StoreApi* store, TransactionChecker* checker,
                                       std::string broker_name, std::string store_host,
                                       TransactionOptions options, const Clock* clock)
    : store_(store),
      checker_(checker),
      broker_name_(std::move(broker_name)),
      store_host_(std::move(store_host)),
      options_(std::move(options)),
      clock_(clock) {}

absl::Status TransactionService::ToHalf(store::v1::AppendEntry* entry) const {
  if (options_.reject_transaction_message) {
    return NoPermission(absl::StrCat("broker ", broker_name_,
                                     " rejects transaction messages (reject_transaction_message)"));
  }
  common::v1::Message* message = entry->mutable_message();
  auto& properties = *message->mutable_properties();
  auto group = properties.find(std::string(format::kPropertyProducerGroup));
  if (group == properties.end()) {
    return IllegalMessage("a transaction half message needs the property PGROUP (its group)");
  }
  if (absl::Status valid = ValidateGroup(group->second); !valid.ok()) {
    return IllegalMessage(absl::StrCat("PGROUP: ", valid.message()));
  }
  properties[std::string(format::kPropertyRealTopic)] = message->topic();
  properties[std::string(format::kPropertyRealQueueId)] = absl::StrCat(entry->queue_id());
  // A delay applies to the committed copy's delivery, never to the half
  // (RocketMQ's producer clears it: the half must stay on the half topic).
  properties.erase(std::string(format::kPropertyDelayTimeLevel));
  message->set_topic(std::string(kTransactionHalfTopic));
  entry->set_queue_id(0);
  // Stored as a plain message of the half topic, which no consumer reads
  // (RocketMQ resets the transaction type of the half the same way).
  entry->set_sys_flag(entry->sys_flag() & ~format::kSysFlagTransactionTypeMask);
  return absl::OkStatus();
}

absl::Status TransactionService::Load() {
  absl::MutexLock round(&round_mu_);
  store::v1::GetMetadataRequest get;
  get.set_key(std::string(kTransactionProgressKey));
  absl::StatusOr<store::v1::GetMetadataResponse> stored = store_->GetMetadata(get);
  if (!stored.ok()) return StoreCallError("cannot read the transaction progress", stored.status());
  if (stored->found()) {
    internal::TransactionProgress progress;
    if (absl::Status parsed = ParseMetadataJson(stored->value(), &progress); !parsed.ok()) {
      return PrefixStatus("the stored transaction progress is damaged: ", parsed);
    }
    absl::MutexLock lock(&mu_);
    book_.Restore(progress);
  }
  if (absl::Status read = ReadQueues(); !read.ok()) return read;
  absl::MutexLock lock(&mu_);
  LOG(INFO) << "transactions: " << book_.pending_count()
            << " half messages unsettled, halves below " << book_.settled_below() << " settled";
  return absl::OkStatus();
}

absl::Status TransactionService::ReadQueues() {
  if (absl::Status ops = ReadOps(); !ops.ok()) return ops;
  return ReadHalves();
}

absl::Status TransactionService::ReadOps() {
  while (true) {
    store::v1::GetMessagesRequest request;
    request.set_topic(std::string(kTransactionOpTopic));
    request.set_queue_id(0);
    {
      absl::MutexLock lock(&mu_);
      request.set_offset(book_.next_op_offset());
    }
    request.set_max_count(kReadBatch);
    absl::StatusOr<store::v1::GetMessagesResponse> read = store_->GetMessages(request);
    if (!read.ok()) return StoreCallError("cannot read the transaction op queue", read.status());
    absl::MutexLock lock(&mu_);
    for (const common::v1::MessageExt& op : read->messages()) {
      int64_t half_offset = 0;
      if (!absl::SimpleAtoi(op.body(), &half_offset)) {
        LOG(WARNING) << "transaction op record at " << op.queue_offset()
                     << " has no half offset; ignored";
        book_.OpsReadTo(op.queue_offset() + 1);
        continue;
      }
      book_.AddOp(op.queue_offset(), half_offset);
    }
    bool advanced = read->next_begin_offset() > request.offset();
    if (advanced) book_.OpsReadTo(read->next_begin_offset());
    if (read->status() != store::v1::FOUND || !advanced) return absl::OkStatus();
  }
}

absl::Status TransactionService::ReadHalves() {
  while (true) {
    store::v1::GetMessagesRequest request;
    request.set_topic(std::string(kTransactionHalfTopic));
    request.set_queue_id(0);
    {
      absl::MutexLock lock(&mu_);
      request.set_offset(book_.next_half_offset());
    }
    request.set_max_count(kReadBatch);
    absl::StatusOr<store::v1::GetMessagesResponse> read = store_->GetMessages(request);
    if (!read.ok()) return StoreCallError("cannot read the transaction half queue", read.status());
    absl::MutexLock lock(&mu_);
    for (const common::v1::MessageExt& message : read->messages()) {
      PendingHalf half;
      half.queue_offset = message.queue_offset();
      half.commit_log_offset = message.commit_log_offset();
      half.store_time = absl::FromUnixMillis(message.store_timestamp_ms());
      half.producer_group = Property(message, format::kPropertyProducerGroup);
      book_.AddHalf(half);
    }
    bool advanced = read->next_begin_offset() > request.offset();
    if (advanced) book_.HalvesReadTo(read->next_begin_offset());
    if (read->status() != store::v1::FOUND || !advanced) return absl::OkStatus();
  }
}

absl::Status TransactionService::PersistProgress() {
  internal::TransactionProgress progress;
  {
    absl::MutexLock lock(&mu_);
    progress = book_.Snapshot();
  }
  absl::StatusOr<std::string> json = ToMetadataJson(progress);
  if (!json.ok()) return json.status();
  store::v1::PutMetadataRequest put;
  store::v1::MetadataEntry* entry = put.add_entries();
  entry->set_key(std::string(kTransactionProgressKey));
  entry->set_value(*std::move(json));
  absl::Status stored = store_->PutMetadata(put);
  if (!stored.ok()) return StoreCallError("cannot store the transaction progress", stored);
  return absl::OkStatus();
}

absl::StatusOr<common::v1::MessageExt> TransactionService::ReadHalf(
    const broker::v1::EndTransactionRequest& request) const {
  store::v1::GetMessageByOffsetRequest get;
  get.set_physical_offset(request.commit_log_offset());
  absl::StatusOr<store::v1::GetMessageByOffsetResponse> read = store_->GetMessageByOffset(get);
  if (absl::IsNotFound(read.status()) || absl::IsInvalidArgument(read.status()) ||
      (read.ok() && read->message().topic() != kTransactionHalfTopic)) {
    return WithResponseCode(
        absl::NotFoundError(absl::StrCat("no half message at commit-log offset ",
                                         request.commit_log_offset(), " on broker ", broker_name_)),
        common::v1::QUERY_NOT_FOUND);
  }
  if (!read.ok()) return StoreCallError("cannot read the half message", read.status());
  const common::v1::MessageExt& half = read->message();
  if (half.queue_offset() != request.queue_offset()) {
    return IllegalMessage(absl::StrCat("the half message at commit-log offset ",
                                       request.commit_log_offset(), " has queue offset ",
                                       half.queue_offset(), ", not ", request.queue_offset()));
  }
  if (!request.transaction_id().empty() && half.msg_id() != request.transaction_id()) {
    return IllegalMessage(absl::StrCat(
        "the half message at commit-log offset ", request.commit_log_offset(), " is transaction ",
        half.msg_id(), ", not ", QuoteInput(request.transaction_id())));
  }
  std::string group = Property(half, format::kPropertyProducerGroup);
  if (group != request.producer_group()) {
    return NoPermission(absl::StrCat("the half message at commit-log offset ",
                                     request.commit_log_offset(), " belongs to producer group ",
                                     group, ", not ", QuoteInput(request.producer_group())));
  }
  return *std::move(read->mutable_message());
}

absl::Status TransactionService::Claim(int64_t half_offset) {
  absl::MutexLock lock(&mu_);
  if (book_.IsSettled(half_offset)) {
    return NotSettleable(absl::StrCat("the half message at queue offset ", half_offset,
                                      " is already settled (committed, rolled back or discarded)"));
  }
  if (!settling_.insert(half_offset).second) {
    return NotSettleable(absl::StrCat("the half message at queue offset ", half_offset,
                                      " is being settled by another call"));
  }
  return absl::OkStatus();
}

void TransactionService::Release(int64_t half_offset, bool settled) {
  absl::MutexLock lock(&mu_);
  settling_.erase(half_offset);
  if (settled) book_.MarkSettled(half_offset);
}

absl::StatusOr<broker::v1::EndTransactionResponse> TransactionService::EndTransaction(
    const broker::v1::EndTransactionRequest& request) {
  if (absl::Status group = ValidateGroup(request.producer_group()); !group.ok()) {
    return IllegalMessage(absl::StrCat("producer ", group.message()));
  }
  if (!request.broker_name().empty() && request.broker_name() != broker_name_) {
    return WithResponseCode(absl::FailedPreconditionError(absl::StrCat(
                                "the transaction is for broker ", QuoteInput(request.broker_name()),
                                ", this is broker ", broker_name_)),
                            common::v1::SYSTEM_ERROR);
  }
  if (request.commit_log_offset() < 0 || request.queue_offset() < 0) {
    return IllegalMessage("commit_log_offset and queue_offset must not be negative");
  }
  if (!broker::v1::TransactionResolution_IsValid(request.resolution())) {
    return IllegalMessage(absl::StrCat("unknown transaction resolution ", request.resolution()));
  }
  absl::StatusOr<common::v1::MessageExt> half = ReadHalf(request);
  if (!half.ok()) return half.status();
  broker::v1::EndTransactionResponse response;
  if (request.resolution() == broker::v1::TRANSACTION_UNKNOWN) {
    if (IsSettled(request.queue_offset())) {
      return NotSettleable(absl::StrCat("the half message at queue offset ", request.queue_offset(),
                                        " is already settled"));
    }
    return response;
  }
  if (absl::Status claimed = Claim(request.queue_offset()); !claimed.ok()) return claimed;
  absl::Status settled = request.resolution() == broker::v1::TRANSACTION_COMMIT
                             ? Commit(*half, &response)
                             : AppendOp(request.queue_offset());
  Release(request.queue_offset(), settled.ok());
  if (!settled.ok()) return settled;
  VLOG(1) << "transaction " << half->msg_id() << " of " << request.producer_group()
          << (request.resolution() == broker::v1::TRANSACTION_COMMIT ? " committed"
                                                                     : " rolled back")
          << (request.from_transaction_check() ? " (answering a check)" : "");
  return response;
}

absl::StatusOr<bool> TransactionService::FindCommittedCopy(
    const common::v1::MessageExt& half, broker::v1::EndTransactionResponse* response) const {
  std::string real_topic = Property(half, format::kPropertyRealTopic);
  if (half.msg_id().empty()) return false;
  store::v1::QueryByUniqueIdRequest query;
  query.set_topic(real_topic);
  query.set_unique_id(half.msg_id());
  absl::StatusOr<store::v1::QueryMessagesResponse> found = store_->QueryByUniqueId(query);
  // No index (FAILED_PRECONDITION): nothing to find; the book alone decides.
  if (absl::IsNotFound(found.status()) || absl::IsFailedPrecondition(found.status())) return false;
  if (!found.ok()) return StoreCallError("cannot look for a committed copy", found.status());
  const std::string half_offset = absl::StrCat(half.queue_offset());
  for (const common::v1::MessageExt& copy : found->messages()) {
    if (Property(copy, format::kPropertyTransactionPreparedQueueOffset) != half_offset) continue;
    response->set_topic(copy.topic());
    response->set_queue_id(copy.queue_id());
    response->set_queue_offset(copy.queue_offset());
    response->set_offset_msg_id(copy.offset_msg_id());
    return true;
  }
  return false;
}

absl::Status TransactionService::Commit(const common::v1::MessageExt& half,
                                        broker::v1::EndTransactionResponse* response) const {
  std::string real_topic = Property(half, format::kPropertyRealTopic);
  int32_t real_queue = 0;
  if (!ValidateTopic(real_topic).ok() ||
      !absl::SimpleAtoi(Property(half, format::kPropertyRealQueueId), &real_queue) ||
      real_queue < 0) {
    return IllegalMessage(absl::StrCat("the half message at queue offset ", half.queue_offset(),
                                       " has no valid REAL_TOPIC/REAL_QID"));
  }
  absl::StatusOr<bool> found = FindCommittedCopy(half, response);
  if (!found.ok()) return found.status();
  if (*found) {
    LOG(INFO) << "transaction " << half.msg_id() << " was committed before its op record was "
              << "written (a crash); writing the op record only";
  } else {
    absl::StatusOr<store::v1::AppendResult> copy = AppendCopy(half, real_topic, real_queue);
    if (!copy.ok()) return copy.status();
    response->set_topic(real_topic);
    response->set_queue_id(real_queue);
    response->set_queue_offset(copy->queue_offset());
    response->set_offset_msg_id(copy->offset_msg_id());
  }
  return AppendOp(half.queue_offset());
}

absl::StatusOr<store::v1::AppendResult> TransactionService::AppendCopy(
    const common::v1::MessageExt& half, absl::string_view topic, int32_t queue_id) const {
  store::v1::AppendBatchRequest append;
  append.set_wait_store_ok(true);
  store::v1::AppendEntry* entry = append.add_entries();
  common::v1::Message* message = entry->mutable_message();
  message->set_topic(std::string(topic));
  message->set_flag(half.flag());
  message->set_body(half.body());
  *message->mutable_properties() = half.properties();
  auto& properties = *message->mutable_properties();
  properties.erase(std::string(format::kPropertyTransactionPrepared));
  properties.erase(std::string(format::kPropertyRealTopic));
  properties.erase(std::string(format::kPropertyRealQueueId));
  properties.erase(std::string(format::kPropertyTransactionCheckTimes));
  properties[std::string(format::kPropertyTransactionPreparedQueueOffset)] =
      absl::StrCat(half.queue_offset());
  entry->set_queue_id(queue_id);
  entry->set_sys_flag(half.sys_flag() & format::kSysFlagCompressed);
  entry->set_born_timestamp_ms(half.born_timestamp_ms());
  entry->set_born_host(half.born_host());
  entry->set_store_host(store_host_);
  entry->set_reconsume_times(half.reconsume_times());
  return SingleResult(absl::StrCat("cannot store the transaction's message on ", topic),
                      store_->AppendBatch(append));
}

absl::Status TransactionService::AppendOp(int64_t half_offset) const {
  store::v1::AppendBatchRequest append;
  append.set_wait_store_ok(true);
  store::v1::AppendEntry* entry = append.add_entries();
  common::v1::Message* message = entry->mutable_message();
  message->set_topic(std::string(kTransactionOpTopic));
  message->set_body(absl::StrCat(half_offset));
  (*message->mutable_properties())[std::string(format::kPropertyTags)] =
      std::string(kTransactionOpTag);
  entry->set_queue_id(0);
  entry->set_born_timestamp_ms(absl::ToUnixMillis(clock_->Now()));
  entry->set_born_host(store_host_);
  entry->set_store_host(store_host_);
  absl::StatusOr<store::v1::AppendResult> op =
      SingleResult("cannot store the transaction op record", store_->AppendBatch(append));
  return op.status();
}

void TransactionService::CheckOnce() {
  absl::MutexLock round(&round_mu_);
  if (absl::Status read = ReadQueues(); !read.ok()) {
    LOG(WARNING) << "transaction check: " << read;
    return;
  }
  std::vector<PendingHalf> due;
  {
    absl::MutexLock lock(&mu_);
    due = book_.DueBy(clock_->Now() - options_.transaction_timeout);
  }
  for (const PendingHalf& half : due) {
    if (half.check_times >= options_.check_max) {
      if (absl::Status discarded = Discard(half); !discarded.ok()) {
        LOG(WARNING) << "cannot discard the half message at queue offset " << half.queue_offset
                     << ": " << discarded;
      }
      continue;
    }
    Check(half);
  }
  if (absl::Status persisted = PersistProgress(); !persisted.ok()) {
    LOG(WARNING) << "transaction check: " << persisted;
  }
}

void TransactionService::Check(const PendingHalf& half) {
  store::v1::GetMessageByOffsetRequest get;
  get.set_physical_offset(half.commit_log_offset);
  absl::StatusOr<store::v1::GetMessageByOffsetResponse> read = store_->GetMessageByOffset(get);
  if (!read.ok()) {
    LOG(WARNING) << "cannot read the half message at queue offset " << half.queue_offset << ": "
                 << read.status();
    return;
  }
  int32_t times = 0;
  {
    absl::MutexLock lock(&mu_);
    // Settled since the round began.
    if (book_.IsSettled(half.queue_offset) || settling_.contains(half.queue_offset)) return;
    times = book_.RecordCheck(half.queue_offset);
  }
  broker::v1::TransactionCheck check;
  check.set_producer_group(half.producer_group);
  check.set_commit_log_offset(half.commit_log_offset);
  check.set_queue_offset(half.queue_offset);
  check.set_broker_name(broker_name_);
  common::v1::MessageExt* message = check.mutable_message();
  *message = *std::move(read->mutable_message());
  check.set_transaction_id(message->msg_id());
  // The message as its producer sent it: its own topic and queue.
  auto& properties = *message->mutable_properties();
  message->set_topic(properties[std::string(format::kPropertyRealTopic)]);
  int32_t real_queue = 0;
  if (absl::SimpleAtoi(properties[std::string(format::kPropertyRealQueueId)], &real_queue)) {
    message->set_queue_id(real_queue);
  }
  properties.erase(std::string(format::kPropertyRealTopic));
  properties.erase(std::string(format::kPropertyRealQueueId));
  properties[std::string(format::kPropertyTransactionCheckTimes)] = absl::StrCat(times);
  if (!checker_->SendCheck(check)) {
    LOG_EVERY_N(WARNING, 100) << "no live producer of group " << half.producer_group
                              << " to ask about transaction " << check.transaction_id()
                              << " (check " << times << " of " << options_.check_max << ")";
  }
}

absl::Status TransactionService::Discard(const PendingHalf& half) {
  if (absl::Status claimed = Claim(half.queue_offset); !claimed.ok()) return absl::OkStatus();
  absl::Status status;
  store::v1::GetMessageByOffsetRequest get;
  get.set_physical_offset(half.commit_log_offset);
  absl::StatusOr<store::v1::GetMessageByOffsetResponse> read = store_->GetMessageByOffset(get);
  if (read.ok()) {
    absl::StatusOr<store::v1::AppendResult> kept =
        AppendCopy(read->message(), kTransactionCheckMaxTimeTopic, 0);
    status = kept.status();
  } else {
    status = read.status();
  }
  if (status.ok()) status = AppendOp(half.queue_offset);
  Release(half.queue_offset, status.ok());
  if (status.ok()) {
    LOG(WARNING) << "transaction of producer group " << half.producer_group
                 << " at half queue offset " << half.queue_offset << " discarded after "
                 << half.check_times << " checks with no decision; kept on "
                 << kTransactionCheckMaxTimeTopic;
  }
  return status;
}

size_t TransactionService::pending_count() const {
  absl::MutexLock lock(&mu_);
  return book_.pending_count();
}

int64_t TransactionService::settled_below() const {
  absl::MutexLock lock(&mu_);
  return book_.settled_below();
}

bool TransactionService::IsSettled(int64_t queue_offset) const {
  absl::MutexLock lock(&mu_);
  return book_.IsSettled(queue_offset);
}

}  // namespace mq::broker
