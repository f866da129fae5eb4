#include "services/proxy/v5_access.h"

#include <gtest/gtest.h>

#include <list>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/acl/signature.h"
#include "common/testing/fake_clock.h"

namespace mq::proxy {
namespace {

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
  const acl::Metadata& map() const { return map_; }

 private:
  std::list<std::string> strings_;
  acl::Metadata map_;
};

// The headers an official RocketMQ 5 client sends: x-mq-date-time in its
// basic format, and the signature over it in upper-case hex (Java, Node).
TestMetadata V5Headers(const std::string& access_key, const std::string& secret, absl::Time at) {
  const std::string date = absl::FormatTime("%Y%m%dT%H%M%SZ", at, absl::UTCTimeZone());
  TestMetadata metadata;
  metadata.Add("x-mq-date-time", date);
  metadata.Add("authorization",
               absl::StrCat("MQv2-HMAC-SHA1 Credential=", access_key,
                            "/cn/RocketMQ, SignedHeaders=x-mq-date-time, Signature=",
                            absl::AsciiStrToUpper(acl::HmacSha1Hex(secret, date))));
  return metadata;
}

v2::SendMessageRequest SendTo(const std::string& topic) {
  v2::SendMessageRequest request;
  request.add_messages()->mutable_topic()->set_name(topic);
  return request;
}

class V5AccessTest : public ::testing::Test {
 protected:
  V5AccessTest() : authorizer_(Options(), &clock_) {
    acl::v1::UserTable table;
    acl::v1::User* alice = table.add_users();
    alice->set_access_key("alice");
    alice->set_secret_key("alice-secret");
    (*alice->mutable_topic_perms())["Pub"] = acl::v1::PUB;
    (*alice->mutable_topic_perms())["Sub"] = acl::v1::SUB;
    (*alice->mutable_group_perms())["G"] = acl::v1::SUB;
    authorizer_.SetUsers(table);
  }

  static acl::AclOptions Options() {
    acl::AclOptions options;
    options.enabled = true;
    options.cluster_secret = "cluster-secret";
    return options;
  }

