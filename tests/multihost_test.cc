// Several hosts on one machine: a name server host, two broker hosts (a broker
// and its store each, the store on the host's loopback) and a client host,
// each in its own network namespace, joined by veth pairs to a bridge in a
// "switch" namespace. Every address is one the test gives its own veth ends
// (10.213.1.0/24) or loopback; nothing is configured in the test's own
// namespace, and the namespaces vanish with their processes.
//
// The client sends without pause. The test cuts broker-a's link (ip link set
// eth0 down on that host): the producer must keep sending through broker-b
// without a failed send (its retry on another broker and its latency fault
// tolerance), the name server must drop broker-a, and once the link is back
// broker-a must return to the producer's route.
//
// Skips where network namespaces cannot be created (not root, or a container
// without CAP_SYS_ADMIN).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "testing/network_namespace.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

namespace mq {
namespace {

using ::mq::testing::CheckNetworkNamespacesAllowed;
using ::mq::testing::MakeTempDir;
using ::mq::testing::NetworkNamespace;
using ::mq::testing::RunfilePath;
using ::mq::testing::ServerProcess;

constexpr char kSubnetPrefix[] = "10.213.1.";
constexpr int kNamesrvPort = 9876;
constexpr int kBrokerPort = 10911;
constexpr int kStorePort = 10912;
// Short enough to see broker-a leave within the test; longer than the
// brokers' registration interval (10 s, the shortest they allow).
constexpr absl::Duration kBrokerExpiry = absl::Seconds(15);

// One send line of the producer: "send SEQ ok BROKER MILLIS" or "send SEQ failed ...".
struct SendLine {
  bool ok = false;
  std::string broker;
  int64_t millis = 0;
};

bool ParseSendLine(const std::string& line, SendLine* send) {
  std::vector<std::string> words = absl::StrSplit(line, ' ');
  if (words.size() < 4 || words[0] != "send") return false;
  send->ok = words[2] == "ok";
  if (send->ok) {
    send->broker = words[3];
    return words.size() == 5 && absl::SimpleAtoi(words[4], &send->millis);
  }
  return absl::SimpleAtoi(words[3], &send->millis);
}

class MultiHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status allowed = CheckNetworkNamespacesAllowed();
    if (!allowed.ok()) {
      GTEST_SKIP() << "network namespaces are not allowed here (needs root or CAP_SYS_ADMIN and "
                      "CAP_NET_ADMIN): "
                   << allowed;
    }
    absl::StatusOr<std::unique_ptr<NetworkNamespace>> lan = NetworkNamespace::Create("switch");
    ASSERT_TRUE(lan.ok()) << lan.status();
    switch_ = *std::move(lan);
    ASSERT_TRUE(switch_->Run({"ip", "link", "add", "name", "br0", "type", "bridge"}).ok());
    ASSERT_TRUE(switch_->Run({"ip", "link", "set", "br0", "up"}).ok());
  }

  // A host namespace with loopback up and eth0 (address kSubnetPrefix + host)
  // plugged into the switch.
  std::unique_ptr<NetworkNamespace> AddHost(const std::string& name, int host) {
    absl::StatusOr<std::unique_ptr<NetworkNamespace>> ns = NetworkNamespace::Create(name);
    EXPECT_TRUE(ns.ok()) << ns.status();
    if (!ns.ok()) return nullptr;
    std::string port = absl::StrCat("port", host);
    std::string address = absl::StrCat(kSubnetPrefix, host);
    for (const absl::Status& status : {
             // Created in the switch namespace, its peer straight in the host's.
             switch_->Run({"ip", "link", "add", "name", port, "type", "veth", "peer", "name",
                           "eth0", "netns", absl::StrCat((*ns)->pid())}),
             switch_->Run({"ip", "link", "set", port, "master", "br0"}),
             switch_->Run({"ip", "link", "set", port, "up"}),
             (*ns)->Run({"ip", "link", "set", "lo", "up"}),
             (*ns)->Run({"ip", "addr", "add", absl::StrCat(address, "/24"), "dev", "eth0"}),
             (*ns)->Run({"ip", "link", "set", "eth0", "up"}),
         }) {
      EXPECT_TRUE(status.ok()) << name << ": " << status;
    }
    return *std::move(ns);
  }

