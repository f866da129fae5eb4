#include "common/acl/authorizer.h"

#include <gtest/gtest.h>

#include <list>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/testing/fake_clock.h"
#include "proto/broker.pb.h"

namespace mq::acl {
namespace {

constexpr char kSend[] = "/mq.broker.v1.Broker/SendMessage";
constexpr char kPeer[] = "ipv4:10.1.2.3:5555";

// Metadata whose strings live as long as the object.
class TestMetadata {
 public:
  void Add(std::string key, std::string value) {
    strings_.push_back(std::move(key));
    const std::string& k = strings_.back();
    strings_.push_back(std::move(value));
    const std::string& v = strings_.back();
    map_.emplace(grpc::string_ref(k), grpc::string_ref(v));
  }
  const Metadata& map() const { return map_; }

 private:
  std::list<std::string> strings_;
  Metadata map_;
};

TestMetadata Signed(const Credentials& credentials, absl::string_view method,
                    const std::vector<Resource>& resources, absl::Time at) {
  TestMetadata metadata;
  for (auto& [key, value] : SignCall(credentials, method, resources, at)) {
    metadata.Add(key, value);
  }
  return metadata;
}

broker::v1::SendMessageRequest SendTo(const std::string& topic) {
  broker::v1::SendMessageRequest request;
  request.mutable_message()->set_topic(topic);
  return request;
}

class AuthorizerTest : public ::testing::Test {
 protected:
  AuthorizerTest() : authorizer_(Options(), &clock_) {
    v1::UserTable table;
    v1::User* alice = table.add_users();
    alice->set_access_key("alice");
    alice->set_secret_key("alice-secret");
    (*alice->mutable_topic_perms())["T"] = v1::PUB;
    (*alice->mutable_topic_perms())["R"] = v1::SUB;
    (*alice->mutable_group_perms())["G"] = v1::SUB;
    v1::User* root = table.add_users();
    root->set_access_key("root");
    root->set_secret_key("root-secret");
    root->set_role(v1::ADMIN);
    authorizer_.SetUsers(table);
  }

  static AclOptions Options() {
    AclOptions options;
    options.enabled = true;
    options.cluster_secret = "cluster-secret";
    options.replay_window = absl::Minutes(1);
    return options;
  }

  absl::Status Send(const Credentials& credentials, const std::string& topic,
                    absl::Time signed_at) {
    broker::v1::SendMessageRequest request = SendTo(topic);
    TestMetadata metadata =
        Signed(credentials, kSend, {{Resource::Type::kTopic, topic}}, signed_at);
    return authorizer_.Check(kSend, metadata.map(), kPeer, &request);
  }