  absl::StatusCode Check(const google::protobuf::Message& request) {
    TestMetadata alice = V5Headers("alice", "alice-secret", clock_.Now());
    return CheckV5Access(&authorizer_, alice.map(), kPeer, request).code();
  }

  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  acl::Authorizer authorizer_;
};

TEST_F(V5AccessTest, SendNeedsPubOnEveryMessagesTopic) {
  EXPECT_EQ(Check(SendTo("Pub")), absl::StatusCode::kOk);
  EXPECT_EQ(Check(SendTo("Sub")), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Check(SendTo("Unlisted")), absl::StatusCode::kPermissionDenied);
  v2::SendMessageRequest mixed = SendTo("Pub");
  mixed.add_messages()->mutable_topic()->set_name("Sub");
  EXPECT_EQ(Check(mixed), absl::StatusCode::kPermissionDenied);
}

TEST_F(V5AccessTest, CredentialsAreCheckedLikeOurs) {
  const v2::SendMessageRequest send = SendTo("Pub");
  TestMetadata none;
  EXPECT_EQ(CheckV5Access(&authorizer_, none.map(), kPeer, send).code(),
            absl::StatusCode::kUnauthenticated);
  TestMetadata wrong = V5Headers("alice", "not-her-secret", clock_.Now());
  EXPECT_EQ(CheckV5Access(&authorizer_, wrong.map(), kPeer, send).code(),
            absl::StatusCode::kUnauthenticated);
  TestMetadata unknown = V5Headers("mallory", "alice-secret", clock_.Now());
  EXPECT_EQ(CheckV5Access(&authorizer_, unknown.map(), kPeer, send).code(),
            absl::StatusCode::kUnauthenticated);
  // Older than the window, even widened for clients' local times marked UTC.
  TestMetadata stale = V5Headers("alice", "alice-secret", clock_.Now() - absl::Hours(15));
  EXPECT_EQ(CheckV5Access(&authorizer_, stale.map(), kPeer, send).code(),
            absl::StatusCode::kUnauthenticated);
  // Lower-case hex (Go, Python, Rust) is the same signature.
  const std::string date = absl::FormatTime("%Y%m%dT%H%M%SZ", clock_.Now(), absl::UTCTimeZone());
  TestMetadata lower;
  lower.Add("x-mq-date-time", date);
  lower.Add("authorization", absl::StrCat("MQv2-HMAC-SHA1 Credential=alice//Rocketmq, "
                                          "SignedHeaders=x-mq-date-time, Signature=",
                                          acl::HmacSha1Hex("alice-secret", date)));
  EXPECT_TRUE(CheckV5Access(&authorizer_, lower.map(), kPeer, send).ok());
}

TEST_F(V5AccessTest, EndTransactionNeedsPub) {
  v2::EndTransactionRequest end;
  end.mutable_topic()->set_name("Pub");
  EXPECT_EQ(Check(end), absl::StatusCode::kOk);
  end.mutable_topic()->set_name("Sub");
  EXPECT_EQ(Check(end), absl::StatusCode::kPermissionDenied);
}

TEST_F(V5AccessTest, QueryRouteNeedsPubOrSub) {
  v2::QueryRouteRequest route;
  for (const char* topic : {"Pub", "Sub"}) {
    route.mutable_topic()->set_name(topic);
    EXPECT_EQ(Check(route), absl::StatusCode::kOk) << topic;
  }
  route.mutable_topic()->set_name("Unlisted");
  EXPECT_EQ(Check(route), absl::StatusCode::kPermissionDenied);
}

TEST_F(V5AccessTest, HeartbeatOfAConsumerNeedsSubOnItsGroup) {
  v2::HeartbeatRequest heartbeat;
  heartbeat.set_client_type(v2::ClientType::PRODUCER);
  EXPECT_EQ(Check(heartbeat), absl::StatusCode::kOk);
  heartbeat.set_client_type(v2::ClientType::SIMPLE_CONSUMER);
  heartbeat.mutable_group()->set_name("G");
  EXPECT_EQ(Check(heartbeat), absl::StatusCode::kOk);
  heartbeat.mutable_group()->set_name("Other");
  EXPECT_EQ(Check(heartbeat), absl::StatusCode::kPermissionDenied);
}

// As our broker's POP rules: SUB on the topic and on the group, for each
// consumer RPC.
TEST_F(V5AccessTest, ConsumerRpcsNeedSubOnTopicAndGroup) {
  auto each = [this](const std::string& topic, const std::string& group) {
    v2::Resource t;
    t.set_name(topic);
    v2::Resource g;
    g.set_name(group);
    v2::ReceiveMessageRequest receive;
    *receive.mutable_message_queue()->mutable_topic() = t;
    *receive.mutable_group() = g;
    v2::AckMessageRequest ack;
    *ack.mutable_topic() = t;
    *ack.mutable_group() = g;
    v2::ChangeInvisibleDurationRequest change;
    *change.mutable_topic() = t;
    *change.mutable_group() = g;
    v2::ForwardMessageToDeadLetterQueueRequest forward;
    *forward.mutable_topic() = t;
    *forward.mutable_group() = g;
    v2::QueryAssignmentRequest assignment;
    *assignment.mutable_topic() = t;
    *assignment.mutable_group() = g;
    return std::vector<absl::StatusCode>{Check(receive), Check(ack), Check(change), Check(forward),
                                         Check(assignment)};
  };
  const std::vector<absl::StatusCode> ok(5, absl::StatusCode::kOk);
  const std::vector<absl::StatusCode> denied(5, absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(each("Sub", "G"), ok);
  EXPECT_EQ(each("Pub", "G"), denied);      // PUB is not SUB
  EXPECT_EQ(each("Sub", "Other"), denied);  // not her group
  TestMetadata none;
  v2::AckMessageRequest ack;
  ack.mutable_topic()->set_name("Sub");
  ack.mutable_group()->set_name("G");
  EXPECT_EQ(CheckV5Access(&authorizer_, none.map(), kPeer, ack).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(V5AccessTest, TelemetrySettingsNeedTheirTopicsAndGroup) {
  TestMetadata alice = V5Headers("alice", "alice-secret", clock_.Now());
  absl::StatusOr<V5StreamAccess> stream = V5StreamAccess::Open(&authorizer_, alice.map(), kPeer);
  ASSERT_TRUE(stream.ok()) << stream.status();
  v2::TelemetryCommand producer;
  producer.mutable_settings()->mutable_publishing()->add_topics()->set_name("Pub");
  EXPECT_TRUE(stream->Check(producer).ok());
  v2::TelemetryCommand too_much = producer;
  too_much.mutable_settings()->mutable_publishing()->add_topics()->set_name("Sub");
  EXPECT_EQ(stream->Check(too_much).code(), absl::StatusCode::kPermissionDenied);

  v2::TelemetryCommand consumer;
  v2::Subscription* subscription = consumer.mutable_settings()->mutable_subscription();
  subscription->mutable_group()->set_name("G");
  subscription->add_subscriptions()->mutable_topic()->set_name("Sub");
  EXPECT_TRUE(stream->Check(consumer).ok());
  subscription->mutable_group()->set_name("Other");
  EXPECT_EQ(stream->Check(consumer).code(), absl::StatusCode::kPermissionDenied);

  // Authenticated once: a Settings long after the stream opened still passes.
  clock_.Advance(absl::Hours(48));
  EXPECT_TRUE(stream->Check(producer).ok());

  TestMetadata none;
  EXPECT_EQ(V5StreamAccess::Open(&authorizer_, none.map(), kPeer).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(V5AccessTest, OffOrAbsentPassesEverything) {
  TestMetadata none;
  EXPECT_TRUE(CheckV5Access(nullptr, none.map(), kPeer, SendTo("Sub")).ok());
  acl::Authorizer off(acl::AclOptions{}, &clock_);
  EXPECT_TRUE(CheckV5Access(&off, none.map(), kPeer, SendTo("Sub")).ok());
  EXPECT_TRUE(V5StreamAccess::Open(&off, none.map(), kPeer).ok());
}

TEST_F(V5AccessTest, RefusalsMapToV5Codes) {
  EXPECT_EQ(V5Refusal(absl::UnauthenticatedError("x")).code(), v2::Code::UNAUTHORIZED);
  EXPECT_EQ(V5Refusal(absl::PermissionDeniedError("x")).code(), v2::Code::FORBIDDEN);
}

}  // namespace
}  // namespace mq::proxy
