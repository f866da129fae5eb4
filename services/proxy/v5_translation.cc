#include "services/proxy/v5_translation.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/src/compression.h"
#include "common/format/property_keys.h"
#include "common/retry_topics.h"
#include "common/status.h"
#include "common/validation.h"

namespace mq::proxy {
namespace {

using common::v1::ResponseCode;

constexpr uint32_t kPermWrite = common::v1::PERM_WRITE;
constexpr uint32_t kPermRead = common::v1::PERM_READ;
// Largest body a compressed one may inflate to (the largest body limit).
constexpr size_t kMaxUncompressedBody = size_t{1} << 30;

// Property keys the system owns: a user property with one of these names
// would change how the message is stored or delivered.
bool IsSystemPropertyKey(absl::string_view key) {
  static const auto* const kKeys = new std::vector<absl::string_view>{
      format::kPropertyTags,
      format::kPropertyKeys,
      format::kPropertyUniqueKey,
      format::kPropertyWaitStoreMsgOk,
      format::kPropertyDelayTimeLevel,
      format::kPropertyTimerDeliverMs,
      format::kPropertyStartDeliverTime,
      format::kPropertyScheduleDueMs,
      format::kPropertyScheduleSource,
      format::kPropertyTransactionPrepared,
      format::kPropertyRealTopic,
      format::kPropertyRealQueueId,
      format::kPropertyRetryTopic,
      format::kPropertyOriginMessageId,
      format::kPropertyReconsumeTime,
      format::kPropertyMaxReconsumeTimes,
      format::kPropertyShardingKey,
      format::kPropertyProducerGroup,
      format::kPropertyTransactionCheckTimes,
      format::kPropertyTransactionPreparedQueueOffset,
  };
  return std::find(kKeys->begin(), kKeys->end(), key) != kKeys->end();
}

google::protobuf::Duration Seconds(int64_t seconds) {
  google::protobuf::Duration duration;
  duration.set_seconds(seconds);
  return duration;
}

google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  google::protobuf::Duration duration;
  duration.set_seconds(absl::IDivDuration(d, absl::Seconds(1), &d));
  duration.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
  return duration;
}

google::protobuf::Timestamp ToProtoTimestamp(int64_t unix_millis) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(unix_millis / 1000);
  timestamp.set_nanos(static_cast<int32_t>(unix_millis % 1000) * 1000000);
  return timestamp;
}

absl::Duration FromProtoDuration(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) + absl::Nanoseconds(duration.nanos());
}

}  // namespace

std::string Md5Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_md5(), nullptr);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

std::vector<v2::MessageType> AcceptedMessageTypes(
    const google::protobuf::Map<std::string, std::string>& attributes) {
  auto it = attributes.find(std::string(kTopicMessageTypeAttribute));
  std::string value = it == attributes.end() ? "MIXED" : absl::AsciiStrToUpper(it->second);
  if (value == "NORMAL") return {v2::MessageType::NORMAL};
  if (value == "FIFO") return {v2::MessageType::FIFO};
  if (value == "DELAY") return {v2::MessageType::DELAY};
  if (value == "TRANSACTION") return {v2::MessageType::TRANSACTION};
  return {v2::MessageType::NORMAL, v2::MessageType::FIFO, v2::MessageType::DELAY,
          v2::MessageType::TRANSACTION};
}

v2::Status MakeStatus(v2::Code code, absl::string_view message) {
  v2::Status status;
  status.set_code(code);
  status.set_message(BoundedMessage(message));
  return status;
}

