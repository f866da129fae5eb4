// The process's own metrics, with the names Prometheus's client libraries
// use: process_resident_memory_bytes, process_cpu_seconds_total,
// process_open_fds, process_max_fds, process_start_time_seconds. Read from
// /proc at each scrape.
#ifndef MQ_COMMON_METRICS_PROCESS_METRICS_H_
#define MQ_COMMON_METRICS_PROCESS_METRICS_H_

#include "common/metrics/registry.h"

namespace mq::metrics {

void AddProcessCollector(Registry* registry);

}  // namespace mq::metrics

#endif  // MQ_COMMON_METRICS_PROCESS_METRICS_H_
