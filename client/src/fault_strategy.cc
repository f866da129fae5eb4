#include "client/src/fault_strategy.h"

#include <cstddef>

namespace mq::client_internal {
namespace {

struct Penalty {
  absl::Duration latency_at_least;
  absl::Duration not_available;
};

// Scanned from the largest latency down, as RocketMQ does.
constexpr Penalty kPenalties[] = {
    {absl::Milliseconds(15000), absl::Seconds(600)},
    {absl::Milliseconds(3000), absl::Seconds(180)},
    {absl::Milliseconds(2000), absl::Seconds(120)},
    {absl::Milliseconds(1000), absl::Seconds(60)},
    {absl::Milliseconds(550), absl::Seconds(30)},
    {absl::Milliseconds(100), absl::ZeroDuration()},
    {absl::Milliseconds(50), absl::ZeroDuration()},
};

}  // namespace

absl::Duration ComputeNotAvailableDuration(absl::Duration latency) {
  for (const Penalty& penalty : kPenalties) {
    if (latency >= penalty.latency_at_least) return penalty.not_available;
  }
  return absl::ZeroDuration();
}

absl::optional<MessageQueue> FaultStrategy::SelectQueue(const TopicPublishInfo& info,
                                                        const ThreadLocalIndex& index,
                                                        absl::string_view last_broker) {
  if (!info.ok()) return absl::nullopt;
  if (enabled_) {
    auto available = [this](const MessageQueue& q) {
      return tolerance_.IsAvailable(q.broker_name);
    };
    if (const MessageQueue* q = info.SelectQueue(index, last_broker, available)) return *q;
    if (const MessageQueue* q = info.SelectQueue(index, "", available)) return *q;
    // Every broker is benched: take the least bad one, on a queue of its own.
    if (absl::optional<std::string> broker = tolerance_.PickOneAtLeast()) {
      const int32_t nums = info.WriteQueueNumsOf(*broker);
      if (nums > 0) {
        return MessageQueue{info.queues().front().topic, *broker,
                            static_cast<int32_t>(index.IncrementAndGet() % nums)};
      }
      tolerance_.Remove(*broker);
    }
    return *info.SelectQueue(index);
  }
  if (const MessageQueue* q = info.SelectQueue(index, last_broker, nullptr)) return *q;
  return *info.SelectQueue(index);
}

void FaultStrategy::UpdateFaultItem(const std::string& broker_name, absl::Duration latency,
                                    bool isolation) {
  if (!enabled_) return;
  tolerance_.UpdateFaultItem(broker_name, latency,
                             ComputeNotAvailableDuration(isolation ? kIsolationLatency : latency));
}

}  // namespace mq::client_internal