v2::Status ToV5Status(const absl::Status& status) {
  if (status.ok()) return OkStatus();
  std::string message(status.message());
  absl::optional<ResponseCode> response = GetResponseCode(status);
  if (response.has_value()) {
    switch (*response) {
      case common::v1::SUCCESS:
        break;
      case common::v1::SYSTEM_BUSY:
        return MakeStatus(v2::Code::TOO_MANY_REQUESTS, message);
      case common::v1::TOPIC_NOT_EXIST:
        return MakeStatus(v2::Code::TOPIC_NOT_FOUND, message);
      case common::v1::NO_PERMISSION:
        return MakeStatus(v2::Code::FORBIDDEN, message);
      case common::v1::MESSAGE_ILLEGAL:
        return MakeStatus(v2::Code::BAD_REQUEST, message);
      case common::v1::FLUSH_DISK_TIMEOUT:
        return MakeStatus(v2::Code::MASTER_PERSISTENCE_TIMEOUT, message);
      case common::v1::FLUSH_SLAVE_TIMEOUT:
        return MakeStatus(v2::Code::SLAVE_PERSISTENCE_TIMEOUT, message);
      case common::v1::SLAVE_NOT_AVAILABLE:
        return MakeStatus(v2::Code::HA_NOT_AVAILABLE, message);
      case common::v1::REQUEST_CODE_NOT_SUPPORTED:
        return MakeStatus(v2::Code::NOT_IMPLEMENTED, message);
      case common::v1::VERSION_NOT_SUPPORTED:
        return MakeStatus(v2::Code::VERSION_UNSUPPORTED, message);
      case common::v1::QUERY_NOT_FOUND:
        return MakeStatus(v2::Code::NOT_FOUND, message);
      case common::v1::SUBSCRIPTION_GROUP_NOT_EXIST:
        return MakeStatus(v2::Code::CONSUMER_GROUP_NOT_FOUND, message);
      case common::v1::INVALID_RECEIPT_HANDLE:
        return MakeStatus(v2::Code::INVALID_RECEIPT_HANDLE, message);
      default:
        break;
    }
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return MakeStatus(v2::Code::BAD_REQUEST, message);
    case absl::StatusCode::kNotFound:
      return MakeStatus(v2::Code::NOT_FOUND, message);
    case absl::StatusCode::kPermissionDenied:
      return MakeStatus(v2::Code::FORBIDDEN, message);
    case absl::StatusCode::kUnauthenticated:
      return MakeStatus(v2::Code::UNAUTHORIZED, message);
    case absl::StatusCode::kResourceExhausted:
      return MakeStatus(v2::Code::TOO_MANY_REQUESTS, message);
    case absl::StatusCode::kDeadlineExceeded:
      return MakeStatus(v2::Code::PROXY_TIMEOUT, message);
    case absl::StatusCode::kUnimplemented:
      return MakeStatus(v2::Code::NOT_IMPLEMENTED, message);
    default:
      return MakeStatus(v2::Code::INTERNAL_SERVER_ERROR, message);
  }
}

v2::Status ToV5Status(broker::v1::SendStatus status) {
  switch (status) {
    case broker::v1::FLUSH_DISK_TIMEOUT:
      return MakeStatus(v2::Code::MASTER_PERSISTENCE_TIMEOUT, "stored, not flushed in time");
    case broker::v1::FLUSH_SLAVE_TIMEOUT:
      return MakeStatus(v2::Code::SLAVE_PERSISTENCE_TIMEOUT, "stored, no slave ack in time");
    case broker::v1::SLAVE_NOT_AVAILABLE:
      return MakeStatus(v2::Code::HA_NOT_AVAILABLE, "stored, no slave available");
    default:
      return OkStatus();
  }
}

std::vector<v2::MessageQueue> RouteToMessageQueues(const v2::Resource& topic,
                                                   const common::v1::TopicRouteData& route,
                                                   const v2::Endpoints& access_point) {
  std::map<std::string, const common::v1::QueueData*> by_name;
  for (const common::v1::QueueData& queue : route.queue_datas()) {
    by_name[queue.broker_name()] = &queue;
  }
  std::map<std::string, bool> has_master;
  for (const common::v1::BrokerData& broker : route.broker_datas()) {
    if (broker.broker_addrs().count(0) > 0) has_master[broker.broker_name()] = true;
  }
  v2::Endpoints endpoints;
  endpoints.set_scheme(access_point.scheme());
  if (access_point.addresses_size() > 0) *endpoints.add_addresses() = access_point.addresses(0);

  std::vector<v2::MessageQueue> queues;
  for (const auto& [name, data] : by_name) {
    if (!has_master[name]) continue;
    std::vector<v2::MessageType> types = AcceptedMessageTypes(data->attributes());
    int32_t count = std::max(data->read_queue_nums(), data->write_queue_nums());
    for (int32_t id = 0; id < count; ++id) {
      bool readable = (data->perm() & kPermRead) != 0 && id < data->read_queue_nums();
      bool writable = (data->perm() & kPermWrite) != 0 && id < data->write_queue_nums();
      v2::MessageQueue queue;
      *queue.mutable_topic() = topic;
      queue.set_id(id);
      queue.set_permission(readable && writable ? v2::Permission::READ_WRITE
                           : readable           ? v2::Permission::READ
                           : writable           ? v2::Permission::WRITE
                                                : v2::Permission::NONE);
      queue.mutable_broker()->set_name(name);
      queue.mutable_broker()->set_id(0);
      *queue.mutable_broker()->mutable_endpoints() = endpoints;
      for (v2::MessageType type : types) queue.add_accept_message_types(type);
      queues.push_back(std::move(queue));
    }
  }
  return queues;
}

