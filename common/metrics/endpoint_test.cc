#include "common/metrics/endpoint.h"

#include <httplib.h>

#include <atomic>
#include <memory>

#include "absl/status/status.h"
#include "common/metrics/process_metrics.h"
#include "common/metrics/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mq::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricsEndpointTest, ServesMetricsAndHealth) {
  Registry registry;
  registry.AddCounter("rocketmq_messages_in_total", "Messages stored.", {"topic"})
      ->WithLabels({"orders"})
      ->Increment(5);
  AddProcessCollector(&registry);
  std::atomic<bool> serving{true};
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint = MetricsEndpoint::Start(
      "127.0.0.1", 0, &registry,
      [&serving] { return serving ? absl::OkStatus() : absl::UnavailableError("shutting down"); });
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  ASSERT_GT((*endpoint)->port(), 0);

  httplib::Client client("127.0.0.1", (*endpoint)->port());
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));
  EXPECT_THAT(metrics->body, HasSubstr("rocketmq_messages_in_total{topic=\"orders\"} 5\n"));
  EXPECT_THAT(metrics->body, HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(metrics->body, HasSubstr("process_open_fds "));
  EXPECT_THAT(metrics->body, HasSubstr("process_cpu_seconds_total "));

  httplib::Result health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  serving = false;
  health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_THAT(health->body, HasSubstr("shutting down"));
}

TEST(MetricsEndpointTest, APortInUseIsAClearError) {
  Registry registry;
  auto first = MetricsEndpoint::Start("127.0.0.1", 0, &registry, [] { return absl::OkStatus(); });
  ASSERT_TRUE(first.ok());
  auto second = MetricsEndpoint::Start("127.0.0.1", (*first)->port(), &registry,
                                       [] { return absl::OkStatus(); });
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("could not be listened on"));
}

TEST(MetricsEndpointTest, StopsAtOnceWhenDestroyed) {
  Registry registry;
  for (int i = 0; i < 20; ++i) {
    auto endpoint =
        MetricsEndpoint::Start("127.0.0.1", 0, &registry, [] { return absl::OkStatus(); });
    ASSERT_TRUE(endpoint.ok());
  }
}

}  // namespace
}  // namespace mq::metrics
