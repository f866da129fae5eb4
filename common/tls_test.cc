#include "common/tls.h"

#include <grpcpp/generic/generic_stub.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_options.h"
#include "common/grpc_server.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace mq {
namespace {

// grpc.health.v1.Health/Check of the whole server over `channel`.
grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status;
}

TEST(ParseClientAuthTest, KnowsTheThreeValues) {
  EXPECT_EQ(*ParseClientAuth("none"), ClientAuth::kNone);
  EXPECT_EQ(*ParseClientAuth("request"), ClientAuth::kRequest);
  EXPECT_EQ(*ParseClientAuth("require"), ClientAuth::kRequire);
  absl::StatusOr<ClientAuth> bad = ParseClientAuth("required");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "none, request or require"));
}

TEST(SelfSignedTest, MadeOnceThenReused) {
  const std::string dir = testing::MakeTempDir("tls_") + "/tls";
  absl::StatusOr<SelfSignedCertificate> first = EnsureSelfSignedCertificate(dir);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  struct stat key_stat {};
  ASSERT_EQ(stat(first->key_file.c_str(), &key_stat), 0);
  EXPECT_EQ(key_stat.st_mode & 0777, 0600);
  absl::StatusOr<std::string> fingerprint = CertificateFingerprint(first->cert_file);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status();
  EXPECT_EQ(fingerprint->size(), 32 * 3 - 1);

  absl::StatusOr<SelfSignedCertificate> second = EnsureSelfSignedCertificate(dir);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(*CertificateFingerprint(second->cert_file), *fingerprint);
  EXPECT_TRUE((ServerTls{second->cert_file, second->key_file}).Validate().ok());
}

TEST(SelfSignedTest, BrokenLeftoverIsAnErrorNotReplaced) {
  const std::string dir = testing::MakeTempDir("tls_");
  std::ofstream(dir + "/server.crt") << "not a certificate";
  std::ofstream(dir + "/server.key") << "not a key";
  absl::StatusOr<SelfSignedCertificate> made = EnsureSelfSignedCertificate(dir);
  ASSERT_FALSE(made.ok());
  EXPECT_TRUE(absl::StrContains(made.status().message(), "remove")) << made.status();
  std::ifstream in(dir + "/server.crt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "not a certificate");
}

TEST(ServerTlsTest, RefusesBadSettingsWithClearErrors) {
  const std::string a = testing::MakeTempDir("tls_a_");
  const std::string b = testing::MakeTempDir("tls_b_");
  ASSERT_TRUE(EnsureSelfSignedCertificate(a).ok());
  ASSERT_TRUE(EnsureSelfSignedCertificate(b).ok());

  absl::Status mismatched = ServerTls{a + "/server.crt", b + "/server.key"}.Validate();
  EXPECT_TRUE(absl::StrContains(mismatched.message(), "is not the key of")) << mismatched;

  absl::Status missing = ServerTls{a + "/nope.crt", a + "/server.key"}.Validate();
  EXPECT_TRUE(absl::StrContains(missing.message(), "cannot read certificate")) << missing;

  ServerTls no_ca{a + "/server.crt", a + "/server.key"};
  no_ca.client_auth = ClientAuth::kRequire;
  EXPECT_TRUE(absl::StrContains(no_ca.Validate().message(), "needs --tls_ca_file"));

  ClientTls half;
  half.enabled = true;
  half.cert_file = a + "/server.crt";
  EXPECT_TRUE(absl::StrContains(half.Validate().message(), "give both"));
  ClientTls off = half;
  off.enabled = false;
  EXPECT_TRUE(off.Validate().ok());
}

// One server, a plaintext port and a TLS port serving the same services.
TEST(TlsPortsTest, PlaintextAndTlsPortsServeTheSameServer) {
  const std::string dir = testing::MakeTempDir("tls_");
  absl::StatusOr<SelfSignedCertificate> cert = EnsureSelfSignedCertificate(dir);
  ASSERT_TRUE(cert.ok());
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentials(ServerTls{cert->cert_file, cert->key_file});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(&builder);
  absl::StatusOr<ListeningServer> server =
      StartServer(&builder, "127.0.0.1", {{0, nullptr}, {0, *credentials}}, {});
  ASSERT_TRUE(server.ok()) << server.status();
  server->SetServing(true);
  ASSERT_EQ(server->ports.size(), 2u);
  const std::string plain = absl::StrCat("127.0.0.1:", server->ports[0]);
  const std::string tls = absl::StrCat("127.0.0.1:", server->ports[1]);

  EXPECT_TRUE(HealthCheck(CreateChannel(plain)).ok());
  ClientTls trusting;
  trusting.enabled = true;
  trusting.ca_file = cert->cert_file;
  grpc::Status verified = HealthCheck(CreateDedicatedChannel(tls, trusting));
  EXPECT_TRUE(verified.ok()) << verified.error_message();
  ClientTls unverified;
  unverified.enabled = true;
  unverified.verify_server = false;
  EXPECT_TRUE(HealthCheck(CreateDedicatedChannel(tls, unverified)).ok());

  // The system's roots do not know a self-signed certificate.
  ClientTls system_roots;
  system_roots.enabled = true;
  EXPECT_FALSE(HealthCheck(CreateDedicatedChannel(tls, system_roots)).ok());
  // Plaintext to the TLS port, TLS to the plaintext port.
  EXPECT_FALSE(HealthCheck(CreateDedicatedChannel(tls)).ok());
  EXPECT_FALSE(HealthCheck(CreateDedicatedChannel(plain, trusting)).ok());
  server->Shutdown(absl::ZeroDuration());
}

}  // namespace
}  // namespace mq
