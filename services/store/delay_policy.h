// Where a delayed message waits in the store: the schedule topic's queues and
// the rule that routes an appended message to one of them (RocketMQ's
// SCHEDULE_TOPIC_XXXX rewrite in CommitLog.putMessage, plus RocketMQ 5's
// timer messages). The delivery side is schedule_service.h.
//
// Queues of kScheduleTopic, all first in, first out by due time except one:
//   0 .. levels-1     delay level L (property DELAY = L) waits in queue L-1,
//                     each entry due at its append time + the level's delay.
//   kTimerQueueId     timer messages (TIMER_DELIVER_MS or __STARTDELIVERTIME)
//                     due within kTimerWindow; in any order of due time (the
//                     schedule service keeps this window in memory, sorted).
//   kRollQueueBase+k  timer messages due later than kTimerWindow wait here a
//                     fixed kRollDelayBase * 2^k (the largest that does not
//                     pass their time), then are routed again: each hop at
//                     least halves the time left, so a message due in 3 days
//                     takes at most 13 hops and memory holds only the window.
// Every scheduled record carries REAL_TOPIC / REAL_QID (where it goes in the
// end) and SCHEDULE_DUE_MS (when its current wait ends, also the consume-queue
// unit's tag code, so the schedule reads due times without reading records).
#ifndef MQ_SERVICES_STORE_DELAY_POLICY_H_
#define MQ_SERVICES_STORE_DELAY_POLICY_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/store.pb.h"

namespace mq::store {

inline constexpr absl::string_view kScheduleTopic = "SCHEDULE_TOPIC_XXXX";
// RocketMQ's messageDelayLevel.
inline constexpr absl::string_view kDefaultDelayLevels =
    "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";
inline constexpr int kMaxDelayLevels = 512;
inline constexpr int32_t kTimerQueueId = 900;
inline constexpr int32_t kRollQueueBase = 901;
inline constexpr int kRollQueueCount = 20;
inline constexpr absl::Duration kRollDelayBase = absl::Seconds(30);
inline constexpr absl::Duration kTimerWindow = absl::Seconds(60);
// RocketMQ 5's timerMaxDelaySec default.
inline constexpr absl::Duration kDefaultTimerMaxDelay = absl::Hours(72);

struct DelayPolicyOptions {
  // Delay of level 1, 2, ... (RocketMQ's 18 by default).
  std::vector<absl::Duration> levels;
  // Timer messages due further ahead than this are refused.
  absl::Duration timer_max_delay = kDefaultTimerMaxDelay;
};

// RocketMQ's 18 levels and a 3-day horizon.
DelayPolicyOptions DefaultDelayPolicy();

// Parses a level table such as "1s 5s 10s 1m 2h 500ms": space-separated
// positive durations with a unit (ms, s, m, h, d), at most kMaxDelayLevels.
// INVALID_ARGUMENT naming the bad entry.
absl::StatusOr<std::vector<absl::Duration>> ParseDelayLevels(absl::string_view text);

// The queue a scheduled-message wait of `delay` ends in for a timer message
// (kTimerQueueId or a roll queue) and the length of that wait.
struct TimerHop {
  int32_t queue_id;
  absl::Duration wait;
};
TimerHop ChooseTimerHop(absl::Duration time_left);

// The fixed wait of a FIFO schedule queue that is not a level queue (a roll
// queue); for checks and tests.
absl::Duration RollQueueDelay(int k);

// Whether `entry` carries DELAY or a deliver time (RouteDelayed has work).
bool CarriesDelay(const v1::AppendEntry& entry);

// Removes the deliver-time properties (a timer message's last hop).
void ClearDeliverTime(v1::AppendEntry* entry);

enum class DelayCheck {
  // An append from outside: out-of-range levels and times past the horizon
  // are refused.
  kStrict,
  // The schedule's own re-append of a message accepted before (the table or
  // horizon may have changed since): never refused, levels clamped.
  kLenient,
};

// Routes `entry` to its schedule queue when it carries DELAY > 0 or a deliver
// time in the future (and is not a prepared or rolled-back transaction half,
// as RocketMQ), setting REAL_TOPIC, REAL_QID and SCHEDULE_DUE_MS; returns
// whether it did. Leaves a message due now or earlier (or DELAY = 0) alone.
// INVALID_ARGUMENT, `entry` unchanged, for a DELAY that is not an integer in
// 0..levels, a deliver time that is not an integer or is more than
// timer_max_delay ahead, both properties at once, or (kStrict) a message
// sent to kScheduleTopic itself.
absl::StatusOr<bool> RouteDelayed(const DelayPolicyOptions& options, absl::Time now,
                                  DelayCheck check, v1::AppendEntry* entry);

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_DELAY_POLICY_H_
