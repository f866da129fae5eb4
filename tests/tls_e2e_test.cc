// TLS on every port, with certificates made by the openssl command line at
// test time: the C++ client sending and pulling over TLS to a standalone
// server and to a split cluster whose internal ports (stores, replication,
// the name server) require client certificates; clients refused for a wrong
// CA, for dialing plaintext, for lacking a certificate; a certificate
// replaced on disk while a producer sends; the self-signed first run.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/tls.h"
#include "mq/producer.h"
#include "mq/pull_consumer.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"
#include "testing/wait.h"

namespace mq {
namespace {

using testing::CertificatePair;
using testing::ServerProcess;

// The value after `prefix` on the first output line of `process` having it.
std::string OutputAfter(ServerProcess& process, const std::string& prefix) {
  for (const std::string& line : process.Lines()) {
    const size_t at = line.find(prefix);
    if (at != std::string::npos) return line.substr(at + prefix.size());
  }
  return "";
}

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("tls_e2e");
    absl::StatusOr<testing::TestPki> pki = testing::TestPki::Create(dir_);
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<testing::TestPki>(*std::move(pki));
    absl::StatusOr<CertificatePair> server = pki_->Issue("server");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *server;
    absl::StatusOr<CertificatePair> client = pki_->Issue("client");
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *client;
  }

  // Flags of a TLS-only server with the test CA's server certificate.
  std::vector<std::string> ServerFlags(const std::string& client_auth = "none") const {
    return {"--tls_mode=enforcing", "--tls_cert_file=" + server_.cert_file,
            "--tls_key_file=" + server_.key_file, "--tls_ca_file=" + pki_->ca_file(),
            "--tls_client_auth=" + client_auth};
  }
  // ... that also dials its peers over TLS, presenting its certificate.
  std::vector<std::string> PeerFlags(const std::string& client_auth = "none") const {
    std::vector<std::string> flags = ServerFlags(client_auth);
    flags.push_back("--peer_tls");
    return flags;
  }

  // Trusts the test CA; with `with_cert`, presents the client certificate.
  ClientTls Tls(bool with_cert = false) const {
    ClientTls tls;
    tls.enabled = true;
    tls.ca_file = pki_->ca_file();
    if (with_cert) {
      tls.cert_file = client_.cert_file;
      tls.key_file = client_.key_file;
    }
    return tls;
  }

  static ClientOptions Client(const std::string& namesrv, const std::string& instance,
                              const TlsOptions& tls) {
    ClientOptions client;
    client.name_server_addresses = {namesrv};
    client.instance_name = instance;
    client.client_ip = "127.0.0.1";
    client.tls = tls;
    return client;
  }
  TlsOptions ClientTlsOptions() const {
    TlsOptions tls;
    tls.enabled = true;
    tls.ca_file = pki_->ca_file();
    return tls;
  }

  // Sends `count` messages to `topic` through a producer dialing as `tls`;
  // the first failure, if any.
  static absl::Status Send(const std::string& namesrv, const std::string& instance,
                           const TlsOptions& tls, const std::string& topic, int count) {
    ProducerOptions options;
    options.client = Client(namesrv, instance, tls);
    options.send_timeout = absl::Seconds(5);
    Producer producer(instance, options);
    if (absl::Status started = producer.Start(); !started.ok()) return started;
    absl::Status result;
    for (int i = 0; i < count && result.ok(); ++i) {
      result = producer.Send(Message(topic, "TagA", absl::StrCat(instance, "-", i))).status();
    }
    producer.Shutdown();
    return result;
  }

  // Pulls every queue of `topic` from offset 0 over TLS; the bodies.
  static std::vector<std::string> PullAll(const std::string& namesrv, const TlsOptions& tls,
                                          const std::string& topic, size_t expected) {
    PullConsumerOptions options;
    options.client = Client(namesrv, "puller", tls);
    PullConsumer puller("tls_puller", options);
    EXPECT_TRUE(puller.Start().ok());
    std::vector<std::string> bodies;
    absl::StatusOr<std::vector<MessageQueue>> queues = puller.FetchSubscribeQueues(topic);
    EXPECT_TRUE(queues.ok()) << queues.status();
    if (!queues.ok()) return bodies;
    std::vector<int64_t> next(queues->size(), 0);
    testing::WaitUntil(
        [&] {
          for (size_t q = 0; q < queues->size(); ++q) {
            absl::StatusOr<PullResult> pulled = puller.Pull((*queues)[q], "*", next[q], 64);
            if (!pulled.ok()) continue;
            for (const MessageExt& m : pulled->messages) bodies.push_back(m.message.body());
            next[q] = pulled->next_begin_offset;
          }
          return bodies.size() >= expected;
        },
        absl::Seconds(20));
    puller.Shutdown();
    return bodies;
  }

