// Backend's route cache against a real in-process name server and broker
// (testing/fake_servers.h): routes are asked once per TTL, and a broker call
// that finds the broker unreachable makes the next route a fresh one.
#include "services/proxy/backend.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/testing/fake_clock.h"
#include "testing/fake_servers.h"

namespace mq::proxy {
namespace {

constexpr absl::Duration kTtl = absl::Seconds(3);

class BackendTest : public ::testing::Test {
 protected:
  BackendTest() : broker_("broker-a") {
    namesrv_.SetRoute("T", testing::MakeRoute({{&broker_}}));
    BackendOptions options;
    options.namesrv_addrs = {namesrv_.address()};
    options.route_cache.ttl = kTtl;
    options.route_cache.clock = &clock_;
    backend_ = std::make_unique<Backend>(options);
  }

  absl::Status SendTo(const std::string& address) {
    broker::v1::SendMessageRequest request;
    request.mutable_message()->set_topic("T");
    request.mutable_message()->set_body("x");
    return backend_->Send(address, request).status();
  }

  FakeClock clock_;
  testing::FakeNameServer namesrv_;
  testing::FakeBroker broker_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(BackendTest, AsksTheNameServersOncePerTtl) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(backend_->Route("T").ok());
  EXPECT_EQ(namesrv_.RouteQueries("T"), 1);
  clock_.Advance(kTtl);
  ASSERT_TRUE(backend_->Route("T").ok());
  EXPECT_EQ(namesrv_.RouteQueries("T"), 2);
}

TEST_F(BackendTest, ATopicCreatedAfterAMissIsFoundAtOnce) {
  EXPECT_EQ(backend_->Route("New").status().code(), absl::StatusCode::kNotFound);
  namesrv_.SetRoute("New", testing::MakeRoute({{&broker_}}));
  EXPECT_TRUE(backend_->Route("New").ok());
  EXPECT_EQ(namesrv_.RouteQueries("New"), 2);
}

TEST_F(BackendTest, AnUnavailableBrokerDropsTheRoutesNamingIt) {
  ASSERT_TRUE(backend_->Route("T").ok());
  // A refusal that is not UNAVAILABLE keeps the route.
  broker_.ScriptSends(
      {testing::FakeReply::Fail(grpc::StatusCode::INVALID_ARGUMENT, common::v1::MESSAGE_ILLEGAL)});
  EXPECT_EQ(SendTo(broker_.address()).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(backend_->Route("T").ok());
  EXPECT_EQ(namesrv_.RouteQueries("T"), 1);
  // An unreachable broker: the next route is asked for.
  broker_.Stop();
  EXPECT_EQ(SendTo(broker_.address()).code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(backend_->Route("T").ok());
  EXPECT_EQ(namesrv_.RouteQueries("T"), 2);
  ASSERT_TRUE(backend_->Route("T").ok());
  EXPECT_EQ(namesrv_.RouteQueries("T"), 2);
}

TEST_F(BackendTest, AnUnavailableOtherBrokerKeepsTheRoute) {
  testing::FakeBroker other("broker-b");
  ASSERT_TRUE(backend_->Route("T").ok());
  other.Stop();
  EXPECT_EQ(SendTo(other.address()).code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(backend_->Route("T").ok());
  EXPECT_EQ(namesrv_.RouteQueries("T"), 1);
}

}  // namespace
}  // namespace mq::proxy
