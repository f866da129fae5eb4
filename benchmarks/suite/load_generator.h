// Load shapes for the benchmark suite, on gRPC's callback API so that one
// process can keep many calls in flight without a thread per call (as
// redis-benchmark keeps its 64 clients on one event loop):
//   RunClosedLoop  `window` calls in flight, each reissued when it completes;
//   RunThreads     `threads` threads each making blocking calls in turn;
//   RunPaced       calls started at a fixed rate (open loop), for latency at a
//                  load below the peak.
// Latency is measured per call, from its start to its completion.
#ifndef MQ_BENCHMARKS_SUITE_LOAD_GENERATOR_H_
#define MQ_BENCHMARKS_SUITE_LOAD_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/time/time.h"

namespace mq::bench {

struct LoadResult {
  // Messages (not calls) completed successfully per second.
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t calls = 0;
  int64_t failures = 0;
};

// Starts one call on behalf of `slot` (0..window-1; a slot has at most one
// call outstanding, so per-slot state needs no lock) and arranges for
// `done(ok)` to run exactly once when it completes, on any thread.
using StartCall = std::function<void(int slot, std::function<void(bool ok)> done)>;

// Keeps `window` calls in flight for `duration`; each call carries `items`
// messages. Returns after every outstanding call has completed.
LoadResult RunClosedLoop(int window, int items, absl::Duration duration, const StartCall& start);

// `threads` threads each making blocking calls (`call(thread)` returns
// whether it succeeded) one after another for `duration`; each call carries
// `items` messages. For clients whose API blocks (a Producer's sync sends).
LoadResult RunThreads(int threads, int items, absl::Duration duration,
                      const std::function<bool(int thread)>& call);

// Starts `rate` calls per second for `duration`, never more than `max_in_flight`
// at once (a call that would exceed it is skipped and counted as a failure).
// Slots are handed out round robin among free ones.
LoadResult RunPaced(double rate, int max_in_flight, absl::Duration duration,
                    const StartCall& start);

// Sorts `latencies_ms` and fills the percentiles of `result`.
void FillPercentiles(std::vector<double> latencies_ms, LoadResult* result);

}  // namespace mq::bench

#endif  // MQ_BENCHMARKS_SUITE_LOAD_GENERATOR_H_
