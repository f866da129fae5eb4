#include "client/src/client_instance.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "client/src/client_registry.h"
#include "gtest/gtest.h"
#include "testing/fake_servers.h"
#include "testing/scoped_env.h"
#include "testing/wait.h"

namespace mq::client_internal {
namespace {

using ::mq::testing::FakeBroker;
using ::mq::testing::FakeNameServer;
using ::mq::testing::FakeReply;
using ::mq::testing::MakeRoute;
using ::mq::testing::ScopedEnv;
using ::mq::testing::WaitUntil;

// A producer that uses a fixed set of topics.
class RecordingMember : public ProducerMember {
 public:
  explicit RecordingMember(std::vector<std::string> topics) : topics_(std::move(topics)) {}

  std::vector<std::string> TopicsInUse() const override { return topics_; }

 private:
  const std::vector<std::string> topics_;
};

// A send for a send stream, which keeps it until written.
std::shared_ptr<broker::v1::SendStreamRequest> OneSend() {
  auto request = std::make_shared<broker::v1::SendStreamRequest>();
  common::v1::Message* message = request->mutable_send()->mutable_message();
  message->set_topic("T");
  message->set_body("b");
  (*message->mutable_properties())["UNIQ_KEY"] = "id";
  return request;
}

ClientOptions FastOptions(std::vector<std::string> name_servers) {
  ClientOptions options;
  options.name_server_addresses = std::move(name_servers);
  options.instance_name = "instance-test";
  options.client_ip = "127.0.0.1";
  options.api_timeout = absl::Seconds(2);
  return options;
}

TEST(ClientInstanceTest, StartStateMachine) {
  FakeNameServer namesrv;
  ClientInstance instance("127.0.0.1@x", FastOptions({namesrv.address()}));
  EXPECT_EQ(instance.state(), ServiceState::kCreateJust);
  ASSERT_TRUE(instance.Start().ok());
  EXPECT_EQ(instance.state(), ServiceState::kRunning);
  // Shared instances are started by every member: a no-op.
  EXPECT_TRUE(instance.Start().ok());
  instance.Shutdown();
  EXPECT_EQ(instance.state(), ServiceState::kShutdownAlready);
  EXPECT_EQ(instance.Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ClientInstanceTest, StartWithoutNameServerFails) {
  ClientInstance instance("127.0.0.1@x", ClientOptions());
  EXPECT_EQ(instance.Start().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(instance.state(), ServiceState::kStartFailed);
  EXPECT_EQ(instance.Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ClientInstanceTest, DuplicateProducerGroupIsRefused) {
  FakeNameServer namesrv;
  ClientInstance instance("127.0.0.1@x", FastOptions({namesrv.address()}));
  RecordingMember a({}), b({});
  ASSERT_TRUE(instance.RegisterProducer("G", &a).ok());
  absl::Status again = instance.RegisterProducer("G", &b);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("already registered"), absl::string_view::npos);
  EXPECT_TRUE(instance.HasMembers());
  instance.RemoveProducer("G");
  EXPECT_FALSE(instance.HasMembers());
}

TEST(ClientInstanceTest, NameServerChoiceIsStickyAndRotatesOnFailure) {
  // Three servers, so moving to the next in the list is distinguishable from
  // moving to any other.
  FakeNameServer servers[3];
  FakeBroker broker("broker-a");
  std::vector<std::string> addresses;
  for (FakeNameServer& ns : servers) {
    ns.SetRoute("T", MakeRoute({{&broker}}));
    addresses.push_back(ns.address());
  }
  ClientInstance instance("127.0.0.1@x", FastOptions(addresses));
  auto index_of = [&](const std::string& address) {
    for (int i = 0; i < 3; ++i) {
      if (addresses[i] == address) return i;
    }
    return -1;
  };
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(instance.QueryTopicRoute("T").ok());
  // All five went to the same name server.
  const int chosen = index_of(instance.CurrentNameServer());
  ASSERT_GE(chosen, 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(servers[i].TotalRouteQueries(), i == chosen ? 5 : 0);

  // When it fails, the next one in the list takes over, and stays.
  servers[chosen].Stop();
  const int next = (chosen + 1) % 3;
  ASSERT_TRUE(instance.QueryTopicRoute("T").ok());
  EXPECT_EQ(instance.CurrentNameServer(), addresses[next]);
  ASSERT_TRUE(instance.QueryTopicRoute("T").ok());
  EXPECT_EQ(servers[next].TotalRouteQueries(), 2);
  EXPECT_EQ(servers[(chosen + 2) % 3].TotalRouteQueries(), 0);

  // And when that one fails, the one after it.
  servers[next].Stop();
  ASSERT_TRUE(instance.QueryTopicRoute("T").ok());
  EXPECT_EQ(instance.CurrentNameServer(), addresses[(chosen + 2) % 3]);
}

TEST(ClientInstanceTest, HungNameServerIsLeftAfterTheApiTimeout) {
  FakeNameServer first, second;
  FakeBroker broker("broker-a");
  for (FakeNameServer* ns : {&first, &second}) ns->SetRoute("T", MakeRoute({{&broker}}));
  ClientOptions options = FastOptions({first.address(), second.address()});
  options.api_timeout = absl::Milliseconds(200);
  ClientInstance instance("127.0.0.1@x", options);
  FakeNameServer* chosen = instance.CurrentNameServer() == first.address() ? &first : &second;
  chosen->SetReply(FakeReply::Hang());
  const absl::Time start = absl::Now();
  ASSERT_TRUE(instance.QueryTopicRoute("T").ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_NE(instance.CurrentNameServer(), chosen->address());
}

TEST(ClientInstanceTest, AllNameServersDownIsUnavailable) {
  FakeNameServer first, second;
  const std::string a = first.address(), b = second.address();
  first.Stop();
  second.Stop();
  ClientInstance instance("127.0.0.1@x", FastOptions({a, b}));
  absl::StatusOr<common::v1::TopicRouteData> route = instance.QueryTopicRoute("T");
  ASSERT_FALSE(route.ok());
  EXPECT_EQ(route.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(route.status().message().find(a), absl::string_view::npos);
  EXPECT_NE(route.status().message().find(b), absl::string_view::npos);
}

TEST(ClientInstanceTest, UnknownTopicIsNotFoundWithoutRotation) {
  FakeNameServer first, second;
  ClientInstance instance("127.0.0.1@x", FastOptions({first.address(), second.address()}));
  const std::string chosen = instance.CurrentNameServer();
  EXPECT_EQ(instance.QueryTopicRoute("Missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(instance.CurrentNameServer(), chosen);
  EXPECT_EQ(first.TotalRouteQueries() + second.TotalRouteQueries(), 1);
}

TEST(ClientInstanceTest, DefaultTopicRouteIsClampedAndStoredForTheNewTopic) {
  FakeNameServer namesrv;
  FakeBroker a("broker-a"), b("broker-b");
  namesrv.SetRoute("TBW102", MakeRoute({{&a, 8}, {&b, 2}}));
  ClientInstance instance("127.0.0.1@x", FastOptions({namesrv.address()}));
  RecordingMember member({"NewTopic"});
  ASSERT_TRUE(instance.RegisterProducer("G", &member).ok());
  ASSERT_TRUE(instance.UpdateTopicRouteFromDefault("NewTopic", "TBW102", 4).ok());
  absl::optional<common::v1::TopicRouteData> route = instance.routes().Route("NewTopic");
  ASSERT_TRUE(route.has_value());
  for (const auto& qd : route->queue_datas()) {
    EXPECT_EQ(qd.write_queue_nums(), qd.broker_name() == "broker-a" ? 4 : 2);
    EXPECT_EQ(qd.read_queue_nums(), qd.write_queue_nums());
  }
  auto info = instance.routes().PublishInfo("NewTopic");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->queues().size(), 6u);
  EXPECT_EQ(info->queues().front().topic, "NewTopic");
  EXPECT_EQ(instance.routes().FindMasterAddress("broker-b"), b.address());
  instance.RemoveProducer("G");
}

TEST(ClientInstanceTest, ScheduledRefreshPicksUpRouteChanges) {
  FakeNameServer namesrv;
  FakeBroker a("broker-a"), b("broker-b");
  namesrv.SetRoute("T", MakeRoute({{&a}}));
  ClientOptions options = FastOptions({namesrv.address()});
  options.poll_name_server_interval = absl::Milliseconds(30);
  ClientInstance instance("127.0.0.1@x", options);
  RecordingMember member({"T"});
  ASSERT_TRUE(instance.RegisterProducer("G", &member).ok());
  ASSERT_TRUE(instance.Start().ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto info = instance.routes().PublishInfo("T");
    return info != nullptr && info->queues().size() == 4;
  }));
  namesrv.SetRoute("T", MakeRoute({{&a}, {&b, 2}}));
  EXPECT_TRUE(WaitUntil([&] {
    auto info = instance.routes().PublishInfo("T");
    return info != nullptr && info->queues().size() == 6;
  }));
  EXPECT_EQ(instance.routes().FindMasterAddress("broker-b"), b.address());
  instance.RemoveProducer("G");
  instance.Shutdown();
}

TEST(ClientInstanceTest, HeartbeatsGoToMastersPeriodically) {
  FakeNameServer namesrv;
  FakeBroker master("broker-a"), slave("broker-a-slave");
  common::v1::TopicRouteData route = MakeRoute({{&master}});
  (*route.mutable_broker_datas(0)->mutable_broker_addrs())[1] = slave.address();
  namesrv.SetRoute("T", route);
  ClientOptions options = FastOptions({namesrv.address()});
  options.heartbeat_broker_interval = absl::Milliseconds(30);
  ClientInstance instance("127.0.0.1@hb", options);
  RecordingMember member({"T"});
  ASSERT_TRUE(instance.RegisterProducer("G", &member).ok());
  ASSERT_TRUE(instance.UpdateTopicRouteFromNameServer("T").ok());
  ASSERT_TRUE(instance.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return master.Heartbeats().size() >= 3; }));
  const broker::v1::HeartbeatRequest heartbeat = master.Heartbeats().front();
  EXPECT_EQ(heartbeat.client_id(), "127.0.0.1@hb");
  ASSERT_EQ(heartbeat.producers_size(), 1);
  EXPECT_EQ(heartbeat.producers(0).group_name(), "G");
  EXPECT_TRUE(slave.Heartbeats().empty());
  instance.RemoveProducer("G");
  instance.Shutdown();
}

TEST(ClientInstanceTest, CleanOfflineBrokersForgetsUnreferencedAddresses) {
  FakeNameServer namesrv;
  FakeBroker a("broker-a"), b("broker-b");
  namesrv.SetRoute("T", MakeRoute({{&a}, {&b}}));
  ClientInstance instance("127.0.0.1@x", FastOptions({namesrv.address()}));
  ASSERT_TRUE(instance.UpdateTopicRouteFromNameServer("T").ok());
  EXPECT_TRUE(instance.routes().FindMasterAddress("broker-b").has_value());
  namesrv.SetRoute("T", MakeRoute({{&a}}));
  ASSERT_TRUE(instance.UpdateTopicRouteFromNameServer("T").ok());
  instance.CleanOfflineBrokers();
  EXPECT_FALSE(instance.routes().FindMasterAddress("broker-b").has_value());
  EXPECT_EQ(instance.routes().FindMasterAddress("broker-a"), a.address());
}

TEST(ClientInstanceTest, SendStreamsAreSharedInTurnAndReplacedWhenTheyFail) {
  FakeNameServer namesrv;
  auto broker = std::make_unique<FakeBroker>("broker-a");
  const std::string address = broker->address();
  ClientInstance instance("127.0.0.1@x", FastOptions({namesrv.address()}));
  ASSERT_TRUE(instance.Start().ok());
  std::set<BrokerSendStream*> distinct;
  std::vector<std::shared_ptr<BrokerSendStream>> first_round;
  for (size_t i = 0; i < 2 * kSendStreamsPerBroker; ++i) {
    std::shared_ptr<BrokerSendStream> stream = instance.connections().SendStream(address);
    ASSERT_TRUE(stream->usable());
    distinct.insert(stream.get());
    if (i < kSendStreamsPerBroker) first_round.push_back(stream);
  }
  EXPECT_EQ(distinct.size(), kSendStreamsPerBroker);
  // The broker goes away: its streams fail, and the next use opens new ones.
  broker.reset();
  for (const auto& stream : first_round) {
    ASSERT_TRUE(WaitUntil([&] { return stream->ended(); }));
    EXPECT_FALSE(stream->usable());
  }
  for (size_t i = 0; i < kSendStreamsPerBroker; ++i) {
    std::shared_ptr<BrokerSendStream> stream = instance.connections().SendStream(address);
    EXPECT_EQ(distinct.count(stream.get()), 0u) << "a failed stream was handed out again";
  }
  first_round.clear();
  // Failed streams that have ended are dropped by the periodic clean-up.
  EXPECT_GT(instance.connections().FailedSendStreams(), 0u);
  instance.CleanOfflineBrokers();
  EXPECT_EQ(instance.connections().FailedSendStreams(), 0u);
  instance.Shutdown();
}

// Each send stream to a broker runs on a connection of its own (the broker
// sees each come from its own client port), and a stream that replaces a
// failed one reuses its slot's connection.
TEST(ClientInstanceTest, SendStreamsToABrokerUseOneConnectionEach) {
  FakeNameServer namesrv;
  FakeBroker broker("broker-a");
  ClientInstance instance("127.0.0.1@x", FastOptions({namesrv.address()}));
  ASSERT_TRUE(instance.Start().ok());
  auto send_on_each_stream = [&] {
    for (size_t i = 0; i < kSendStreamsPerBroker; ++i) {
      absl::Notification done;
      absl::Status status;
      instance.connections()
          .SendStream(broker.address())
          ->Send(OneSend(), absl::Now() + absl::Seconds(10),
                 [&](absl::StatusOr<broker::v1::SendStreamResponse> response) {
                   status = response.status();
                   done.Notify();
                 });
      ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
      ASSERT_TRUE(status.ok()) << status;
    }
  };
  send_on_each_stream();
  const std::set<std::string> peers = broker.SendStreamPeers();
  EXPECT_EQ(peers.size(), kSendStreamsPerBroker);
  // A stream the broker ends is replaced on the same connection.
  broker.SetDefaultSendReply(FakeReply::EndStream(grpc::StatusCode::UNAVAILABLE));
  for (size_t i = 0; i < kSendStreamsPerBroker; ++i) {
    std::shared_ptr<BrokerSendStream> stream = instance.connections().SendStream(broker.address());
    absl::Notification done;
    stream->Send(OneSend(), absl::Now() + absl::Seconds(10),
                 [&](absl::StatusOr<broker::v1::SendStreamResponse>) { done.Notify(); });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    ASSERT_TRUE(WaitUntil([&] { return !stream->usable(); }));
  }
  broker.SetDefaultSendReply(FakeReply::Ok());
  send_on_each_stream();
  EXPECT_EQ(broker.SendStreamPeers(), peers);
  instance.Shutdown();
}

// A broker that is down fails each new stream at once; sending on regardless
// (as a producer without fault avoidance does) keeps a bounded number of them.
TEST(ClientInstanceTest, StreamsToADownBrokerDoNotPileUp) {
  FakeNameServer namesrv;
  std::string address;
  {
    FakeBroker gone("broker-a");
    address = gone.address();
  }
  ClientInstance instance("127.0.0.1@x", FastOptions({namesrv.address()}));
  ASSERT_TRUE(instance.Start().ok());
  for (int i = 0; i < 200; ++i) {
    std::shared_ptr<BrokerSendStream> stream = instance.connections().SendStream(address);
    absl::Notification done;
    absl::Status status;
    stream->Send(OneSend(), absl::Now() + absl::Seconds(10),
                 [&](absl::StatusOr<broker::v1::SendStreamResponse> response) {
                   status = response.status();
                   done.Notify();
                 });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
    ASSERT_TRUE(WaitUntil([&] { return stream->ended(); }));
  }
  EXPECT_LE(instance.connections().FailedSendStreams(), kFailedStreamsKept);
  instance.Shutdown();
}

TEST(ClientInstanceTest, UnregisterProducerTellsEveryBroker) {
  FakeNameServer namesrv;
  FakeBroker a("broker-a"), b("broker-b");
  namesrv.SetRoute("T", MakeRoute({{&a}, {&b}}));
  ClientInstance instance("127.0.0.1@un", FastOptions({namesrv.address()}));
  RecordingMember member({"T"});
  ASSERT_TRUE(instance.RegisterProducer("G", &member).ok());
  ASSERT_TRUE(instance.UpdateTopicRouteFromNameServer("T").ok());
  instance.UnregisterProducer("G");
  for (FakeBroker* broker : {&a, &b}) {
    ASSERT_EQ(broker->Unregisters().size(), 1u);
    EXPECT_EQ(broker->Unregisters()[0].client_id(), "127.0.0.1@un");
    EXPECT_EQ(broker->Unregisters()[0].producer_group(), "G");
  }
  EXPECT_FALSE(instance.HasMembers());
}

TEST(ClientRegistryTest, SameClientIdSharesOneInstance) {
  FakeNameServer namesrv;
  ClientOptions options = FastOptions({namesrv.address()});
  options.instance_name = "shared";
  RecordingMember a({}), b({});
  auto first = ClientRegistry::Default().RegisterProducer(options, "GA", &a);
  auto second = ClientRegistry::Default().RegisterProducer(options, "GB", &b);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ((*first)->client_id(), "127.0.0.1@shared");
  EXPECT_EQ((*first)->state(), ServiceState::kRunning);
  // The same group twice in one instance.
  RecordingMember c({});
  EXPECT_EQ(ClientRegistry::Default().RegisterProducer(options, "GA", &c).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Other name servers under the same client id.
  FakeNameServer other;
  ClientOptions conflicting = options;
  conflicting.name_server_addresses = {other.address()};
  EXPECT_EQ(ClientRegistry::Default().RegisterProducer(conflicting, "GC", &c).status().code(),
            absl::StatusCode::kFailedPrecondition);

  std::shared_ptr<ClientInstance> instance = *first;
  ClientRegistry::Default().UnregisterProducer(instance, "GA");
  EXPECT_EQ(instance->state(), ServiceState::kRunning);
  ClientRegistry::Default().UnregisterProducer(instance, "GB");
  EXPECT_EQ(instance->state(), ServiceState::kShutdownAlready);
  // A new registration gets a fresh instance.
  auto third = ClientRegistry::Default().RegisterProducer(options, "GA", &a);
  ASSERT_TRUE(third.ok());
  EXPECT_NE(third->get(), instance.get());
  ClientRegistry::Default().UnregisterProducer(*third, "GA");
}

TEST(ResolveClientOptionsTest, FillsDefaultsAndValidates) {
  ClientOptions options;
  options.name_server_addresses = {"127.0.0.1:9876"};
  absl::StatusOr<ClientOptions> resolved = ResolveClientOptions(options);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->instance_name, std::to_string(getpid()));
  EXPECT_FALSE(resolved->client_ip.empty());
  options.name_server_addresses = {"no-port"};
  EXPECT_EQ(ResolveClientOptions(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResolveClientOptionsTest, ReadsNamesrvAddrFromTheEnvironment) {
  {
    ScopedEnv env("NAMESRV_ADDR", "10.0.0.1:9876;10.0.0.2:9876");
    absl::StatusOr<ClientOptions> resolved = ResolveClientOptions(ClientOptions());
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    EXPECT_EQ(resolved->name_server_addresses,
              (std::vector<std::string>{"10.0.0.1:9876", "10.0.0.2:9876"}));
  }
  ScopedEnv unset("NAMESRV_ADDR");
  EXPECT_EQ(ResolveClientOptions(ClientOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mq::client_internal