  std::string dir_;
  std::unique_ptr<testing::TestPki> pki_;
  CertificatePair server_;
  CertificatePair client_;
};

TEST_F(TlsE2eTest, StandaloneServesClientsOverTlsAndRefusesOthersClearly) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      testing::StartStandalone(dir_ + "/data", ServerFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  ASSERT_TRUE(testing::CreateTopic(address, "TlsTopic", 2, Tls()).ok());
  ASSERT_TRUE(testing::WaitForRoute(address, "TlsTopic", 1, absl::Seconds(20), Tls()).ok());

  ASSERT_TRUE(Send(address, "tls-producer", ClientTlsOptions(), "TlsTopic", 30).ok());
  std::vector<std::string> bodies = PullAll(address, ClientTlsOptions(), "TlsTopic", 30);
  EXPECT_EQ(bodies.size(), 30u);

  // A client trusting another CA: the handshake fails on the certificate.
  TlsOptions wrong_ca = ClientTlsOptions();
  wrong_ca.ca_file = pki_->other_ca_file();
  absl::Status refused = Send(address, "wrong-ca", wrong_ca, "TlsTopic", 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.message(), "certificate verify failed")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "does not chain to the trusted CAs")) << refused;

  // A plaintext client: told that the port may be serving TLS.
  absl::Status plaintext = Send(address, "plaintext", TlsOptions{}, "TlsTopic", 1);
  ASSERT_FALSE(plaintext.ok());
  EXPECT_TRUE(absl::StrContains(plaintext.message(), "dial it with TLS")) << plaintext;
  std::cerr << "plaintext client sees: " << plaintext << "\n";

  // mqadmin over TLS.
  absl::StatusOr<testing::ToolResult> listed =
      testing::RunTool(testing::RunfilePath("tools/mqadmin/mqadmin"),
                       {"topicList", "-n", address, "--tls", "--tlsCaFile", pki_->ca_file()});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->exit_code, 0) << listed->err;
  EXPECT_TRUE(absl::StrContains(listed->out, "TlsTopic")) << listed->out;
  EXPECT_TRUE((*server)->Stop().ok());
}

TEST_F(TlsE2eTest, SplitClusterWithMutualTlsOnInternalPorts) {
  // Stores (and so replication) require a client certificate; the name
  // server asks for one (brokers present theirs, clients have none).
  absl::StatusOr<std::unique_ptr<ServerProcess>> namesrv =
      testing::StartNamesrv(ServerFlags("request"));
  ASSERT_TRUE(namesrv.ok()) << namesrv.status();
  absl::StatusOr<std::unique_ptr<ServerProcess>> master =
      testing::StartStore("store-master", dir_ + "/master", 1 << 20, ServerFlags("require"));
  ASSERT_TRUE(master.ok()) << master.status();
  std::vector<std::string> slave_flags = PeerFlags("require");
  slave_flags.insert(slave_flags.end(),
                     {"--role=SLAVE", "--broker_id=1", "--master_address=" + (*master)->address()});
  absl::StatusOr<std::unique_ptr<ServerProcess>> slave =
      testing::StartStore("store-slave", dir_ + "/slave", 1 << 20, slave_flags);
  ASSERT_TRUE(slave.ok()) << slave.status();
  absl::StatusOr<std::unique_ptr<ServerProcess>> broker =
      testing::StartBroker("broker", (*master)->address(), (*namesrv)->address(), PeerFlags());
  ASSERT_TRUE(broker.ok()) << broker.status();

  ASSERT_TRUE(testing::CreateTopic((*broker)->address(), "SplitTls", 2, Tls()).ok());
  ASSERT_TRUE(
      testing::WaitForRoute((*namesrv)->address(), "SplitTls", 1, absl::Seconds(20), Tls()).ok());
  ASSERT_TRUE(
      Send((*namesrv)->address(), "split-producer", ClientTlsOptions(), "SplitTls", 20).ok());
  EXPECT_EQ(PullAll((*namesrv)->address(), ClientTlsOptions(), "SplitTls", 20).size(), 20u);

  // The slave replicated all of it over the mutual-TLS stream.
  absl::StatusOr<store::v1::GetStatsResponse> master_stats =
      testing::StoreStats((*master)->address(), Tls(true));
  ASSERT_TRUE(master_stats.ok()) << master_stats.status();
  EXPECT_GT(master_stats->max_physical_offset(), 0);
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        absl::StatusOr<store::v1::GetStatsResponse> stats =
            testing::StoreStats((*slave)->address(), Tls(true));
        return stats.ok() && stats->max_physical_offset() == master_stats->max_physical_offset();
      },
      absl::Seconds(20)));

  // A client without a certificate is refused by the store.
  absl::StatusOr<store::v1::GetStatsResponse> anonymous =
      testing::StoreStats((*master)->address(), Tls(false));
  EXPECT_FALSE(anonymous.ok());

  for (auto* process : {&*broker, &*slave, &*master, &*namesrv}) {
    EXPECT_TRUE((*process)->Stop().ok());
  }
}

