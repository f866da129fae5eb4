#include "services/broker/client_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/testing/fake_clock.h"

namespace mq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

broker::v1::HeartbeatRequest ConsumerHeartbeat(const std::string& client_id,
                                               const std::string& group,
                                               const std::string& topic = "orders",
                                               const std::string& sub = "*") {
  broker::v1::HeartbeatRequest request;
  request.set_client_id(client_id);
  broker::v1::ConsumerData* consumer = request.add_consumers();
  consumer->set_group_name(group);
  consumer->set_consume_type(broker::v1::CONSUME_PASSIVELY);
  broker::v1::SubscriptionData* subscription = consumer->add_subscriptions();
  subscription->set_topic(topic);
  subscription->set_sub_string(sub);
  return request;
}

broker::v1::HeartbeatRequest ProducerHeartbeat(const std::string& client_id,
                                               const std::string& group) {
  broker::v1::HeartbeatRequest request;
  request.set_client_id(client_id);
  request.add_producers()->set_group_name(group);
  return request;
}

class ClientManagerTest : public ::testing::Test {
 protected:
  ClientManagerTest() : clients_(ClientManagerOptions{}, &clock_) {}

  FakeClock clock_;
  ClientManager clients_;
};

TEST_F(ClientManagerTest, ConsumerListIsSortedAndPerGroup) {
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("10.0.0.2@b", "g1")).ok());
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("10.0.0.1@a", "g1")).ok());
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("10.0.0.3@c", "g2")).ok());
  EXPECT_THAT(clients_.GetConsumerList("g1"), ElementsAre("10.0.0.1@a", "10.0.0.2@b"));
  EXPECT_THAT(clients_.GetConsumerList("g2"), ElementsAre("10.0.0.3@c"));
  EXPECT_THAT(clients_.GetConsumerList("none"), IsEmpty());
  EXPECT_EQ(clients_.consumer_count(), 3);
}

TEST_F(ClientManagerTest, ClientsExpireAfterTwoMinutesWithoutHeartbeat) {
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("a", "g")).ok());
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("b", "g")).ok());
  ASSERT_TRUE(clients_.Heartbeat(ProducerHeartbeat("a", "pg")).ok());
  clock_.Advance(absl::Seconds(100));
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("b", "g")).ok());
  clock_.Advance(absl::Seconds(20));
  EXPECT_EQ(clients_.ScanExpired(), 0);  // exactly 120 s is still live
  clock_.Advance(absl::Seconds(1));
  // Reads hide the expired consumer even before the scan.
  EXPECT_THAT(clients_.GetConsumerList("g"), ElementsAre("b"));
  EXPECT_EQ(clients_.ScanExpired(), 2);
  EXPECT_THAT(clients_.GetConsumerList("g"), ElementsAre("b"));
  EXPECT_THAT(clients_.GetProducerList("pg"), IsEmpty());
  clock_.Advance(absl::Seconds(120));
  EXPECT_EQ(clients_.ScanExpired(), 1);
  EXPECT_EQ(clients_.consumer_count(), 0);
}

TEST_F(ClientManagerTest, UnregisterRemovesFromNamedGroupsOnly) {
  broker::v1::HeartbeatRequest both = ConsumerHeartbeat("a", "g");
  both.add_producers()->set_group_name("pg");
  ASSERT_TRUE(clients_.Heartbeat(both).ok());
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("b", "g")).ok());
  ASSERT_TRUE(clients_.Unregister("a", "", "g").ok());
  EXPECT_THAT(clients_.GetConsumerList("g"), ElementsAre("b"));
  EXPECT_THAT(clients_.GetProducerList("pg"), ElementsAre("a"));
  ASSERT_TRUE(clients_.Unregister("a", "pg", "").ok());
  EXPECT_THAT(clients_.GetProducerList("pg"), IsEmpty());
  EXPECT_EQ(clients_.Unregister("", "pg", "g").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientManagerTest, ProducerConnectionsKeepLanguageAndVersion) {
  broker::v1::HeartbeatRequest node = ProducerHeartbeat("vm@1@0@x", "pg");
  node.set_language("HTTP");
  node.set_version("1.0.8");
  ASSERT_TRUE(clients_.Heartbeat(node).ok());
  ASSERT_TRUE(clients_.Heartbeat(ProducerHeartbeat("a", "pg")).ok());
  std::vector<broker::v1::ProducerConnection> connections = clients_.GetProducerConnections("pg");
  ASSERT_EQ(connections.size(), 2u);
  EXPECT_EQ(connections[0].client_id(), "a");
  EXPECT_EQ(connections[0].language(), "");
  EXPECT_EQ(connections[1].client_id(), "vm@1@0@x");
  EXPECT_EQ(connections[1].language(), "HTTP");
  EXPECT_EQ(connections[1].version(), "1.0.8");
  EXPECT_EQ(connections[1].last_heartbeat_ms(), absl::ToUnixMillis(clock_.Now()));
  // A later heartbeat's values replace the earlier ones; expired ones are hidden.
  node.set_version("1.0.9");
  ASSERT_TRUE(clients_.Heartbeat(node).ok());
  EXPECT_EQ(clients_.GetProducerConnections("pg")[1].version(), "1.0.9");
  clock_.Advance(absl::Seconds(121));
  EXPECT_THAT(clients_.GetProducerConnections("pg"), IsEmpty());
  EXPECT_THAT(clients_.GetProducerConnections("other"), IsEmpty());
}

TEST_F(ClientManagerTest, ListenerHearsOfConsumersThatUnregisterOrExpire) {
  std::vector<std::string> gone;
  clients_.SetConsumerGoneListener([&gone](const std::string& group, const std::string& client) {
    gone.push_back(group + "/" + client);
  });
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("a", "g")).ok());
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("b", "g")).ok());
  ASSERT_TRUE(clients_.Heartbeat(ProducerHeartbeat("c", "pg")).ok());
  ASSERT_TRUE(clients_.Unregister("a", "", "g").ok());
  // Unknown clients and producers are not consumers leaving.
  ASSERT_TRUE(clients_.Unregister("a", "", "g").ok());
  ASSERT_TRUE(clients_.Unregister("c", "pg", "").ok());
  EXPECT_THAT(gone, ElementsAre("g/a"));
  clock_.Advance(absl::Seconds(121));
  EXPECT_EQ(clients_.ScanExpired(), 1);
  EXPECT_THAT(gone, ElementsAre("g/a", "g/b"));
}

TEST_F(ClientManagerTest, SubscriptionFollowsTheLatestHeartbeat) {
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("a", "g", "orders", "TagA")).ok());
  ASSERT_TRUE(clients_.Heartbeat(ConsumerHeartbeat("a", "g", "orders", "TagA || TagB")).ok());
  absl::optional<broker::v1::SubscriptionData> sub = clients_.FindSubscription("g", "orders");
  ASSERT_TRUE(sub.has_value());
  EXPECT_EQ(sub->sub_string(), "TagA || TagB");
  EXPECT_FALSE(clients_.FindSubscription("g", "audit").has_value());
}

TEST_F(ClientManagerTest, BadHeartbeatChangesNothing) {
  broker::v1::HeartbeatRequest request = ConsumerHeartbeat("a", "g");
  request.add_producers()->set_group_name("bad group");
  EXPECT_EQ(clients_.Heartbeat(request).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(clients_.GetConsumerList("g"), IsEmpty());
  EXPECT_EQ(clients_.Heartbeat(ConsumerHeartbeat("", "g")).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mq::broker