std::vector<WritableQueue> WritableQueues(const common::v1::TopicRouteData& route) {
  std::map<std::string, std::string> masters;
  for (const common::v1::BrokerData& broker : route.broker_datas()) {
    auto it = broker.broker_addrs().find(0);
    if (it != broker.broker_addrs().end()) masters[broker.broker_name()] = it->second;
  }
  std::vector<WritableQueue> queues;
  for (const common::v1::QueueData& data : route.queue_datas()) {
    auto master = masters.find(data.broker_name());
    if (master == masters.end() || (data.perm() & kPermWrite) == 0) continue;
    for (int32_t id = 0; id < data.write_queue_nums(); ++id) {
      queues.push_back({data.broker_name(), master->second, id});
    }
  }
  std::sort(queues.begin(), queues.end(), [](const WritableQueue& a, const WritableQueue& b) {
    return std::tie(a.broker_name, a.queue_id) < std::tie(b.broker_name, b.queue_id);
  });
  return queues;
}

size_t QueueForMessageGroup(absl::string_view message_group, size_t count) {
  // FNV-1a: stable across processes and builds (std::hash is not).
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : message_group) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return count == 0 ? 0 : static_cast<size_t>(hash % count);
}

bool IsConsumer(v2::ClientType type) {
  return type == v2::ClientType::PUSH_CONSUMER || type == v2::ClientType::SIMPLE_CONSUMER ||
         type == v2::ClientType::PULL_CONSUMER;
}

v2::TelemetryCommand SettingsReply(const v2::Settings& settings, const ServerSettings& server,
                                   const broker::v1::SubscriptionGroupConfig* group) {
  v2::TelemetryCommand reply;
  *reply.mutable_status() = OkStatus();
  v2::Settings* out = reply.mutable_settings();
  *out = settings;
  v2::RetryPolicy* backoff = out->mutable_backoff_policy();
  backoff->clear_customized_backoff();
  v2::ExponentialBackoff* exponential = backoff->mutable_exponential_backoff();
  *exponential->mutable_initial() = Seconds(1);
  *exponential->mutable_max() = Seconds(10);
  exponential->set_multiplier(2);
  if (settings.client_type() == v2::ClientType::PRODUCER || settings.has_publishing()) {
    int32_t attempts = settings.has_backoff_policy() && settings.backoff_policy().max_attempts() > 0
                           ? settings.backoff_policy().max_attempts()
                           : 3;
    backoff->set_max_attempts(attempts);
    out->mutable_publishing()->set_max_body_size(server.max_body_size);
    out->mutable_publishing()->set_validate_message_type(true);
  } else if (IsConsumer(settings.client_type()) || settings.has_subscription()) {
    int32_t retry_max_times =
        group != nullptr ? group->retry_max_times() : kDefaultMaxReconsumeTimes;
    backoff->set_max_attempts(retry_max_times + 1);
    v2::Subscription* subscription = out->mutable_subscription();
    subscription->set_receive_batch_size(kMaxReceiveBatchSize);
    *subscription->mutable_long_polling_timeout() = ToProtoDuration(server.long_polling_timeout);
    subscription->set_fifo(group != nullptr && group->consume_message_orderly());
  }
  return reply;
}