  FakeClock clock_;
  Authorizer authorizer_;
  const Credentials alice_{"alice", "alice-secret"};
  const Credentials root_{"root", "root-secret"};
};

TEST_F(AuthorizerTest, OnlyAUserHoldingThePermissionPasses) {
  EXPECT_TRUE(Send(alice_, "T", clock_.Now()).ok());
  // SUB only on R; nothing on U (default deny).
  absl::Status status = Send(alice_, "R", clock_.Now());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(status.message().find("lacks PUB on topic 'R'"), std::string::npos) << status;
  EXPECT_EQ(GetResponseCode(status), common::v1::NO_PERMISSION);
  EXPECT_EQ(Send(alice_, "U", clock_.Now()).code(), absl::StatusCode::kPermissionDenied);
  // Admins may do anything.
  EXPECT_TRUE(Send(root_, "U", clock_.Now()).ok());
}

TEST_F(AuthorizerTest, UnsignedWrongAndUnknownAreUnauthenticated) {
  broker::v1::SendMessageRequest request = SendTo("T");
  TestMetadata none;
  absl::Status status = authorizer_.Check(kSend, none.map(), kPeer, &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Send({"alice", "wrong"}, "T", clock_.Now()).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Send({"mallory", "x"}, "T", clock_.Now()).code(), absl::StatusCode::kUnauthenticated);
  // A signature over another topic does not cover this request's.
  TestMetadata other = Signed(alice_, kSend, {{Resource::Type::kTopic, "X"}}, clock_.Now());
  EXPECT_EQ(authorizer_.Check(kSend, other.map(), kPeer, &request).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, SecretsAreNeverInMessages) {
  for (const absl::Status& status :
       {Send({"alice", "wrong"}, "T", clock_.Now()), Send(alice_, "U", clock_.Now()),
        Send(alice_, "T", clock_.Now() - absl::Hours(1))}) {
    EXPECT_EQ(status.message().find("alice-secret"), std::string::npos) << status;
    EXPECT_EQ(status.message().find("wrong"), std::string::npos) << status;
  }
}

TEST_F(AuthorizerTest, ReplayWindowIsBounded) {
  const absl::Time signed_at = clock_.Now();
  clock_.Advance(absl::Seconds(59));
  EXPECT_TRUE(Send(alice_, "T", signed_at).ok());
  clock_.Advance(absl::Seconds(2));
  absl::Status status = Send(alice_, "T", signed_at);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("replay window"), std::string::npos) << status;
  // From the future too.
  EXPECT_EQ(Send(alice_, "T", clock_.Now() + absl::Minutes(2)).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, InternalMethodsTakeOnlyTheClusterIdentity) {
  const char kAppend[] = "/mq.store.v1.Store/AppendBatch";
  TestMetadata by_root = Signed(root_, kAppend, {}, clock_.Now());
  EXPECT_EQ(authorizer_.Check(kAppend, by_root.map(), kPeer, nullptr).code(),
            absl::StatusCode::kPermissionDenied);
  TestMetadata by_cluster = Signed({"cluster", "cluster-secret"}, kAppend, {}, clock_.Now());
  EXPECT_TRUE(authorizer_.Check(kAppend, by_cluster.map(), kPeer, nullptr).ok());
  TestMetadata wrong_cluster = Signed({"cluster", "guess"}, kAppend, {}, clock_.Now());
  EXPECT_EQ(authorizer_.Check(kAppend, wrong_cluster.map(), kPeer, nullptr).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, AdminMethodsNeedTheAdminRole) {
  const char kDelete[] = "/mq.broker.v1.Broker/DeleteTopic";
  broker::v1::DeleteTopicRequest request;
  request.set_topic("T");
  TestMetadata by_alice = Signed(alice_, kDelete, {}, clock_.Now());
  absl::Status status = authorizer_.Check(kDelete, by_alice.map(), kPeer, &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(status.message().find("admin role"), std::string::npos);
  TestMetadata by_root = Signed(root_, kDelete, {}, clock_.Now());
  EXPECT_TRUE(authorizer_.Check(kDelete, by_root.map(), kPeer, &request).ok());
}

TEST_F(AuthorizerTest, RetryTopicFollowsTheGroup) {
  EXPECT_TRUE(Send(alice_, "%RETRY%G", clock_.Now()).ok());
  EXPECT_EQ(Send(alice_, "%RETRY%H", clock_.Now()).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(AuthorizerTest, UsersAreReplacedAsAWhole) {
  v1::UserTable table;
  v1::User* alice = table.add_users();
  alice->set_access_key("alice");
  alice->set_secret_key("alice-secret");
  alice->set_default_topic_perm(v1::PUB_SUB);
  authorizer_.SetUsers(table);
  EXPECT_TRUE(Send(alice_, "U", clock_.Now()).ok());
  EXPECT_EQ(Send(root_, "U", clock_.Now()).code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, RocketMQ5HeaderInEitherHexCase) {
  const char kV5[] = "/apache.rocketmq.v2.MessagingService/SendMessage";
  const std::string date = absl::FormatTime("%Y%m%dT%H%M%SZ", clock_.Now(), absl::UTCTimeZone());
  const std::string lower = HmacSha1Hex("alice-secret", date);
  std::vector<NeededResource> needed = {{{Resource::Type::kTopic, "T"}, Need::kPub}};
  for (const std::string& signature : {lower, absl::AsciiStrToUpper(lower)}) {
    TestMetadata metadata;
    metadata.Add("authorization", absl::StrCat("MQv2-HMAC-SHA1 Credential=alice/cn/RocketMQ, "
                                               "SignedHeaders=x-mq-date-time, Signature=",
                                               signature));
    metadata.Add("x-mq-date-time", date);
    EXPECT_TRUE(
        authorizer_.CheckRequest(kV5, metadata.map(), kPeer, Access::kResources, needed).ok())
        << signature;
    std::vector<NeededResource> other = {{{Resource::Type::kTopic, "R"}, Need::kPub}};
    EXPECT_EQ(
        authorizer_.CheckRequest(kV5, metadata.map(), kPeer, Access::kResources, other).code(),
        absl::StatusCode::kPermissionDenied);
  }
  // Local time marked UTC (Java, Go, C#): up to 14 hours off is accepted.
  TestMetadata local;
  const std::string ahead =
      absl::FormatTime("%Y%m%dT%H%M%SZ", clock_.Now() + absl::Hours(9), absl::UTCTimeZone());
  local.Add("authorization", absl::StrCat("MQv2-HMAC-SHA1 Credential=alice, Signature=",
                                          HmacSha1Hex("alice-secret", ahead)));
  local.Add("x-mq-date-time", ahead);
  EXPECT_TRUE(authorizer_.CheckRequest(kV5, local.map(), kPeer, Access::kResources, needed).ok());
  TestMetadata wrong;
  wrong.Add("authorization", absl::StrCat("MQv2-HMAC-SHA1 Credential=alice, Signature=",
                                          HmacSha1Hex("other", date)));
  wrong.Add("x-mq-date-time", date);
  EXPECT_EQ(authorizer_.CheckRequest(kV5, wrong.map(), kPeer, Access::kResources, needed).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, AllowedIps) {
  EXPECT_TRUE(PeerAllowed("ipv4:10.1.2.3:5", {"10.0.0.0/8"}));
  EXPECT_FALSE(PeerAllowed("ipv4:11.1.2.3:5", {"10.0.0.0/8"}));
  EXPECT_TRUE(PeerAllowed("ipv4:10.1.2.3:5", {"10.1.2.3"}));
  EXPECT_TRUE(PeerAllowed("ipv6:[::1]:5", {"::1"}));
  EXPECT_FALSE(PeerAllowed("ipv6:[::2]:5", {"::1", "127.0.0.1"}));
  EXPECT_FALSE(ValidateAllowedIps({"10.0.0.0/33"}).ok());
  EXPECT_FALSE(ValidateAllowedIps({"example.com"}).ok());

  v1::UserTable table;
  v1::User* alice = table.add_users();
  alice->set_access_key("alice");
  alice->set_secret_key("alice-secret");
  alice->set_default_topic_perm(v1::PUB_SUB);
  alice->add_allowed_ips("192.168.0.0/16");
  authorizer_.SetUsers(table);
  absl::Status status = Send(alice_, "T", clock_.Now());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(status.message().find("10.1.2.3"), std::string::npos) << status;

  AclOptions options = Options();
  options.allowed_ips = {"127.0.0.1"};
  Authorizer global(options, &clock_);
  alice->clear_allowed_ips();
  global.SetUsers(table);
  broker::v1::SendMessageRequest request = SendTo("T");
  TestMetadata metadata = Signed(alice_, kSend, {{Resource::Type::kTopic, "T"}}, clock_.Now());
  EXPECT_EQ(global.Check(kSend, metadata.map(), kPeer, &request).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(global.Check(kSend, metadata.map(), "ipv4:127.0.0.1:9", &request).ok());
}

TEST_F(AuthorizerTest, OffLetsEverythingThrough) {
  Authorizer off(AclOptions{}, &clock_);
  broker::v1::SendMessageRequest request = SendTo("T");
  TestMetadata none;
  EXPECT_TRUE(off.Check(kSend, none.map(), kPeer, &request).ok());
}

}  // namespace
}  // namespace mq::acl
