#include "services/namesrv/route_info_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/testing/fake_clock.h"

namespace mq::namesrv {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

common::v1::TopicConfig Topic(const std::string& name, int read, int write, uint32_t perm = 6) {
  common::v1::TopicConfig config;
  config.set_topic_name(name);
  config.set_read_queue_nums(read);
  config.set_write_queue_nums(write);
  config.set_perm(perm);
  return config;
}

v1::RegisterBrokerRequest Registration(const std::string& cluster, const std::string& name,
                                       int64_t id, const std::string& addr, int64_t version = 1) {
  v1::RegisterBrokerRequest request;
  request.set_cluster_name(cluster);
  request.set_broker_name(name);
  request.set_broker_id(id);
  request.set_broker_addr(addr);
  request.set_ha_server_addr(addr.substr(0, addr.find(':')) + ":20912");
  request.mutable_data_version()->set_timestamp_ms(1000);
  request.mutable_data_version()->set_counter(version);
  return request;
}

class RouteInfoManagerTest : public ::testing::Test {
 protected:
  RouteInfoManagerTest() : routes_(RouteInfoOptions{}, &clock_) {}

  void Register(const v1::RegisterBrokerRequest& request) {
    ASSERT_TRUE(routes_.RegisterBroker(request).ok());
  }

  FakeClock clock_;
  RouteInfoManager routes_;
};

TEST_F(RouteInfoManagerTest, RouteCarriesQueueCountsPermissionsAndAddresses) {
  v1::RegisterBrokerRequest a = Registration("c1", "broker-a", 0, "10.0.0.1:10911");
  *a.add_topic_configs() = Topic("orders", 8, 4, 6);
  *a.add_topic_configs() = Topic("audit", 2, 2, 4);
  Register(a);

  absl::StatusOr<common::v1::TopicRouteData> route = routes_.GetRouteInfoByTopic("orders");
  ASSERT_TRUE(route.ok()) << route.status();
  ASSERT_EQ(route->queue_datas_size(), 1);
  EXPECT_EQ(route->queue_datas(0).broker_name(), "broker-a");
  EXPECT_EQ(route->queue_datas(0).read_queue_nums(), 8);
  EXPECT_EQ(route->queue_datas(0).write_queue_nums(), 4);
  EXPECT_EQ(route->queue_datas(0).perm(), 6u);
  ASSERT_EQ(route->broker_datas_size(), 1);
  EXPECT_EQ(route->broker_datas(0).cluster(), "c1");
  EXPECT_EQ(route->broker_datas(0).broker_addrs().at(0), "10.0.0.1:10911");

  absl::StatusOr<common::v1::TopicRouteData> audit = routes_.GetRouteInfoByTopic("audit");
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->queue_datas(0).perm(), 4u);
  EXPECT_THAT(routes_.GetAllTopics(), ElementsAre("audit", "orders"));
}