v2::MessageType MessageTypeOf(const v2::Message& message) {
  const v2::SystemProperties& system = message.system_properties();
  if (system.message_type() != v2::MessageType::MESSAGE_TYPE_UNSPECIFIED) {
    return system.message_type();
  }
  if (system.has_message_group()) return v2::MessageType::FIFO;
  if (system.has_delivery_timestamp()) return v2::MessageType::DELAY;
  return v2::MessageType::NORMAL;
}

TranslatedSend TranslateSend(const v2::Message& message, const SendLimits& limits) {
  TranslatedSend out;
  auto fail = [&out](v2::Code code, std::string why) {
    out.code = code;
    out.error = std::move(why);
    return out;
  };
  const v2::SystemProperties& system = message.system_properties();
  const std::string& topic = message.topic().name();
  if (absl::Status valid = ValidateTopic(topic); !valid.ok()) {
    return fail(v2::Code::ILLEGAL_TOPIC, std::string(valid.message()));
  }
  if (message.body().empty()) return fail(v2::Code::MESSAGE_BODY_EMPTY, "the body is empty");
  if (static_cast<int64_t>(message.body().size()) > limits.max_body_size) {
    return fail(v2::Code::MESSAGE_BODY_TOO_LARGE,
                absl::StrCat("the body is ", message.body().size(), " bytes, more than the ",
                             limits.max_body_size, " allowed"));
  }
  if (system.message_id().empty() || system.message_id().size() > 128 ||
      !HasOnlyValidNameChars(system.message_id())) {
    return fail(v2::Code::ILLEGAL_MESSAGE_ID,
                absl::StrCat("message id ", QuoteInput(system.message_id()),
                             " is not 1..128 characters of [%|a-zA-Z0-9_-]"));
  }
  if (system.has_tag() && (system.tag().empty() || absl::StrContains(system.tag(), "|") ||
                           std::any_of(system.tag().begin(), system.tag().end(),
                                       [](unsigned char c) { return absl::ascii_isspace(c); }))) {
    return fail(
        v2::Code::ILLEGAL_MESSAGE_TAG,
        absl::StrCat("tag ", QuoteInput(system.tag()), " is empty or holds '|' or white space"));
  }
  for (const std::string& key : system.keys()) {
    if (key.empty() || std::any_of(key.begin(), key.end(),
                                   [](unsigned char c) { return absl::ascii_isspace(c); })) {
      return fail(v2::Code::ILLEGAL_MESSAGE_KEY,
                  absl::StrCat("key ", QuoteInput(key), " is empty or holds white space"));
    }
  }
  for (const auto& [key, value] : message.user_properties()) {
    if (key.empty() || IsSystemPropertyKey(key)) {
      return fail(
          v2::Code::ILLEGAL_MESSAGE_PROPERTY_KEY,
          absl::StrCat("property key ", QuoteInput(key), " is empty or reserved for the system"));
    }
  }

  out.type = MessageTypeOf(message);
  bool has_group = system.has_message_group();
  bool has_delivery = system.has_delivery_timestamp();
  switch (out.type) {
    case v2::MessageType::NORMAL:
    case v2::MessageType::TRANSACTION:
      if (has_group || has_delivery) {
        return fail(v2::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
                    "a NORMAL or TRANSACTION message has no message group or delivery time");
      }
      break;
    case v2::MessageType::FIFO:
      if (!has_group || has_delivery) {
        return fail(v2::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
                    "a FIFO message has a message group and no delivery time");
      }
      break;
    case v2::MessageType::DELAY:
      if (!has_delivery || has_group) {
        return fail(v2::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
                    "a DELAY message has a delivery time and no message group");
      }
      break;
    default:
      return fail(v2::Code::BAD_REQUEST,
                  absl::StrCat("message type ", v2::MessageType_Name(out.type),
                               " is not supported; send NORMAL, FIFO, DELAY or TRANSACTION"));
  }
  if (has_group && (system.message_group().empty() || system.message_group().size() > 64 ||
                    !HasOnlyValidNameChars(system.message_group()))) {
    return fail(v2::Code::ILLEGAL_MESSAGE_GROUP,
                absl::StrCat("message group ", QuoteInput(system.message_group()),
                             " is not 1..64 characters of [%|a-zA-Z0-9_-]"));
  }
  absl::Time deliver_at;
  if (has_delivery) {
    const google::protobuf::Timestamp& at = system.delivery_timestamp();
    if (at.seconds() < 0 || at.nanos() < 0 || at.nanos() >= 1000000000) {
      return fail(v2::Code::ILLEGAL_DELIVERY_TIME, "the delivery time is not a valid time");
    }
    deliver_at = absl::FromUnixSeconds(at.seconds()) + absl::Nanoseconds(at.nanos());
  }

  broker::v1::SendMessageRequest& request = out.request;
  request.set_queue_id(-1);
  request.set_producer_group(TransactionProducerGroup(topic));
  if (system.has_born_timestamp()) {
    request.set_born_timestamp_ms(system.born_timestamp().seconds() * 1000 +
                                  system.born_timestamp().nanos() / 1000000);
  }
  common::v1::Message* stored = request.mutable_message();
  stored->set_topic(topic);
  stored->set_body(message.body());
  auto& properties = *stored->mutable_properties();
  for (const auto& [key, value] : message.user_properties()) properties[key] = value;
  properties[std::string(format::kPropertyUniqueKey)] = system.message_id();
  if (system.has_tag()) properties[std::string(format::kPropertyTags)] = system.tag();
  if (system.keys_size() > 0) {
    properties[std::string(format::kPropertyKeys)] = absl::StrJoin(system.keys(), " ");
  }
  if (has_group) properties[std::string(format::kPropertyShardingKey)] = system.message_group();
  if (has_delivery) {
    properties[std::string(format::kPropertyTimerDeliverMs)] =
        absl::StrCat(absl::ToUnixMillis(deliver_at));
  }
  if (out.type == v2::MessageType::TRANSACTION) {
    properties[std::string(format::kPropertyTransactionPrepared)] = "true";
    properties[std::string(format::kPropertyProducerGroup)] = TransactionProducerGroup(topic);
  }
  return out;
}