  std::unique_ptr<ServerProcess> StartIn(const NetworkNamespace& ns, const std::string& name,
                                         const std::string& binary,
                                         const std::vector<std::string>& args) {
    auto [program, program_args] = ns.Enter(RunfilePath(binary), args);
    absl::StatusOr<std::unique_ptr<ServerProcess>> process =
        ServerProcess::Start(name, program, program_args);
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }

  // Starts a store on the host's loopback and a broker on its eth0 address.
  void StartBrokerHost(const NetworkNamespace& ns, const std::string& broker_name, int host,
                       std::unique_ptr<ServerProcess>* store,
                       std::unique_ptr<ServerProcess>* broker) {
    std::string address = absl::StrCat(kSubnetPrefix, host);
    *store =
        StartIn(ns, broker_name + "-store", "services/store/store",
                {"--listen_address=127.0.0.1", absl::StrCat("--port=", kStorePort),
                 absl::StrCat("--data_dir=", MakeTempDir(broker_name)),
                 absl::StrCat("--broker_name=", broker_name), "--commit_log_file_size=16777216"});
    if (*store == nullptr) return;
    *broker =
        StartIn(ns, broker_name, "services/broker/broker",
                {absl::StrCat("--listen_address=", address), absl::StrCat("--port=", kBrokerPort),
                 absl::StrCat("--advertised_address=", address, ":", kBrokerPort),
                 absl::StrCat("--store_address=127.0.0.1:", kStorePort),
                 absl::StrCat("--namesrv_addr=", kSubnetPrefix, "2:", kNamesrvPort),
                 absl::StrCat("--broker_name=", broker_name), "--register_interval=10s"});
  }

  // Waits until `done(lines)` holds for the producer's output.
  bool WaitForProducer(const std::function<bool(const std::vector<std::string>&)>& done,
                       absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (done(producer_->Lines())) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return done(producer_->Lines());
  }

  // True once a line after index `from` equals `text`.
  bool WaitForLineAfter(size_t from, const std::string& text, absl::Duration timeout) {
    return WaitForProducer(
        [&](const std::vector<std::string>& lines) {
          for (size_t i = from; i < lines.size(); ++i) {
            if (lines[i] == text) return true;
          }
          return false;
        },
        timeout);
  }

  static std::vector<SendLine> SendsAfter(const std::vector<std::string>& lines, size_t from) {
    std::vector<SendLine> sends;
    for (size_t i = from; i < lines.size(); ++i) {
      SendLine send;
      if (ParseSendLine(lines[i], &send)) sends.push_back(send);
    }
    return sends;
  }

  // Declared first: destroyed last, after every process in them.
  std::unique_ptr<NetworkNamespace> switch_;
  std::unique_ptr<NetworkNamespace> namesrv_host_, broker_a_host_, broker_b_host_, client_host_;
  std::unique_ptr<ServerProcess> namesrv_, store_a_, broker_a_, store_b_, broker_b_, producer_;
};

