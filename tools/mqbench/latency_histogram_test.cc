#include "tools/mqbench/latency_histogram.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace mq {
namespace tools {
namespace {

TEST(LatencyHistogramTest, EmptyIsZero) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0);
  EXPECT_EQ(histogram.Percentile(0.99), 0);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (int v = 1; v <= 10; ++v) histogram.Record(v);
  EXPECT_EQ(histogram.Percentile(0.5), 5);
  EXPECT_EQ(histogram.Percentile(1.0), 10);
  EXPECT_EQ(histogram.Percentile(0.0), 1);
}

TEST(LatencyHistogramTest, PercentilesWithinThreePercent) {
  LatencyHistogram histogram;
  for (int v = 1; v <= 100000; ++v) histogram.Record(v);
  for (double p : {0.5, 0.9, 0.99, 0.999}) {
    const double expected = p * 100000;
    EXPECT_NEAR(histogram.Percentile(p), expected, expected * 0.03) << p;
  }
  histogram.Record(-5);
  histogram.Record(int64_t{1} << 50);
  EXPECT_EQ(histogram.count(), 100002);
}

TEST(LatencyHistogramTest, ConcurrentRecordsAreAllCounted) {
  LatencyHistogram histogram;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) histogram.Record(i % 700);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(histogram.count(), 40000);
}

}  // namespace
}  // namespace tools
}  // namespace mq