TEST_F(TlsE2eTest, CertificateReplacedUnderLoadIsServedWithoutAFailedSend) {
  // The server reads its files from a directory of its own, replaced by
  // rename as cert-manager's secret volumes are.
  const std::string live = dir_ + "/live";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", live, " && cp ", server_.cert_file, " ", live,
                                     "/tls.crt && cp ", server_.key_file, " ", live, "/tls.key")
                            .c_str()),
            0);
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = testing::StartStandalone(
      dir_ + "/data", {"--tls_mode=enforcing", "--tls_cert_file=" + live + "/tls.crt",
                       "--tls_key_file=" + live + "/tls.key", "--tls_reload_interval=1s"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  absl::StatusOr<std::string> before = testing::ServedCertificateFingerprint(address);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(*before, *CertificateFingerprint(server_.cert_file));
  ASSERT_TRUE(testing::CreateTopic(address, "Rotate", 2, Tls()).ok());

  ProducerOptions options;
  options.client = Client(address, "rotating", ClientTlsOptions());
  Producer producer("rotating", options);
  ASSERT_TRUE(producer.Start().ok());
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::atomic<int> failed{0};
  std::thread sender([&] {
    while (!stop) {
      absl::StatusOr<SendResult> r = producer.Send(Message("Rotate", "", "payload"));
      r.ok() ? ++sent : ++failed;
    }
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return sent > 50; }, absl::Seconds(20)));

  absl::StatusOr<CertificatePair> renewed = pki_->Issue("renewed");
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  const std::string next = dir_ + "/next";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", next, " && cp ", renewed->cert_file, " ", next,
                                     "/tls.crt && cp ", renewed->key_file, " ", next, "/tls.key")
                            .c_str()),
            0);
  const std::string old_dir = dir_ + "/old";
  ASSERT_EQ(std::rename(live.c_str(), old_dir.c_str()), 0);
  ASSERT_EQ(std::rename(next.c_str(), live.c_str()), 0);
  const std::string expected = *CertificateFingerprint(renewed->cert_file);
  ASSERT_NE(expected, *before);
  std::string served;
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        served = testing::ServedCertificateFingerprint(address).value_or("");
        return served == expected;
      },
      absl::Seconds(20)))
      << "still served: " << served;
  const int sent_at_rotation = sent;
  ASSERT_TRUE(testing::WaitUntil([&] { return sent > sent_at_rotation + 50; }, absl::Seconds(20)));
  // A new connection is made with the new certificate and trusts it.
  EXPECT_TRUE(Send(address, "after-rotation", ClientTlsOptions(), "Rotate", 5).ok());
  stop = true;
  sender.join();
  producer.Shutdown();
  EXPECT_EQ(failed.load(), 0);
  std::cerr << sent.load() << " sends, " << failed.load() << " failed\n";
  EXPECT_TRUE((*server)->Stop().ok());
}

