#include "tools/mqbench/latency_histogram.h"

#include <cmath>

namespace mq {
namespace tools {

LatencyHistogram::LatencyHistogram() {
  for (std::atomic<int64_t>& bucket : buckets_) bucket.store(0, std::memory_order_relaxed);
}

int LatencyHistogram::BucketOf(uint64_t micros) {
  if (micros < kSubBuckets) return static_cast<int>(micros);
  const int exponent = 63 - __builtin_clzll(micros);
  const int mantissa =
      static_cast<int>((micros >> (exponent - kSubBucketBits)) & (kSubBuckets - 1));
  return (exponent - kSubBucketBits + 1) * kSubBuckets + mantissa;
}

int64_t LatencyHistogram::ValueOf(int bucket) {
  if (bucket < kSubBuckets) return bucket;
  const int exponent = bucket / kSubBuckets + kSubBucketBits - 1;
  const int64_t mantissa = bucket % kSubBuckets;
  const int64_t width = int64_t{1} << (exponent - kSubBucketBits);
  const int64_t low = (int64_t{kSubBuckets} + mantissa) * width;
  return low + width / 2;
}

void LatencyHistogram::Record(int64_t micros) {
  buckets_[BucketOf(micros < 0 ? 0 : static_cast<uint64_t>(micros))].fetch_add(
      1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

int64_t LatencyHistogram::count() const { return count_.load(std::memory_order_relaxed); }

int64_t LatencyHistogram::Percentile(double fraction) const {
  const int64_t total = count();
  if (total == 0) return 0;
  const int64_t rank = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(fraction * total)));
  int64_t seen = 0;
  for (int bucket = 0; bucket < kBuckets; ++bucket) {
    seen += buckets_[bucket].load(std::memory_order_relaxed);
    if (seen >= rank) return ValueOf(bucket);
  }
  return ValueOf(kBuckets - 1);
}

}  // namespace tools
}  // namespace mq
