#include "services/broker/broker_registrar.h"

#include <gmock/gmock.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "services/namesrv/name_server.h"
#include "testing/wait.h"

namespace mq::broker {
namespace {

using ::testing::ElementsAre;

// A name server on a free local port.
class LocalNameServer {
 public:
  LocalNameServer() : name_server_(namesrv::NameServerOptions{}) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(name_server_.service());
    server_ = builder.BuildAndStart();
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~LocalNameServer() { server_->Shutdown(); }

  const std::string& address() const { return address_; }
  namesrv::RouteInfoManager* routes() { return name_server_.routes(); }
  bool HasTopic(const std::string& topic) { return routes()->GetRouteInfoByTopic(topic).ok(); }

 private:
  namesrv::NameServer name_server_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

common::v1::TopicConfig Topic(const std::string& name) {
  common::v1::TopicConfig config;
  config.set_topic_name(name);
  config.set_read_queue_nums(4);
  config.set_write_queue_nums(4);
  config.set_perm(6);
  return config;
}

BrokerRegistrarOptions Options(std::vector<std::string> namesrvs, int64_t broker_id,
                               const std::string& addr) {
  BrokerRegistrarOptions options;
  options.namesrv_addrs = std::move(namesrvs);
  options.cluster_name = "DefaultCluster";
  options.broker_name = "broker-a";
  options.broker_id = broker_id;
  options.broker_addr = addr;
  options.ha_server_addr = "127.0.0.1:30912";
  options.rpc_timeout = absl::Seconds(3);
  return options;
}

class BrokerRegistrarTest : public ::testing::Test {
 protected:
  TopicConfigManager::Snapshot Snapshot() {
    absl::MutexLock lock(&mu_);
    return snapshot_;
  }
  void AddTopic(const std::string& name) {
    absl::MutexLock lock(&mu_);
    snapshot_.configs.push_back(Topic(name));
    snapshot_.data_version.set_counter(snapshot_.data_version.counter() + 1);
  }

  LocalNameServer first_;
  LocalNameServer second_;
  absl::Mutex mu_;
  TopicConfigManager::Snapshot snapshot_ ABSL_GUARDED_BY(mu_);
};

TEST(RegisterIntervalTest, ClampsToTenToSixtySeconds) {
  EXPECT_EQ(ClampRegisterInterval(absl::Seconds(30)), absl::Seconds(30));
  EXPECT_EQ(ClampRegisterInterval(absl::Seconds(1)), absl::Seconds(10));
  EXPECT_EQ(ClampRegisterInterval(absl::Minutes(5)), absl::Seconds(60));
}

TEST(NameServerListTest, SplitsOnSemicolons) {
  EXPECT_THAT(ParseNameServerList(" a:1; b:2;;"), ElementsAre("a:1", "b:2"));
  EXPECT_TRUE(ParseNameServerList("").empty());
}

TEST_F(BrokerRegistrarTest, RegistersWithEveryNameServerAndSurvivesADeadOne) {
  AddTopic("orders");
  BrokerRegistrar registrar(
      Options({first_.address(), "127.0.0.1:1", second_.address()}, 0, "127.0.0.1:10911"),
      [this] { return Snapshot(); });
  absl::Time start = absl::Now();
  absl::Status status = registrar.RegisterAll();
  EXPECT_FALSE(status.ok());  // the dead one
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE(first_.HasTopic("orders"));
  EXPECT_TRUE(second_.HasTopic("orders"));
  EXPECT_EQ(registrar.successful_registrations(), 2);
  namesrv::v1::GetClusterInfoResponse cluster = first_.routes()->GetClusterInfo();
  ASSERT_EQ(cluster.live_brokers_size(), 1);
  EXPECT_EQ(cluster.live_brokers(0).broker_addr(), "127.0.0.1:10911");
  EXPECT_EQ(cluster.live_brokers(0).ha_server_addr(), "127.0.0.1:30912");
  EXPECT_EQ(cluster.live_brokers(0).data_version().counter(), 1);
}

TEST_F(BrokerRegistrarTest, SlaveLearnsItsMaster) {
  BrokerRegistrar master(Options({first_.address()}, 0, "127.0.0.1:10911"),
                         [this] { return Snapshot(); });
  ASSERT_TRUE(master.RegisterAll().ok());
  BrokerRegistrar slave(Options({first_.address()}, 1, "127.0.0.1:20911"),
                        [this] { return Snapshot(); });
  ASSERT_TRUE(slave.RegisterAll().ok());
  EXPECT_EQ(slave.master_addr(), "127.0.0.1:10911");
  EXPECT_EQ(slave.ha_master_addr(), "127.0.0.1:30912");
  EXPECT_EQ(master.master_addr(), "");
}

TEST_F(BrokerRegistrarTest, TopicChangeIsRegisteredAtOnceAndUnregisterRemoves) {
  AddTopic("orders");
  BrokerRegistrarOptions options =
      Options({first_.address(), second_.address()}, 0, "127.0.0.1:10911");
  options.register_interval = absl::Minutes(10);
  BrokerRegistrar registrar(options, [this] { return Snapshot(); });
  registrar.Start();
  EXPECT_TRUE(first_.HasTopic("orders"));
  AddTopic("fresh");
  registrar.TriggerNow();
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return first_.HasTopic("fresh") && second_.HasTopic("fresh"); }, absl::Seconds(10)));
  registrar.Stop();
  ASSERT_TRUE(registrar.UnregisterAll().ok());
  EXPECT_FALSE(first_.HasTopic("orders"));
  EXPECT_FALSE(second_.HasTopic("fresh"));
}

}  // namespace
}  // namespace mq::broker
