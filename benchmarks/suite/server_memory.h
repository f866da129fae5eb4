// Samples the resident memory of server processes while a load runs.
#ifndef MQ_BENCHMARKS_SUITE_SERVER_MEMORY_H_
#define MQ_BENCHMARKS_SUITE_SERVER_MEMORY_H_

#include <sys/types.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace mq::bench {

struct MemoryPeak {
  // Largest sum over the processes of private memory (RssAnon: heap, stacks,
  // gRPC buffers) and of file pages mapped (RssFile: the commit log's mmap,
  // page cache the kernel reclaims), in MiB.
  double anon_mib = 0;
  double file_mib = 0;
};

// Reads /proc/PID/status of `pids` every 100 ms from construction to Stop().
class MemorySampler {
 public:
  explicit MemorySampler(std::vector<pid_t> pids);
  ~MemorySampler();
  MemoryPeak Stop();

 private:
  void Sample();

  const std::vector<pid_t> pids_;
  absl::Notification stop_;
  absl::Mutex mu_;
  MemoryPeak peak_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace mq::bench

#endif  // MQ_BENCHMARKS_SUITE_SERVER_MEMORY_H_