std::string TransactionProducerGroup(absl::string_view topic) { return std::string(topic); }

std::string EncodeTransactionId(const TransactionHandle& handle) {
  return absl::StrCat(handle.broker_name, "/", handle.commit_log_offset, "/", handle.queue_offset);
}

absl::StatusOr<TransactionHandle> DecodeTransactionId(absl::string_view id) {
  std::vector<absl::string_view> parts = absl::StrSplit(id, '/');
  TransactionHandle handle;
  if (parts.size() != 3 || !ValidateName("broker name", parts[0]).ok() ||
      !absl::SimpleAtoi(parts[1], &handle.commit_log_offset) ||
      !absl::SimpleAtoi(parts[2], &handle.queue_offset) || handle.commit_log_offset < 0 ||
      handle.queue_offset < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("transaction id ", QuoteInput(id),
                     " is not one this server gave out (broker/commit-log offset/queue offset)"));
  }
  handle.broker_name = std::string(parts[0]);
  return handle;
}

v2::Message ToV5Message(const common::v1::MessageExt& message) {
  v2::Message out;
  out.mutable_topic()->set_name(message.topic());
  out.set_body(message.body());
  if ((message.sys_flag() & client_internal::kCompressedFlag) != 0) {
    // Our C++ producer's zlib (not the gzip v5 clients could undo): plain.
    // A body that does not inflate is handed out as stored.
    absl::StatusOr<std::string> plain =
        client_internal::ZlibUncompress(message.body(), kMaxUncompressedBody);
    if (plain.ok()) out.set_body(*std::move(plain));
  }
  v2::SystemProperties* system = out.mutable_system_properties();
  system->set_message_id(message.msg_id());
  system->set_body_encoding(v2::Encoding::IDENTITY);
  system->mutable_body_digest()->set_type(v2::DigestType::MD5);
  system->mutable_body_digest()->set_checksum(Md5Hex(out.body()));
  system->set_queue_id(message.queue_id());
  system->set_queue_offset(message.queue_offset());
  system->set_born_host(message.born_host());
  system->set_store_host(message.store_host());
  *system->mutable_born_timestamp() = ToProtoTimestamp(message.born_timestamp_ms());
  if (message.store_timestamp_ms() > 0) {
    *system->mutable_store_timestamp() = ToProtoTimestamp(message.store_timestamp_ms());
  }
  bool half = false;
  for (const auto& [key, value] : message.properties()) {
    int64_t deliver_ms = 0;
    if (key == format::kPropertyTags) {
      system->set_tag(value);
    } else if (key == format::kPropertyKeys) {
      for (absl::string_view k : absl::StrSplit(value, ' ', absl::SkipEmpty())) {
        system->add_keys(std::string(k));
      }
    } else if (key == format::kPropertyUniqueKey) {
      system->set_message_id(value);
    } else if (key == format::kPropertyShardingKey) {
      system->set_message_group(value);
    } else if (key == format::kPropertyTimerDeliverMs && absl::SimpleAtoi(value, &deliver_ms)) {
      *system->mutable_delivery_timestamp() = ToProtoTimestamp(deliver_ms);
    } else if (key == format::kPropertyTransactionPrepared) {
      half = value == "true";
    } else if (!IsSystemPropertyKey(key)) {
      (*out.mutable_user_properties())[key] = value;
    }
  }
  system->set_message_type(half                               ? v2::MessageType::TRANSACTION
                           : system->has_message_group()      ? v2::MessageType::FIFO
                           : system->has_delivery_timestamp() ? v2::MessageType::DELAY
                                                              : v2::MessageType::NORMAL);
  return out;
}