TEST_F(RouteInfoManagerTest, UnknownTopicIsNotFound) {
  absl::StatusOr<common::v1::TopicRouteData> route = routes_.GetRouteInfoByTopic("nope");
  EXPECT_EQ(route.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(route.status().message().find("nope"), std::string::npos);
}

TEST_F(RouteInfoManagerTest, NewDataVersionReplacesTopicsSameVersionDoesNot) {
  v1::RegisterBrokerRequest a = Registration("c1", "broker-a", 0, "10.0.0.1:10911", 1);
  *a.add_topic_configs() = Topic("t1", 4, 4);
  Register(a);

  // Same version, different content: ignored (the topics are unchanged by contract).
  v1::RegisterBrokerRequest same = a;
  same.mutable_topic_configs(0)->set_write_queue_nums(2);
  Register(same);
  EXPECT_EQ(routes_.GetRouteInfoByTopic("t1")->queue_datas(0).write_queue_nums(), 4);

  v1::RegisterBrokerRequest next = Registration("c1", "broker-a", 0, "10.0.0.1:10911", 2);
  *next.add_topic_configs() = Topic("t1", 4, 2);
  *next.add_topic_configs() = Topic("t2", 1, 1);
  Register(next);
  EXPECT_EQ(routes_.GetRouteInfoByTopic("t1")->queue_datas(0).write_queue_nums(), 2);
  EXPECT_TRUE(routes_.GetRouteInfoByTopic("t2").ok());

  // A version without t1: the broker no longer has it, so neither does the route.
  v1::RegisterBrokerRequest dropped = Registration("c1", "broker-a", 0, "10.0.0.1:10911", 3);
  *dropped.add_topic_configs() = Topic("t2", 1, 1);
  Register(dropped);
  EXPECT_EQ(routes_.GetRouteInfoByTopic("t1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(routes_.GetRouteInfoByTopic("t2").ok());
}

TEST_F(RouteInfoManagerTest, SlaveLearnsMasterAndDoesNotWriteQueueData) {
  v1::RegisterBrokerRequest master = Registration("c1", "broker-a", 0, "10.0.0.1:10911");
  *master.add_topic_configs() = Topic("t", 4, 4);
  Register(master);

  v1::RegisterBrokerRequest slave = Registration("c1", "broker-a", 1, "10.0.0.2:10911");
  *slave.add_topic_configs() = Topic("t", 16, 16);
  *slave.add_topic_configs() = Topic("slave-only", 1, 1);
  absl::StatusOr<v1::RegisterBrokerResponse> response = routes_.RegisterBroker(slave);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->master_addr(), "10.0.0.1:10911");
  EXPECT_EQ(response->ha_server_addr(), "10.0.0.1:20912");

  absl::StatusOr<common::v1::TopicRouteData> route = routes_.GetRouteInfoByTopic("t");
  ASSERT_TRUE(route.ok());
  EXPECT_EQ(route->queue_datas(0).write_queue_nums(), 4);
  EXPECT_EQ(route->broker_datas(0).broker_addrs().size(), 2u);
  EXPECT_EQ(route->broker_datas(0).broker_addrs().at(1), "10.0.0.2:10911");
  EXPECT_FALSE(routes_.GetRouteInfoByTopic("slave-only").ok());
}

TEST_F(RouteInfoManagerTest, SlaveWithoutLiveMasterGetsNoMasterAddress) {
  absl::StatusOr<v1::RegisterBrokerResponse> response =
      routes_.RegisterBroker(Registration("c1", "broker-a", 1, "10.0.0.2:10911"));
  ASSERT_TRUE(response.ok());
  EXPECT_THAT(response->master_addr(), IsEmpty());
}

TEST_F(RouteInfoManagerTest, SlavePromotedAtSameAddressLosesItsSlaveEntry) {
  Register(Registration("c1", "broker-a", 1, "10.0.0.2:10911"));
  Register(Registration("c1", "broker-a", 0, "10.0.0.2:10911"));
  v1::GetClusterInfoResponse info = routes_.GetClusterInfo();
  const auto& addrs = info.broker_addr_table().at("broker-a").broker_addrs();
  EXPECT_EQ(addrs.size(), 1u);
  EXPECT_EQ(addrs.at(0), "10.0.0.2:10911");
}

TEST_F(RouteInfoManagerTest, TwoClustersAndClusterScopedTopicDelete) {
  v1::RegisterBrokerRequest a = Registration("c1", "broker-a", 0, "10.0.0.1:10911");
  *a.add_topic_configs() = Topic("shared", 4, 4);
  v1::RegisterBrokerRequest b = Registration("c2", "broker-b", 0, "10.0.0.3:10911");
  *b.add_topic_configs() = Topic("shared", 2, 2);
  Register(a);
  Register(b);

  v1::GetClusterInfoResponse info = routes_.GetClusterInfo();
  EXPECT_EQ(info.cluster_addr_table().size(), 2u);
  EXPECT_THAT(info.cluster_addr_table().at("c1").broker_names(), ElementsAre("broker-a"));
  EXPECT_THAT(info.cluster_addr_table().at("c2").broker_names(), ElementsAre("broker-b"));
  EXPECT_EQ(info.live_brokers_size(), 2);
  EXPECT_EQ(routes_.GetRouteInfoByTopic("shared")->queue_datas_size(), 2);

  ASSERT_TRUE(routes_.DeleteTopic("shared", "c1").ok());
  absl::StatusOr<common::v1::TopicRouteData> route = routes_.GetRouteInfoByTopic("shared");
  ASSERT_TRUE(route.ok());
  ASSERT_EQ(route->queue_datas_size(), 1);
  EXPECT_EQ(route->queue_datas(0).broker_name(), "broker-b");

  ASSERT_TRUE(routes_.DeleteTopic("shared", "").ok());
  EXPECT_EQ(routes_.GetRouteInfoByTopic("shared").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(routes_.DeleteTopic("shared", "").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(routes_.DeleteTopic("x", "no-such-cluster").code(), absl::StatusCode::kNotFound);
}

TEST_F(RouteInfoManagerTest, BrokerNameCannotJumpClusters) {
  Register(Registration("c1", "broker-a", 0, "10.0.0.1:10911"));
  absl::StatusOr<v1::RegisterBrokerResponse> moved =
      routes_.RegisterBroker(Registration("c2", "broker-a", 1, "10.0.0.2:10911"));
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(routes_.GetClusterInfo().cluster_addr_table().count("c2"), 0u);
}

TEST_F(RouteInfoManagerTest, SilentBrokersExpire) {
  v1::RegisterBrokerRequest a = Registration("c1", "broker-a", 0, "10.0.0.1:10911");
  *a.add_topic_configs() = Topic("t", 4, 4);
  v1::RegisterBrokerRequest b = Registration("c1", "broker-b", 0, "10.0.0.3:10911");
  *b.add_topic_configs() = Topic("t", 4, 4);
  Register(a);
  Register(b);

  clock_.Advance(absl::Seconds(100));
  Register(b);  // b keeps registering, a goes silent
  EXPECT_THAT(routes_.ScanNotActiveBrokers(), IsEmpty());
  clock_.Advance(absl::Seconds(21));
  EXPECT_THAT(routes_.ScanNotActiveBrokers(), ElementsAre("10.0.0.1:10911"));

  absl::StatusOr<common::v1::TopicRouteData> route = routes_.GetRouteInfoByTopic("t");
  ASSERT_TRUE(route.ok());
  ASSERT_EQ(route->queue_datas_size(), 1);
  EXPECT_EQ(route->queue_datas(0).broker_name(), "broker-b");
  v1::GetClusterInfoResponse info = routes_.GetClusterInfo();
  EXPECT_EQ(info.broker_addr_table().count("broker-a"), 0u);
  EXPECT_THAT(info.cluster_addr_table().at("c1").broker_names(), ElementsAre("broker-b"));

  clock_.Advance(absl::Seconds(121));
  EXPECT_THAT(routes_.ScanNotActiveBrokers(), ElementsAre("10.0.0.3:10911"));
  EXPECT_FALSE(routes_.GetRouteInfoByTopic("t").ok());
  EXPECT_TRUE(routes_.GetClusterInfo().cluster_addr_table().empty());
}

TEST_F(RouteInfoManagerTest, MasterExpiryKeepsRouteWhileSlaveLives) {
  v1::RegisterBrokerRequest master = Registration("c1", "broker-a", 0, "10.0.0.1:10911");
  *master.add_topic_configs() = Topic("t", 4, 4);
  Register(master);
  clock_.Advance(absl::Seconds(60));
  Register(Registration("c1", "broker-a", 1, "10.0.0.2:10911"));
  clock_.Advance(absl::Seconds(61));
  EXPECT_THAT(routes_.ScanNotActiveBrokers(), ElementsAre("10.0.0.1:10911"));

  absl::StatusOr<common::v1::TopicRouteData> route = routes_.GetRouteInfoByTopic("t");
  ASSERT_TRUE(route.ok());
  EXPECT_EQ(route->broker_datas(0).broker_addrs().count(0), 0u);
  EXPECT_EQ(route->broker_datas(0).broker_addrs().at(1), "10.0.0.2:10911");
}

TEST_F(RouteInfoManagerTest, UnregisterRemovesBrokerAndEmptyGroup) {
  v1::RegisterBrokerRequest a = Registration("c1", "broker-a", 0, "10.0.0.1:10911");
  *a.add_topic_configs() = Topic("t", 4, 4);
  Register(a);
  v1::UnregisterBrokerRequest request;
  request.set_cluster_name("c1");
  request.set_broker_name("broker-a");
  request.set_broker_id(0);
  request.set_broker_addr("10.0.0.1:10911");
  ASSERT_TRUE(routes_.UnregisterBroker(request).ok());
  EXPECT_FALSE(routes_.GetRouteInfoByTopic("t").ok());
  EXPECT_TRUE(routes_.GetClusterInfo().broker_addr_table().empty());
  EXPECT_EQ(routes_.UnregisterBroker(request).code(), absl::StatusCode::kNotFound);
}

TEST_F(RouteInfoManagerTest, BadRegistrationsChangeNothing) {
  auto expect_invalid = [&](const v1::RegisterBrokerRequest& request, const std::string& needle) {
    absl::StatusOr<v1::RegisterBrokerResponse> result = routes_.RegisterBroker(request);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << needle;
    EXPECT_NE(result.status().message().find(needle), std::string::npos)
        << result.status().message();
  };
  expect_invalid(Registration("", "b", 0, "h:1"), "cluster name");
  expect_invalid(Registration(std::string(128, 'c'), "b", 0, "h:1"), "cluster name");
  expect_invalid(Registration("c", "bad name", 0, "h:1"), "broker name");
  expect_invalid(Registration("c", "b", -1, "h:1"), "broker id");
  expect_invalid(Registration("c", "b", 0, "no-port"), "broker address");

  v1::RegisterBrokerRequest bad_topic = Registration("c", "b", 0, "h:1");
  *bad_topic.add_topic_configs() = Topic("ok", 1, 1);
  *bad_topic.add_topic_configs() = Topic(std::string(128, 't'), 1, 1);
  expect_invalid(bad_topic, "topic");
  v1::RegisterBrokerRequest zero_queues = Registration("c", "b", 0, "h:1");
  *zero_queues.add_topic_configs() = Topic("t", 0, 1);
  expect_invalid(zero_queues, "read queue nums");
  v1::RegisterBrokerRequest many_queues = Registration("c", "b", 0, "h:1");
  *many_queues.add_topic_configs() = Topic("t", 1, 1025);
  expect_invalid(many_queues, "write queue nums");
  v1::RegisterBrokerRequest bad_perm = Registration("c", "b", 0, "h:1");
  *bad_perm.add_topic_configs() = Topic("t", 1, 1, 32);
  expect_invalid(bad_perm, "perm");

  v1::GetClusterInfoResponse info = routes_.GetClusterInfo();
  EXPECT_TRUE(info.broker_addr_table().empty());
  EXPECT_TRUE(info.cluster_addr_table().empty());
  EXPECT_EQ(info.live_brokers_size(), 0);
  EXPECT_THAT(routes_.GetAllTopics(), IsEmpty());
  EXPECT_EQ(routes_.GetRouteInfoByTopic("bad topic").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mq::namesrv
