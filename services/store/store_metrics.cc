#include "services/store/store_metrics.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mq::store {

StoreMetrics::StoreMetrics(metrics::Registry* registry)
    : append_latency(registry
                         ->AddHistogram("rocketmq_storage_append_latency_seconds",
                                        "Time to append one batch to the commit log.", {},
                                        &metrics::LatencyBuckets())
                         ->Get()),
      flush_latency(registry
                        ->AddHistogram("rocketmq_storage_flush_latency_seconds",
                                       "Time of one flush of the commit log to disk.", {},
                                       &metrics::LatencyBuckets())
                        ->Get()),
      replication_ack_latency(
          registry
              ->AddHistogram("rocketmq_replication_ack_latency_seconds",
                             "SYNC_MASTER: time an append waited for a slave's ack.", {},
                             &metrics::LatencyBuckets())
              ->Get()),
      retention_deleted_files(registry->AddCounter(
          "rocketmq_storage_retention_deleted_files_total",
          "Files retention deleted, by kind (commitlog, consumequeue, index).", {"kind"})) {}

void AddStoreStatsCollector(metrics::Registry* registry,
                            std::function<absl::StatusOr<v1::GetStatsResponse>()> stats) {
  registry->AddCollector([stats = std::move(stats)](metrics::Collection* out) {
    absl::StatusOr<v1::GetStatsResponse> got = stats();
    if (!got.ok()) return;
    const v1::GetStatsResponse& s = *got;
    out->Gauge("rocketmq_storage_size_bytes", "Bytes the commit log holds (max - min offset).", {},
               {}, static_cast<double>(s.max_physical_offset() - s.min_physical_offset()));
    out->Gauge("rocketmq_storage_max_offset_bytes", "End of the commit log (its max offset).", {},
               {}, static_cast<double>(s.max_physical_offset()));
    out->Gauge("rocketmq_storage_disk_used_ratio",
               "Used fraction (0..1) of the disk holding the commit log.", {}, {},
               s.disk_used_ratio());
    out->Gauge("rocketmq_storage_disk_full",
               "1 while appends are refused because the disk is too full.", {}, {},
               s.disk_full() ? 1 : 0);
    out->Gauge(
        "rocketmq_storage_flush_behind_bytes", "Bytes appended but not yet flushed.", {}, {},
        static_cast<double>(std::max<int64_t>(0, s.max_physical_offset() - s.flushed_offset())));
    out->Gauge("rocketmq_storage_dispatch_behind_bytes",
               "Bytes appended but not yet in the consume queues (dispatch lag).", {}, {},
               static_cast<double>(s.dispatch_behind_bytes()));
    out->Counter("rocketmq_storage_corrupt_records_total",
                 "Records left out of reads because they failed their CRC or layout check.", {}, {},
                 static_cast<double>(s.corrupt_records_read()));
    out->Gauge("rocketmq_storage_role", "The store's role: 1 for the role it has.", {"role"},
               {v1::BrokerRole_Name(s.role())}, 1);
    for (const v1::SlaveProgress& slave : s.slaves()) {
      out->Gauge("rocketmq_replication_slave_lag_bytes",
                 "Bytes of the master's commit log a slave has not acknowledged.",
                 {"slave", "broker_id"}, {slave.address(), absl::StrCat(slave.broker_id())},
                 static_cast<double>(
                     std::max<int64_t>(0, s.max_physical_offset() - slave.acked_offset())));
    }
    out->Gauge("rocketmq_replication_slaves_connected", "Slaves replicating from this master.", {},
               {}, static_cast<double>(s.slaves_size()));
    if (s.role() == v1::SLAVE) {
      const v1::ReplicationStatus& replication = s.replication();
      out->Gauge("rocketmq_replication_connected",
                 "Slave: 1 while its stream to the master is open.", {}, {},
                 replication.connected() ? 1 : 0);
      out->Gauge("rocketmq_replication_behind_bytes",
                 "Slave: bytes of the master's log (as of its last message) not yet here.", {}, {},
                 static_cast<double>(std::max<int64_t>(
                     0, replication.master_max_offset() - s.max_physical_offset())));
    }
  });
}

}  // namespace mq::store
