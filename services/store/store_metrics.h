// The store's Prometheus metrics: append, flush and replication-ack latency,
// retention deletions, and (read when scraped, from GetStats) commit-log
// size, disk use, flush and dispatch lag, and each slave's replication lag.
#ifndef MQ_SERVICES_STORE_STORE_METRICS_H_
#define MQ_SERVICES_STORE_STORE_METRICS_H_

#include <functional>

#include "absl/status/statusor.h"
#include "common/metrics/registry.h"
#include "proto/store.pb.h"

namespace mq::store {

// Families live in the registry; thread-safe as the metrics are.
struct StoreMetrics {
  explicit StoreMetrics(metrics::Registry* registry);

  // One commit-log append (a batch) under the append lock.
  metrics::Histogram* const append_latency;
  // One flush of the commit log to disk (sync or async flushing).
  metrics::Histogram* const flush_latency;
  // A SYNC_MASTER append's wait for a slave's ack.
  metrics::Histogram* const replication_ack_latency;
  // Files retention deleted, by kind: commitlog, consumequeue, index.
  metrics::Family<metrics::Counter>* const retention_deleted_files;
};

// Adds the gauges read from `stats` (the store's GetStats) at each scrape.
void AddStoreStatsCollector(metrics::Registry* registry,
                            std::function<absl::StatusOr<v1::GetStatsResponse>()> stats);

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_STORE_METRICS_H_
