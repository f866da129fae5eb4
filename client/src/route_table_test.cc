#include "client/src/route_table.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mq::client_internal {
namespace {

using ::testing::UnorderedElementsAre;

common::v1::TopicRouteData Route(const std::vector<std::string>& brokers, int queues = 4) {
  common::v1::TopicRouteData route;
  for (size_t i = 0; i < brokers.size(); ++i) {
    common::v1::QueueData* qd = route.add_queue_datas();
    qd->set_broker_name(brokers[i]);
    qd->set_read_queue_nums(queues);
    qd->set_write_queue_nums(queues);
    qd->set_perm(6);
    common::v1::BrokerData* bd = route.add_broker_datas();
    bd->set_broker_name(brokers[i]);
    (*bd->mutable_broker_addrs())[0] = "10.0.0." + std::to_string(i + 1) + ":10911";
    (*bd->mutable_broker_addrs())[1] = "10.0.1." + std::to_string(i + 1) + ":10911";
  }
  return route;
}

TEST(RouteTableTest, UpdateRecordsTheRouteItsBrokersAndOnePublishInfo) {
  RouteTable table;
  EXPECT_EQ(table.PublishInfo("T"), nullptr);
  EXPECT_FALSE(table.Route("T").has_value());
  ASSERT_TRUE(table.Update("T", Route({"a", "b"})));
  std::shared_ptr<const TopicPublishInfo> info = table.PublishInfo("T");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->queues().size(), 8u);
  EXPECT_EQ(table.PublishInfo("T"), info) << "built once per route, shared by every reader";
  EXPECT_EQ(table.FindMasterAddress("b"), "10.0.0.2:10911");
  ASSERT_TRUE(table.FindBrokerAddresses("a").has_value());
  EXPECT_EQ(table.FindBrokerAddresses("a")->size(), 2u);
  EXPECT_THAT(table.MasterAddresses(), UnorderedElementsAre("10.0.0.1:10911", "10.0.0.2:10911"));
  EXPECT_EQ(table.AllBrokerAddresses().size(), 4u);
}

TEST(RouteTableTest, AnEqualRouteInAnotherOrderChangesNothing) {
  RouteTable table;
  ASSERT_TRUE(table.Update("T", Route({"a", "b"})));
  std::shared_ptr<const TopicPublishInfo> info = table.PublishInfo("T");
  common::v1::TopicRouteData reordered = Route({"a", "b"});
  reordered.mutable_queue_datas()->SwapElements(0, 1);
  reordered.mutable_broker_datas()->SwapElements(0, 1);
  EXPECT_FALSE(table.Update("T", reordered));
  EXPECT_EQ(table.PublishInfo("T"), info);
  EXPECT_TRUE(table.Update("T", Route({"a", "b"}, 2)));
  EXPECT_EQ(table.PublishInfo("T")->queues().size(), 4u);
}

TEST(RouteTableTest, BrokersNoRouteNamesAreForgotten) {
  RouteTable table;
  table.Update("T", Route({"a", "b"}));
  table.Update("U", Route({"a"}));
  EXPECT_TRUE(table.ForgetUnreferencedBrokers().empty());
  table.Update("T", Route({"a"}));
  EXPECT_THAT(table.ForgetUnreferencedBrokers(),
              UnorderedElementsAre("10.0.0.2:10911", "10.0.1.2:10911"));
  EXPECT_FALSE(table.FindMasterAddress("b").has_value());
  EXPECT_EQ(table.FindMasterAddress("a"), "10.0.0.1:10911");
}

}  // namespace
}  // namespace mq::client_internal