std::string EncodeReceiptHandle(absl::string_view broker_name, absl::string_view broker_handle) {
  return absl::StrCat(broker_name, ":", broker_handle);
}

absl::StatusOr<ReceiptHandle> DecodeReceiptHandle(absl::string_view handle) {
  size_t colon = handle.find(':');
  if (colon == absl::string_view::npos || colon + 1 == handle.size() ||
      !ValidateName("broker name", handle.substr(0, colon)).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipt handle ", QuoteInput(handle), " is not one this server handed out"));
  }
  return ReceiptHandle{std::string(handle.substr(0, colon)), std::string(handle.substr(colon + 1))};
}

absl::StatusOr<int64_t> InvisibleMillis(const google::protobuf::Duration* duration) {
  auto out_of_range = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the invisible duration ", what, "; it must be ",
        absl::FormatDuration(kMinInvisibleDuration), " .. ",
        absl::FormatDuration(kMaxInvisibleDuration), " (shorter ones are raised to the minimum)"));
  };
  if (duration == nullptr) return out_of_range("is missing");
  if (duration->seconds() < 0 || duration->nanos() < 0) return out_of_range("is negative");
  absl::Duration d = FromProtoDuration(*duration);
  if (d > kMaxInvisibleDuration) {
    return out_of_range(absl::StrCat("of ", absl::FormatDuration(d), " is too long"));
  }
  return absl::ToInt64Milliseconds(std::max(d, kMinInvisibleDuration));
}

v2::Message ToV5Delivered(const broker::v1::PoppedMessage& popped, absl::string_view broker_name,
                          absl::Time now) {
  v2::Message out = ToV5Message(popped.message());
  v2::SystemProperties* system = out.mutable_system_properties();
  system->set_receipt_handle(EncodeReceiptHandle(broker_name, popped.receipt_handle()));
  system->set_delivery_attempt(std::max(popped.delivery_attempt(), 1));
  absl::Duration invisible = absl::FromUnixMillis(popped.invisible_until_ms()) - now;
  *system->mutable_invisible_duration() =
      ToProtoDuration(std::max(invisible, absl::ZeroDuration()));
  return out;
}