TEST_F(TlsE2eTest, SelfSignedFirstRunIsReusedAndPermissiveServesBoth) {
  const std::string data = dir_ + "/data";
  absl::StatusOr<std::unique_ptr<ServerProcess>> first =
      testing::StartStandalone(data, {"--tls_mode=enforcing"});
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string cert = data + "/tls/server.crt";
  const std::string said = OutputAfter(**first, "TLS certificate: ");
  EXPECT_TRUE(absl::StartsWith(said, cert + " (self-signed, made now), SHA-256 fingerprint "))
      << said;
  absl::StatusOr<std::string> fingerprint = CertificateFingerprint(cert);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status();
  EXPECT_TRUE(absl::EndsWith(said, *fingerprint));
  EXPECT_EQ(testing::ServedCertificateFingerprint((*first)->address()).value_or(""), *fingerprint);
  // Clients either skip verification (as RocketMQ 5's Java client does) or
  // trust the printed certificate.
  TlsOptions unverified;
  unverified.enabled = true;
  unverified.verify_server = false;
  ClientTls admin_tls;
  admin_tls.enabled = true;
  admin_tls.verify_server = false;
  ASSERT_TRUE(testing::CreateTopic((*first)->address(), "SelfSigned", 1, admin_tls).ok());
  EXPECT_TRUE(Send((*first)->address(), "unverified", unverified, "SelfSigned", 3).ok());
  TlsOptions pinned;
  pinned.enabled = true;
  pinned.ca_file = cert;
  EXPECT_TRUE(Send((*first)->address(), "pinned", pinned, "SelfSigned", 3).ok());
  ASSERT_TRUE((*first)->Stop().ok());

  // The next run reuses the certificate; permissive serves plaintext on
  // --port and TLS on --tls_port.
  absl::StatusOr<std::unique_ptr<ServerProcess>> second =
      testing::StartStandalone(data, {"--tls_mode=permissive", "--tls_port=0"});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(
      absl::StrContains(OutputAfter(**second, "TLS certificate: "),
                        "(self-signed, made earlier), SHA-256 fingerprint " + *fingerprint));
  const std::string tls_address = OutputAfter(**second, "TLS port ");
  ASSERT_FALSE(tls_address.empty());
  EXPECT_EQ(testing::ServedCertificateFingerprint(tls_address).value_or(""), *fingerprint);
  EXPECT_TRUE(Send((*second)->address(), "plain", TlsOptions{}, "SelfSigned", 3).ok());
  // A TLS client of the plaintext port is told so.
  absl::Status tls_to_plain = Send((*second)->address(), "tls-to-plain", pinned, "SelfSigned", 1);
  EXPECT_TRUE(absl::StrContains(tls_to_plain.message(), "the port does not serve TLS"))
      << tls_to_plain;
  ClientTls pinned_tls;
  pinned_tls.enabled = true;
  pinned_tls.ca_file = cert;
  EXPECT_TRUE(
      testing::WaitForRoute(tls_address, "SelfSigned", 1, absl::Seconds(10), pinned_tls).ok());
  EXPECT_FALSE(testing::WaitForRoute(tls_address, "SelfSigned", 1, absl::Seconds(1)).ok());
  EXPECT_TRUE((*second)->Stop().ok());
}

// Bad TLS settings stop a server at start, naming the flag.
TEST_F(TlsE2eTest, BadTlsFlagsStopTheServerWithAClearError) {
  struct Case {
    std::string binary;
    std::vector<std::string> args;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"services/standalone/standalone",
       {"--data_dir=" + dir_ + "/bad", "--tls_mode=enforcing", "--tls_client_auth=require"},
       "needs --tls_ca_file"},
      {"services/namesrv/namesrv",
       {"--tls_mode=strict"},
       "must be disabled, permissive or enforcing"},
      {"services/namesrv/namesrv", {"--tls_port=9443"}, "--tls_port is for --tls_mode=permissive"},
      {"services/namesrv/namesrv",
       {"--tls_mode=enforcing", "--tls_cert_file=" + server_.cert_file,
        "--tls_key_file=" + client_.key_file},
       "is not the key of certificate"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--port=0", "--listen_address=127.0.0.1"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    absl::StatusOr<testing::ToolResult> run =
        testing::RunTool(testing::RunfilePath(c.binary), args);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_NE(run->exit_code, 0) << c.binary;
    EXPECT_TRUE(absl::StrContains(run->err, c.error)) << c.binary << ": " << run->err;
    EXPECT_FALSE(absl::StrContains(run->out, "listening on")) << run->out;
  }
}

}  // namespace
}  // namespace mq
