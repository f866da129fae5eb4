#include "common/acl/method_rules.h"

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "proto/acl.pb.h"
#include "proto/broker.pb.h"
#include "proto/namesrv.pb.h"
#include "proto/store.pb.h"

namespace mq::acl {
namespace {

// Every method of every service of the system has a rule, and the table
// names no method that does not exist: a new RPC cannot be forgotten.
TEST(MethodRulesTest, EveryMethodOfEveryServiceHasARule) {
  std::set<std::string> served;
  for (const google::protobuf::FileDescriptor* file :
       {broker::v1::SendMessageRequest::descriptor()->file(),
        namesrv::v1::RegisterBrokerRequest::descriptor()->file(),
        store::v1::AppendBatchRequest::descriptor()->file(),
        v1::CreateUserRequest::descriptor()->file()}) {
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const std::string method =
            absl::StrCat("/", service->full_name(), "/", service->method(m)->name());
        served.insert(method);
        EXPECT_NE(FindRule(method), nullptr) << method << " has no access rule";
      }
    }
  }
  for (const std::string& method : RuledMethods()) {
    EXPECT_EQ(served.count(method), 1u) << method << " is ruled but not served";
  }
}

// Each ruled unary method is found from its request type, which the server's
// check relies on.
TEST(MethodRulesTest, RequestTypesNameTheirMethod) {
  broker::v1::SendMessageRequest send;
  EXPECT_EQ(MethodOfRequest(send), "/mq.broker.v1.Broker/SendMessage");
  broker::v1::DeleteTopicRequest broker_delete;
  EXPECT_EQ(MethodOfRequest(broker_delete), "/mq.broker.v1.Broker/DeleteTopic");
  namesrv::v1::DeleteTopicRequest namesrv_delete;
  EXPECT_EQ(MethodOfRequest(namesrv_delete), "/mq.namesrv.v1.NameServer/DeleteTopic");
  store::v1::GetMetadataRequest get_metadata;
  EXPECT_EQ(MethodOfRequest(get_metadata), "/mq.store.v1.Store/GetMetadata");
  v1::GrantRequest grant;
  EXPECT_EQ(MethodOfRequest(grant), "/mq.acl.v1.AclAdmin/Grant");
  // No method takes a TopicConfig.
  common::v1::TopicConfig config;
  EXPECT_EQ(MethodOfRequest(config), "");
}

TEST(MethodRulesTest, ResourcesComeFromTheRequestFields) {
  broker::v1::SendMessageRequest send;
  send.mutable_message()->set_topic("T");
  auto needed = ExtractResources(*FindRule("/mq.broker.v1.Broker/SendMessage"), send);
  ASSERT_EQ(needed.size(), 1u);
  EXPECT_EQ(needed[0].resource, (Resource{Resource::Type::kTopic, "T"}));
  EXPECT_EQ(needed[0].need, Need::kPub);

  broker::v1::HeartbeatRequest heartbeat;
  auto* consumer = heartbeat.add_consumers();
  consumer->set_group_name("G");
  consumer->add_subscriptions()->set_topic("A");
  consumer->add_subscriptions()->set_topic("B");
  heartbeat.add_producers()->set_group_name("P");
  needed = ExtractResources(*FindRule("/mq.broker.v1.Broker/Heartbeat"), heartbeat);
  ASSERT_EQ(needed.size(), 3u);
  EXPECT_EQ(needed[0].resource, (Resource{Resource::Type::kGroup, "G"}));
  EXPECT_EQ(needed[1].resource, (Resource{Resource::Type::kTopic, "A"}));
  EXPECT_EQ(needed[2].resource, (Resource{Resource::Type::kTopic, "B"}));
  EXPECT_EQ(needed[2].need, Need::kSub);

  broker::v1::PullMessageRequest pull;
  pull.set_topic("T");
  needed = ExtractResources(*FindRule("/mq.broker.v1.Broker/PullMessage"), pull);
  // The empty group is skipped (the service refuses it as bad input).
  ASSERT_EQ(needed.size(), 1u);
}

TEST(MethodRulesTest, AdministrationAndInternalMethods) {
  EXPECT_EQ(FindRule("/mq.broker.v1.Broker/DeleteTopic")->access, Access::kAdmin);
  EXPECT_EQ(FindRule("/mq.broker.v1.Broker/CreateOrUpdateTopic")->access, Access::kAdmin);
  EXPECT_EQ(FindRule("/mq.acl.v1.AclAdmin/CreateUser")->access, Access::kAdmin);
  EXPECT_EQ(FindRule("/mq.store.v1.Store/Replicate")->access, Access::kCluster);
  EXPECT_EQ(FindRule("/mq.store.v1.Store/AppendBatch")->access, Access::kCluster);
  EXPECT_EQ(FindRule("/mq.namesrv.v1.NameServer/RegisterBroker")->access, Access::kCluster);
  EXPECT_EQ(FindRule("/mq.broker.v1.Broker/NoSuchMethod"), nullptr);
}

}  // namespace
}  // namespace mq::acl