TEST_F(MultiHostTest, ProducerFailsOverWhenABrokerHostIsCutOffAndSeesItReturn) {
  namesrv_host_ = AddHost("namesrv", 2);
  broker_a_host_ = AddHost("broker-a", 3);
  broker_b_host_ = AddHost("broker-b", 4);
  client_host_ = AddHost("client", 5);
  ASSERT_FALSE(HasFailure());

  namesrv_ = StartIn(
      *namesrv_host_, "namesrv", "services/namesrv/namesrv",
      {absl::StrCat("--listen_address=", kSubnetPrefix, "2"), absl::StrCat("--port=", kNamesrvPort),
       absl::StrCat("--broker_expiry=", absl::FormatDuration(kBrokerExpiry)),
       "--scan_interval=1s"});
  ASSERT_NE(namesrv_, nullptr);
  StartBrokerHost(*broker_a_host_, "broker-a", 3, &store_a_, &broker_a_);
  StartBrokerHost(*broker_b_host_, "broker-b", 4, &store_b_, &broker_b_);
  ASSERT_NE(broker_a_, nullptr);
  ASSERT_NE(broker_b_, nullptr);

  auto [program, args] = client_host_->Enter(
      RunfilePath("tests/failover_producer"),
      {absl::StrCat("--namesrv_addr=", kSubnetPrefix, "2:", kNamesrvPort), "--topic=FailoverTopic",
       absl::StrCat("--create_topic_on=", kSubnetPrefix, "3:", kBrokerPort, ",", kSubnetPrefix,
                    "4:", kBrokerPort)});
  absl::StatusOr<std::unique_ptr<ServerProcess>> producer =
      ServerProcess::Spawn("producer", program, args);
  ASSERT_TRUE(producer.ok()) << producer.status();
  producer_ = *std::move(producer);

  // Both groups in the route and taking messages.
  ASSERT_TRUE(WaitForLineAfter(0, "route broker-a,broker-b", absl::Seconds(60)));
  ASSERT_TRUE(WaitForProducer(
      [](const std::vector<std::string>& lines) {
        int a = 0, b = 0;
        for (const SendLine& send : SendsAfter(lines, 0)) {
          a += send.ok && send.broker == "broker-a";
          b += send.ok && send.broker == "broker-b";
        }
        return a >= 10 && b >= 10;
      },
      absl::Seconds(30)))
      << "sends do not reach both broker groups";

  // Cut broker-a's host off mid-stream.
  ASSERT_TRUE(broker_a_host_->Run({"ip", "link", "set", "eth0", "down"}).ok());
  const size_t cut = producer_->Lines().size();
  constexpr size_t kSendsAfterCut = 50;
  ASSERT_TRUE(WaitForProducer(
      [&](const std::vector<std::string>& lines) {
        return SendsAfter(lines, cut).size() >= kSendsAfterCut;
      },
      absl::Seconds(60)))
      << "the producer stalled after broker-a was cut off";
  {
    std::vector<SendLine> sends = SendsAfter(producer_->Lines(), cut);
    int on_a = 0, slow = 0;
    for (const SendLine& send : sends) {
      EXPECT_TRUE(send.ok) << "a send failed although broker-b was reachable";
      on_a += send.broker == "broker-a";
      // An attempt on the silent broker-a costs up to its 1 s attempt cap.
      slow += send.millis >= 900;
    }
    // At most a send already in flight at the cut completes on broker-a.
    EXPECT_LE(on_a, 1);
    // Fault tolerance benches broker-a after its first timeout: not every
    // other send pays for another attempt on it.
    EXPECT_LE(slow, 2) << "sends keep trying broker-a";
  }

  // The name server drops the silent broker-a; the producer's route follows.
  EXPECT_TRUE(WaitForLineAfter(cut, "route broker-b", kBrokerExpiry + absl::Seconds(30)))
      << "broker-a never left the route";

  // Restore the link: broker-a registers again and returns to the route.
  ASSERT_TRUE(broker_a_host_->Run({"ip", "link", "set", "eth0", "up"}).ok());
  const size_t restored = producer_->Lines().size();
  EXPECT_TRUE(WaitForLineAfter(restored, "route broker-a,broker-b", absl::Seconds(60)))
      << "broker-a did not come back into the route";

  for (const SendLine& send : SendsAfter(producer_->Lines(), 0)) {
    EXPECT_TRUE(send.ok) << "no send may fail: broker-b was always reachable";
  }
  EXPECT_TRUE(producer_->Stop().ok());
  EXPECT_TRUE(producer_->WaitForOutput("stopped sent=", absl::Seconds(5)));
  for (ServerProcess* server :
       {broker_a_.get(), broker_b_.get(), store_a_.get(), store_b_.get(), namesrv_.get()}) {
    absl::Status stopped = server->Stop();
    EXPECT_TRUE(stopped.ok()) << stopped;
  }
}

}  // namespace
}  // namespace mq
