#include "common/metrics/registry.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mq::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RegistryTest, RendersCountersAndGaugesWithHelpTypeAndLabels) {
  Registry registry;
  Family<Counter>* in =
      registry.AddCounter("rocketmq_messages_in_total", "Messages stored.", {"topic"});
  in->WithLabels({"orders"})->Increment(3);
  in->WithLabels({"orders"})->Increment();
  in->WithLabels({"audit"})->Increment(2);
  registry.AddGauge("rocketmq_long_poll_waiters", "Pulls held.")->Get()->Set(7);

  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# HELP rocketmq_messages_in_total Messages stored.\n"
                              "# TYPE rocketmq_messages_in_total counter\n"
                              "rocketmq_messages_in_total{topic=\"audit\"} 2\n"
                              "rocketmq_messages_in_total{topic=\"orders\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE rocketmq_long_poll_waiters gauge\n"
                              "rocketmq_long_poll_waiters 7\n"));
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry registry;
  static const std::vector<double> kBounds = {1, 5};
  Histogram* latency =
      registry.AddHistogram("op_seconds", "Op latency.", {"op"}, &kBounds)->WithLabels({"put"});
  latency->Observe(0.5);
  latency->Observe(1);  // on a bound: counted in that bucket (le is <=)
  latency->Observe(3);
  latency->Observe(100);

  EXPECT_THAT(registry.Render(), HasSubstr("op_seconds_bucket{op=\"put\",le=\"1\"} 2\n"
                                           "op_seconds_bucket{op=\"put\",le=\"5\"} 3\n"
                                           "op_seconds_bucket{op=\"put\",le=\"+Inf\"} 4\n"
                                           "op_seconds_sum{op=\"put\"} 104.5\n"
                                           "op_seconds_count{op=\"put\"} 4\n"));
}

TEST(RegistryTest, AddingANameTwiceReturnsTheSameFamily) {
  Registry registry;
  Family<Counter>* first = registry.AddCounter("rejected_total", "h", {"reason"});
  Family<Counter>* second = registry.AddCounter("rejected_total", "h", {"reason"});
  EXPECT_EQ(first, second);
  first->WithLabels({"busy"})->Increment();
  second->WithLabels({"busy"})->Increment();
  EXPECT_THAT(registry.Render(), HasSubstr("rejected_total{reason=\"busy\"} 2\n"));
}

TEST(RegistryTest, ValuesAreShortAndExact) {
  Registry registry;
  static const std::vector<double> kBounds = {0.00005, 0.25};
  registry.AddHistogram("h_seconds", "h", {}, &kBounds)->Get()->Observe(0.1);
  registry.AddGauge("g", "h")->Get()->Set(1.0 / 3);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("h_seconds_bucket{le=\"5e-05\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("h_seconds_bucket{le=\"0.25\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("h_seconds_sum 0.1\n"));
  EXPECT_THAT(text, HasSubstr("g 0.33333333333333331\n"));
}

TEST(RegistryTest, LabelValuesAreEscaped) {
  Registry registry;
  registry.AddCounter("c_total", "h", {"topic"})->WithLabels({"a\"b\\c\nd"})->Increment();
  EXPECT_THAT(registry.Render(), HasSubstr("c_total{topic=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(RegistryTest, SeriesPastTheCapShareTheOverflowSeries) {
  Registry registry(/*max_series=*/4);
  Family<Counter>* family = registry.AddCounter("c_total", "h", {"topic", "queue"});
  for (int i = 0; i < 10; ++i) family->WithLabels({"t" + std::to_string(i), "0"})->Increment();

  const std::string text = registry.Render();
  // Three named series and one overflow series holding the other seven.
  EXPECT_THAT(text, HasSubstr("c_total{topic=\"t0\",queue=\"0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("c_total{topic=\"t2\",queue=\"0\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("topic=\"t3\"")));
  EXPECT_THAT(text, HasSubstr("c_total{topic=\"_other_\",queue=\"_other_\"} 7\n"));
}

TEST(RegistryTest, CollectorsRunOnEachRenderAndAreCapped) {
  Registry registry(/*max_series=*/3);
  int runs = 0;
  registry.AddCollector([&runs](Collection* collection) {
    ++runs;
    for (int q = 0; q < 5; ++q) {
      collection->Gauge("lag", "Lag.", {"queue"}, {std::to_string(q)}, 10);
    }
    collection->Counter("bytes_total", "Bytes.", {}, {}, 42);
  });
  const std::string text = registry.Render();
  EXPECT_EQ(runs, 1);
  EXPECT_THAT(text, HasSubstr("# TYPE lag gauge\nlag{queue=\"0\"} 10\nlag{queue=\"1\"} 10\n"
                              "lag{queue=\"_other_\"} 30\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE bytes_total counter\nbytes_total 42\n"));
  registry.Render();
  EXPECT_EQ(runs, 2);
}

TEST(RegistryTest, ConcurrentUpdatesAreAllCounted) {
  Registry registry;
  Family<Counter>* counter = registry.AddCounter("c_total", "h", {"t"});
  Histogram* histogram = registry.AddHistogram("h_seconds", "h", {}, &LatencyBuckets())->Get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        counter->WithLabels({std::to_string(i % 8)})->Increment();
        histogram->Observe(0.001);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int64_t total = 0;
  counter->ForEach([&](const std::vector<std::string>&, const Counter& c) { total += c.value(); });
  EXPECT_EQ(total, 40000);
  EXPECT_EQ(histogram->count(), 40000u);
  EXPECT_NEAR(histogram->sum(), 40.0, 1e-6);
}

}  // namespace
}  // namespace mq::metrics
