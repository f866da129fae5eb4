#include "client/src/latency_fault_tolerance.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace mq::client_internal {

void LatencyFaultTolerance::UpdateFaultItem(const std::string& broker_name, absl::Duration latency,
                                            absl::Duration not_available) {
  absl::MutexLock lock(&mu_);
  items_[broker_name] = FaultItem{latency, clock_->Now() + not_available};
}

bool LatencyFaultTolerance::IsAvailable(absl::string_view broker_name) const {
  absl::MutexLock lock(&mu_);
  auto it = items_.find(broker_name);
  return it == items_.end() || clock_->Now() >= it->second.available_from;
}

void LatencyFaultTolerance::Remove(absl::string_view broker_name) {
  absl::MutexLock lock(&mu_);
  items_.erase(broker_name);
}

absl::optional<std::string> LatencyFaultTolerance::PickOneAtLeast() {
  absl::MutexLock lock(&mu_);
  if (items_.empty()) return absl::nullopt;
  const absl::Time now = clock_->Now();
  struct Candidate {
    bool benched;
    absl::Duration latency;
    absl::Time available_from;
    const std::string* name;
  };
  std::vector<Candidate> candidates;
  for (const auto& [name, item] : items_) {
    candidates.push_back({now < item.available_from, item.latency, item.available_from, &name});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.benched, a.latency, a.available_from, *a.name) <
           std::tie(b.benched, b.latency, b.available_from, *b.name);
  });
  const size_t half = candidates.size() / 2;
  if (half == 0) return *candidates[0].name;
  return *candidates[which_item_worst_++ % half].name;
}

}  // namespace mq::client_internal