TranslatedReceive TranslateReceive(const v2::ReceiveMessageRequest& receive,
                                   absl::string_view client_id, absl::Duration time_left,
                                   absl::Duration call_timeout, const ReceiveLimits& limits) {
  TranslatedReceive out;
  auto fail = [&out](v2::Code code, std::string why) {
    out.code = code;
    out.error = std::move(why);
    return out;
  };
  const std::string& group = receive.group().name();
  if (absl::Status valid = ValidateGroup(group); !valid.ok()) {
    return fail(v2::Code::ILLEGAL_CONSUMER_GROUP, std::string(valid.message()));
  }
  const std::string& topic = receive.message_queue().topic().name();
  if (absl::Status valid = ValidateTopic(topic); !valid.ok()) {
    return fail(v2::Code::ILLEGAL_TOPIC, std::string(valid.message()));
  }
  const std::string& broker_name = receive.message_queue().broker().name();
  if (absl::Status valid = ValidateName("message_queue.broker.name", broker_name); !valid.ok()) {
    return fail(v2::Code::BAD_REQUEST, std::string(valid.message()));
  }
  if (receive.batch_size() < 1) {
    return fail(v2::Code::BAD_REQUEST,
                absl::StrCat("batch_size is ", receive.batch_size(), "; it must be at least 1"));
  }
  const v2::FilterExpression& filter = receive.filter_expression();
  if (filter.type() == v2::FilterType::SQL) {
    return fail(v2::Code::ILLEGAL_FILTER_EXPRESSION,
                "SQL92 filters are not supported; filter by TAG (\"*\" or \"TagA || TagB\")");
  }
  int64_t invisible_ms = absl::ToInt64Milliseconds(limits.auto_renew_invisible);
  if (!receive.auto_renew()) {
    absl::StatusOr<int64_t> millis =
        InvisibleMillis(receive.has_invisible_duration() ? &receive.invisible_duration() : nullptr);
    if (!millis.ok())
      return fail(v2::Code::ILLEGAL_INVISIBLE_TIME, std::string(millis.status().message()));
    invisible_ms = *millis;
  }
  absl::Duration polling = absl::ZeroDuration();
  if (receive.has_long_polling_timeout()) {
    const google::protobuf::Duration& timeout = receive.long_polling_timeout();
    if (timeout.seconds() < 0 || timeout.nanos() < 0) {
      return fail(v2::Code::ILLEGAL_POLLING_TIME, "the long polling timeout is negative");
    }
    polling = FromProtoDuration(timeout);
  }
  if (time_left != absl::InfiniteDuration()) {
    time_left = std::max(time_left, absl::ZeroDuration());
    absl::Duration reserve = std::min(limits.deadline_reserve, time_left / 2);
    polling = std::clamp(polling, absl::ZeroDuration(), time_left - reserve);
    out.backend_timeout = std::max(time_left - reserve / 2, absl::ZeroDuration());
  } else {
    out.backend_timeout = polling + call_timeout;
  }
  broker::v1::PopMessageRequest& request = out.request;
  request.set_consumer_group(group);
  request.set_topic(topic);
  request.set_queue_id(-1);
  request.set_max_msg_nums(std::min(receive.batch_size(), kMaxReceiveBatchSize));
  request.set_invisible_time_ms(invisible_ms);
  request.set_poll_timeout_ms(absl::ToInt64Milliseconds(polling));
  request.set_subscription(filter.expression().empty() ? "*" : filter.expression());
  request.set_client_id(std::string(client_id));
  request.set_broker_name(broker_name);
  return out;
}

std::vector<v2::Assignment> RouteToAssignments(const v2::Resource& topic,
                                               const common::v1::TopicRouteData& route,
                                               const v2::Endpoints& access_point) {
  std::vector<v2::Assignment> assignments;
  for (v2::MessageQueue& queue : RouteToMessageQueues(topic, route, access_point)) {
    // Queue 0 of a broker is readable whenever any of its queues is.
    if (queue.id() != 0) continue;
    if (queue.permission() != v2::Permission::READ &&
        queue.permission() != v2::Permission::READ_WRITE) {
      continue;
    }
    queue.set_id(-1);
    *assignments.emplace_back().mutable_message_queue() = std::move(queue);
  }
  return assignments;
}

std::string MasterAddress(const common::v1::TopicRouteData& route, absl::string_view broker_name) {
  for (const common::v1::BrokerData& broker : route.broker_datas()) {
    if (broker.broker_name() != broker_name) continue;
    auto master = broker.broker_addrs().find(0);
    if (master != broker.broker_addrs().end()) return master->second;
  }
  return "";
}

}  // namespace mq::proxy
