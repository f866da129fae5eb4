#include "services/store/record_conversion.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/validation.h"

namespace mq::store {

namespace {

absl::Status ParseOptionalHost(absl::string_view what, const std::string& text,
                               format::HostAddress* out) {
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<format::HostAddress> host = format::ParseHostAddress(text);
  if (!host.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", host.status().message()));
  }
  *out = *host;
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAppendEntry(const v1::AppendEntry& entry) {
  if (absl::Status s = ValidateTopic(entry.message().topic()); !s.ok()) return s;
  if (absl::Status s = ValidateQueueId(entry.queue_id()); !s.ok()) return s;
  if ((entry.sys_flag() & ~format::kSysFlagsAccepted) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "sys_flag 0x%x has bits this store does not implement (accepted: 0x%x, compressed body)",
        static_cast<uint32_t>(entry.sys_flag()), format::kSysFlagsAccepted));
  }
  if (entry.born_timestamp_ms() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("born_timestamp_ms ", entry.born_timestamp_ms(), " is negative"));
  }
  if (entry.reconsume_times() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("reconsume_times ", entry.reconsume_times(), " is negative"));
  }
  return absl::OkStatus();
}

absl::Status ToPendingRecord(const v1::AppendEntry& entry, PendingRecord* out) {
  if (absl::Status s = ValidateAppendEntry(entry); !s.ok()) return s;
  const common::v1::Message& message = entry.message();
  // A protobuf map iterates in no fixed order; sort so equal messages encode equally.
  std::map<std::string, std::string> sorted(message.properties().begin(),
                                            message.properties().end());
  absl::StatusOr<std::string> properties = format::EncodeProperties(sorted);
  if (!properties.ok()) return properties.status();
  out->properties = *std::move(properties);

  format::MessageRecord& record = out->record;
  record = format::MessageRecord();
  record.queue_id = entry.queue_id();
  record.flag = message.flag();
  record.sys_flag = entry.sys_flag();
  record.born_timestamp_ms = entry.born_timestamp_ms();
  record.reconsume_times = entry.reconsume_times();
  if (absl::Status s = ParseOptionalHost("born host", entry.born_host(), &record.born_host);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseOptionalHost("store host", entry.store_host(), &record.store_host);
      !s.ok()) {
    return s;
  }
  record.body = message.body();
  record.topic = message.topic();
  record.properties = out->properties;
  return absl::OkStatus();
}

}  // namespace mq::store
