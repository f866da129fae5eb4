// A lock-free latency histogram for the benchmark tool: log-linear buckets
// (32 per power of two, so a percentile is within about 3 % of the truth).
#ifndef MQ_TOOLS_MQBENCH_LATENCY_HISTOGRAM_H_
#define MQ_TOOLS_MQBENCH_LATENCY_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstdint>

namespace mq {
namespace tools {

// Thread-safe; Record() never blocks.
class LatencyHistogram {
 public:
  LatencyHistogram();

  // Values are microseconds; negative values count as 0.
  void Record(int64_t micros);

  int64_t count() const;
  // The value below which `fraction` (0..1) of the recorded values fall; 0
  // when empty.
  int64_t Percentile(double fraction) const;

 private:
  static constexpr int kSubBucketBits = 5;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kBuckets = 64 * kSubBuckets;

  static int BucketOf(uint64_t micros);
  // The middle of a bucket's range.
  static int64_t ValueOf(int bucket);

  std::array<std::atomic<int64_t>, kBuckets> buckets_;
  std::atomic<int64_t> count_{0};
};

}  // namespace tools
}  // namespace mq

#endif  // MQ_TOOLS_MQBENCH_LATENCY_HISTOGRAM_H_
