#include "mq/message.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/format/property_keys.h"
#include "common/format/record_format.h"

namespace mq {

static_assert(kDefaultMaxMessageBodyBytes == format::kDefaultMaxMessageBodyBytes,
              "the public default body limit must be the format's");

Message::Message(std::string topic, std::string body)
    : topic_(std::move(topic)), body_(std::move(body)) {}

Message::Message(std::string topic, absl::string_view tags, std::string body)
    : Message(std::move(topic), std::move(body)) {
  set_tags(tags);
}

Message::Message(std::string topic, absl::string_view tags, absl::string_view keys,
                 std::string body)
    : Message(std::move(topic), tags, std::move(body)) {
  set_keys(keys);
}

std::string Message::tags() const { return GetProperty(format::kPropertyTags); }

void Message::set_tags(absl::string_view tags) { SetProperty(format::kPropertyTags, tags); }

std::string Message::keys() const { return GetProperty(format::kPropertyKeys); }

void Message::set_keys(absl::string_view keys) { SetProperty(format::kPropertyKeys, keys); }

void Message::set_keys(const std::vector<std::string>& keys) {
  SetProperty(format::kPropertyKeys, absl::StrJoin(keys, " "));
}

std::string Message::unique_id() const { return GetProperty(format::kPropertyUniqueKey); }

void Message::set_unique_id(absl::string_view id) { SetProperty(format::kPropertyUniqueKey, id); }

void Message::SetDelayTimeLevel(int level) {
  SetProperty(format::kPropertyDelayTimeLevel, level == 0 ? "" : absl::StrCat(level));
}

int Message::delay_time_level() const {
  int level = 0;
  return absl::SimpleAtoi(GetProperty(format::kPropertyDelayTimeLevel), &level) ? level : 0;
}

void Message::SetDeliverTime(absl::Time at) {
  SetProperty(format::kPropertyTimerDeliverMs,
              at == absl::InfinitePast() ? "" : absl::StrCat(absl::ToUnixMillis(at)));
}

absl::optional<absl::Time> Message::deliver_time() const {
  int64_t ms = 0;
  if (!absl::SimpleAtoi(GetProperty(format::kPropertyTimerDeliverMs), &ms)) return absl::nullopt;
  return absl::FromUnixMillis(ms);
}

void Message::SetProperty(absl::string_view key, absl::string_view value) {
  if (value.empty()) {
    properties_.erase(std::string(key));
  } else {
    properties_[std::string(key)] = std::string(value);
  }
}

std::string Message::GetProperty(absl::string_view key) const {
  auto it = properties_.find(std::string(key));
  return it == properties_.end() ? std::string() : it->second;
}

}  // namespace mq
