#include "services/store/delay_policy.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/format/property_keys.h"
#include "common/format/record_format.h"

namespace mq::store {

namespace {

absl::StatusOr<absl::Duration> ParseLevel(absl::string_view text) {
  struct Unit {
    absl::string_view suffix;
    absl::Duration unit;
  };
  // "ms" before "m" and "s": the longest suffix that matches wins.
  static constexpr Unit kUnits[] = {{"ms", absl::Milliseconds(1)},
                                    {"s", absl::Seconds(1)},
                                    {"m", absl::Minutes(1)},
                                    {"h", absl::Hours(1)},
                                    {"d", absl::Hours(24)}};
  for (const Unit& unit : kUnits) {
    if (!absl::EndsWith(text, unit.suffix)) continue;
    int64_t count = 0;
    if (!absl::SimpleAtoi(text.substr(0, text.size() - unit.suffix.size()), &count) || count <= 0) {
      break;
    }
    return count * unit.unit;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "delay level \"", text, "\" is not a positive integer with a unit (ms, s, m, h, d)"));
}

std::string* MutableProperty(v1::AppendEntry* entry, absl::string_view key) {
  return &(*entry->mutable_message()->mutable_properties())[std::string(key)];
}

const std::string* GetProperty(const v1::AppendEntry& entry, absl::string_view key) {
  const auto& properties = entry.message().properties();
  auto it = properties.find(std::string(key));
  return it == properties.end() ? nullptr : &it->second;
}

// The transaction types RocketMQ schedules (NOT and COMMIT); half messages
// and rollbacks are never delayed.
bool IsDeliverable(int32_t sys_flag) {
  int32_t type = sys_flag & format::kSysFlagTransactionTypeMask;
  return type == format::kSysFlagTransactionNotType ||
         type == format::kSysFlagTransactionCommitType;
}

void Reroute(int32_t queue_id, absl::Time due, v1::AppendEntry* entry) {
  if (entry->message().topic() != kScheduleTopic) {
    *MutableProperty(entry, format::kPropertyRealTopic) = entry->message().topic();
    *MutableProperty(entry, format::kPropertyRealQueueId) = absl::StrCat(entry->queue_id());
  }
  *MutableProperty(entry, format::kPropertyScheduleDueMs) = absl::StrCat(absl::ToUnixMillis(due));
  entry->mutable_message()->set_topic(std::string(kScheduleTopic));
  entry->set_queue_id(queue_id);
}

}  // namespace

bool CarriesDelay(const v1::AppendEntry& entry) {
  return GetProperty(entry, format::kPropertyDelayTimeLevel) != nullptr ||
         GetProperty(entry, format::kPropertyTimerDeliverMs) != nullptr ||
         GetProperty(entry, format::kPropertyStartDeliverTime) != nullptr;
}

void ClearDeliverTime(v1::AppendEntry* entry) {
  auto* properties = entry->mutable_message()->mutable_properties();
  properties->erase(std::string(format::kPropertyTimerDeliverMs));
  properties->erase(std::string(format::kPropertyStartDeliverTime));
}

absl::StatusOr<std::vector<absl::Duration>> ParseDelayLevels(absl::string_view text) {
  std::vector<absl::Duration> levels;
  for (absl::string_view item : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    absl::StatusOr<absl::Duration> level = ParseLevel(item);
    if (!level.ok()) return level.status();
    levels.push_back(*level);
  }
  if (levels.empty()) return absl::InvalidArgumentError("the delay level table is empty");
  if (levels.size() > kMaxDelayLevels) {
    return absl::InvalidArgumentError(absl::StrCat("the delay level table has ", levels.size(),
                                                   " levels, more than ", kMaxDelayLevels));
  }
  return levels;
}

DelayPolicyOptions DefaultDelayPolicy() {
  DelayPolicyOptions options;
  options.levels = *ParseDelayLevels(kDefaultDelayLevels);
  return options;
}

absl::Duration RollQueueDelay(int k) { return kRollDelayBase * (int64_t{1} << k); }

TimerHop ChooseTimerHop(absl::Duration time_left) {
  if (time_left <= kTimerWindow) return {kTimerQueueId, time_left};
  int k = 0;
  while (k + 1 < kRollQueueCount && RollQueueDelay(k + 1) <= time_left) ++k;
  return {kRollQueueBase + k, RollQueueDelay(k)};
}

absl::StatusOr<bool> RouteDelayed(const DelayPolicyOptions& options, absl::Time now,
                                  DelayCheck check, v1::AppendEntry* entry) {
  if (check == DelayCheck::kStrict && entry->message().topic() == kScheduleTopic) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic ", kScheduleTopic, " is the store's schedule; send with DELAY or ",
                     format::kPropertyTimerDeliverMs, " to the real topic instead"));
  }
  const std::string* level_text = GetProperty(*entry, format::kPropertyDelayTimeLevel);
  const std::string* deliver_text = GetProperty(*entry, format::kPropertyTimerDeliverMs);
  absl::string_view deliver_key = format::kPropertyTimerDeliverMs;
  if (deliver_text == nullptr) {
    deliver_text = GetProperty(*entry, format::kPropertyStartDeliverTime);
    deliver_key = format::kPropertyStartDeliverTime;
  }
  if (level_text == nullptr && deliver_text == nullptr) return false;
  if (level_text != nullptr && deliver_text != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("a message may carry ",
                                                   format::kPropertyDelayTimeLevel, " or ",
                                                   deliver_key, ", not both"));
  }
  if (level_text != nullptr) {
    int level = 0;
    int max_level = static_cast<int>(options.levels.size());
    if (!absl::SimpleAtoi(*level_text, &level) ||
        (check == DelayCheck::kStrict && (level < 0 || level > max_level))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "delay level ", format::kPropertyDelayTimeLevel, "=\"", *level_text,
          "\" is out of range: this store has levels 1..", max_level, " (0 for none)"));
    }
    if (level <= 0 || !IsDeliverable(entry->sys_flag())) return false;
    level = std::min(level, max_level);
    Reroute(level - 1, now + options.levels[level - 1], entry);
    return true;
  }
  int64_t deliver_ms = 0;
  if (!absl::SimpleAtoi(*deliver_text, &deliver_ms)) {
    return absl::InvalidArgumentError(absl::StrCat(
        deliver_key, "=\"", *deliver_text, "\" is not a time in milliseconds since the epoch"));
  }
  absl::Time deliver = absl::FromUnixMillis(deliver_ms);
  if (check == DelayCheck::kStrict && deliver - now > options.timer_max_delay) {
    return absl::InvalidArgumentError(
        absl::StrCat(deliver_key, "=", deliver_ms, " is ", absl::FormatDuration(deliver - now),
                     " ahead, past this store's limit of ",
                     absl::FormatDuration(options.timer_max_delay), " (--timer_max_delay)"));
  }
  if (deliver <= now || !IsDeliverable(entry->sys_flag())) return false;
  TimerHop hop = ChooseTimerHop(deliver - now);
  Reroute(hop.queue_id, hop.queue_id == kTimerQueueId ? deliver : now + hop.wait, entry);
  return true;
}

}  // namespace mq::store
