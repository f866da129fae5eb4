// Put and get counters of a broker: totals and rates over a sliding window,
// for GetRuntimeStats.
#ifndef MQ_SERVICES_BROKER_BROKER_STATS_H_
#define MQ_SERVICES_BROKER_BROKER_STATS_H_

#include <cstdint>

#include "common/clock.h"
#include "common/rate_counter.h"
#include "services/broker/broker_metrics.h"

namespace mq::broker {

// Messages stored (puts) and messages returned by pulls (gets), with their
// rates over the last 10 s; and the broker's metrics, if it keeps them.
// Thread-safe.
class BrokerStats {
 public:
  // `clock` and `metrics` (null: none kept) must outlive the stats.
  explicit BrokerStats(const Clock* clock = Clock::Real(), BrokerMetrics* metrics = nullptr)
      : puts_(absl::Seconds(10), clock), gets_(absl::Seconds(10), clock), metrics_(metrics) {}

  // Null when the broker keeps no metrics.
  BrokerMetrics* metrics() const { return metrics_; }

  void AddPuts(int64_t messages) { puts_.Add(messages); }
  void AddGets(int64_t messages) { gets_.Add(messages); }
  double put_tps() const { return puts_.Rate(); }
  double get_tps() const { return gets_.Rate(); }
  int64_t total_puts() const { return puts_.total(); }
  int64_t total_gets() const { return gets_.total(); }

 private:
  RateCounter puts_;
  RateCounter gets_;
  BrokerMetrics* const metrics_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_BROKER_STATS_H_
