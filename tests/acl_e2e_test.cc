// Access control end to end, on a real standalone server and a real split
// deployment (name server, store, broker processes), plaintext and TLS-only
// (signed calls over TLS, the broker signing and dialing its peers over TLS),
// with --acl_enable: every method of every service, found from the services'
// descriptors, is called without credentials, with a wrong signature, with a
// stale time, as a user lacking the permission and as one holding it; only
// the last gets past access control, and the refused calls change nothing.
// Then the real client, mqadmin and the users' hot reload, the IP
// allow-list, RocketMQ 5's requests (the v5 front) signed as the official
// clients sign, and no secret in the servers' logs.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/acl/method_rules.h"
#include "common/acl/signature.h"
#include "common/grpc_options.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/tls.h"
#include "mq/producer.h"
#include "proto/acl.grpc.pb.h"
#include "proto/apache/rocketmq/v2/messaging.grpc.pb.h"
#include "proto/broker.grpc.pb.h"
#include "proto/namesrv.grpc.pb.h"
#include "proto/store.grpc.pb.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq {
namespace {

using ::mq::testing::RunfilePath;
using ::mq::testing::ServerProcess;

constexpr char kClusterSecret[] = "cluster-secret-e2e-7f3a";
constexpr char kRootSecret[] = "root-secret-e2e-91c2";
constexpr char kAliceSecret[] = "alice-secret-e2e-55d0";
constexpr char kBobSecret[] = "bob-secret-e2e-0b7e";
constexpr char kWrongSecret[] = "wrong-secret-e2e-c4c4";
constexpr char kCarolSecret[] = "carol-secret-e2e-aa18";
// Alice may publish and subscribe kTopic and consume kGroup; bob may nothing.
constexpr char kTopic[] = "AclTopic";
constexpr char kGroup[] = "AclGroup";
// The topic the refused CreateOrUpdateTopic calls would create.
constexpr char kNewTopic[] = "AclNewTopic";

const acl::Credentials kCluster{"cluster", kClusterSecret};
const acl::Credentials kRoot{"root", kRootSecret};
const acl::Credentials kAlice{"alice", kAliceSecret};
const acl::Credentials kBob{"bob", kBobSecret};

// Sets every string field naming a topic or a group, in nested and repeated
// messages too (one element each), so a request names kTopic and kGroup.
void FillResources(google::protobuf::Message* message, int depth = 0) {
  if (depth > 4) return;
  const google::protobuf::Descriptor* descriptor = message->GetDescriptor();
  const google::protobuf::Reflection* reflection = message->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->is_map() || field->containing_oneof() != nullptr) continue;
    const std::string& name = field->name();
    if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING && !field->is_repeated()) {
      if (name == "topic" || name == "origin_topic") reflection->SetString(message, field, kTopic);
      if (name == "topic_name") reflection->SetString(message, field, kNewTopic);
      if (name == "consumer_group" || name == "group_name" || name == "group") {
        reflection->SetString(message, field, kGroup);
      }
    } else if (field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      FillResources(field->is_repeated() ? reflection->AddMessage(message, field)
                                         : reflection->MutableMessage(message, field),
                    depth + 1);
    }
  }
  // A send's message: in the oneof of SendStreamRequest it is not needed.
}

// One call of `method` (any kind: unary and streams alike travel as a
// generic bidi call) with `request` (null: none sent) and the metadata of
// `credentials` signed at `signed_at`; its status and response code.
struct Answer {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::string response_code;
};

Answer Call(const ClientTls& tls, const std::string& address, const std::string& method,
            const google::protobuf::Message* request, const acl::Credentials* credentials,
            absl::Time signed_at, absl::Duration timeout = absl::Seconds(3)) {
  std::shared_ptr<grpc::Channel> channel = CreateChannel(address, tls);
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  if (credentials != nullptr) {
    std::vector<acl::Resource> resources;
    const acl::MethodRule* rule = acl::FindRule(method);
    if (rule != nullptr && request != nullptr) {
      resources = acl::ResourcesOf(acl::ExtractResources(*rule, *request));
    }
    for (auto& [key, value] : acl::SignCall(*credentials, method, resources, signed_at)) {
      context.AddMetadata(key, value);
    }
  }
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, method, &cq);
  void* tag = nullptr;
  bool ok = false;
  auto wait = [&] { return cq.Next(&tag, &ok) && ok; };
  call->StartCall(reinterpret_cast<void*>(1));
  bool alive = wait();
  if (alive && request != nullptr) {
    std::string bytes = request->SerializeAsString();
    grpc::Slice slice(bytes);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, reinterpret_cast<void*>(2));
    alive = wait();
  }
  if (alive) {
    call->WritesDone(reinterpret_cast<void*>(3));
    alive = wait();
  }
  while (alive) {
    grpc::ByteBuffer response;
    call->Read(&response, reinterpret_cast<void*>(4));
    alive = wait();
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  wait();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  Answer answer{status.error_code(), status.error_message(), ""};
  auto code = context.GetServerTrailingMetadata().find(std::string(kResponseCodeKey));
  if (code != context.GetServerTrailingMetadata().end()) {
    answer.response_code = std::string(code->second.data(), code->second.size());
  }
  return answer;
}

bool Refused(const Answer& answer) {
  return answer.code == grpc::StatusCode::UNAUTHENTICATED ||
         answer.code == grpc::StatusCode::PERMISSION_DENIED;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

struct Method {
  std::string name;  // "/pkg.Service/Method"
  std::string address;
  std::unique_ptr<google::protobuf::Message> request;
  acl::Access access;
};

// The deployment a test runs on: standalone or split, plaintext or every
// port TLS-only (signed calls over TLS).
struct Deployment {
  bool split;
  bool tls;
};

class AclE2eTest : public ::testing::TestWithParam<Deployment> {
 protected:
  void SetUp() override {
    dir_ = mq::testing::MakeTempDir("acl_e2e_");
    const std::string secret_file = dir_ + "/cluster.secret";
    std::ofstream(secret_file) << kClusterSecret << "\n";
    log_ = dir_ + "/servers.log";
    std::vector<std::string> acl = {"--acl_enable", "--acl_cluster_secret_file=" + secret_file};
    if (GetParam().tls) {
      absl::StatusOr<SelfSignedCertificate> cert = EnsureSelfSignedCertificate(dir_ + "/tls");
      ASSERT_TRUE(cert.ok()) << cert.status();
      tls_flags_ = {"--tls_mode=enforcing", "--tls_cert_file=" + cert->cert_file,
                    "--tls_key_file=" + cert->key_file, "--tls_ca_file=" + cert->cert_file,
                    "--peer_tls"};
      acl.insert(acl.end(), tls_flags_.begin(), tls_flags_.end());
      tls_.enabled = true;
      tls_.ca_file = cert->cert_file;
    }
    const std::string small_store = "--flagfile=" + RunfilePath("tools/small_store.flags");
    for (int* port : {&broker_metrics_port_, &proxy_metrics_port_}) {
      absl::StatusOr<int> free = testing::FreeLoopbackPort();
      ASSERT_TRUE(free.ok()) << free.status();
      *port = *free;
    }
    const std::string broker_metrics = absl::StrCat("--metrics_port=", broker_metrics_port_);
    if (split()) {
      namesrv_ = Start("namesrv", "services/namesrv/namesrv",
                       Concat({"--port=0", "--listen_address=127.0.0.1"}, acl));
      store_ = Start(
          "store", "services/store/store",
          Concat({small_store, "--port=0", "--listen_address=127.0.0.1",
                  "--data_dir=" + dir_ + "/store", "--broker_name=broker-a", "--shutdown_grace=1s"},
                 acl));
      broker_ = Start(
          "broker", "services/broker/broker",
          Concat({"--port=0", "--listen_address=127.0.0.1", "--store_address=" + store_->address(),
                  "--namesrv_addr=" + namesrv_->address(), "--broker_name=broker-a",
                  "--register_interval=10s", broker_metrics},
                 acl));
      // The separate RocketMQ 5 proxy, checking its clients against the
      // brokers' users.
      proxy_ = Start(
          "proxy", "services/proxy/proxy",
          Concat({"--port=0", "--listen_address=127.0.0.1", "--namesrv_addr=" + namesrv_->address(),
                  absl::StrCat("--metrics_port=", proxy_metrics_port_)},
                 acl));
      ASSERT_NE(proxy_, nullptr);
    } else {
      broker_ = Start("standalone", "services/standalone/standalone",
                      Concat({small_store, "--port=0", "--listen_address=127.0.0.1",
                              "--data_dir=" + dir_ + "/data", "--broker_name=broker-a",
                              "--shutdown_grace=1s", broker_metrics},
                             acl));
    }
    ASSERT_NE(broker_, nullptr);
    broker_address_ = broker_->address();
    namesrv_address_ = split() ? namesrv_->address() : broker_address_;
    store_address_ = split() ? store_->address() : broker_address_;

    // The first admin is created with the cluster identity.
    ASSERT_TRUE(CreateUser(kCluster, User("root", kRootSecret, acl::v1::ADMIN)).ok());
    acl::v1::User alice = User("alice", kAliceSecret, acl::v1::ORDINARY);
    (*alice.mutable_topic_perms())[kTopic] = acl::v1::PUB_SUB;
    (*alice.mutable_group_perms())[kGroup] = acl::v1::SUB;
    ASSERT_TRUE(CreateUser(kRoot, alice).ok());
    ASSERT_TRUE(CreateUser(kRoot, User("bob", kBobSecret, acl::v1::ORDINARY)).ok());
    broker::v1::CreateOrUpdateTopicRequest topic;
    topic.mutable_config()->set_topic_name(kTopic);
    topic.mutable_config()->set_read_queue_nums(2);
    topic.mutable_config()->set_write_queue_nums(2);
    topic.mutable_config()->set_perm(common::v1::PERM_READ | common::v1::PERM_WRITE);
    auto stub = broker::v1::Broker::NewStub(CreateChannel(broker_address_, tls_, kRoot));
    ASSERT_TRUE(
        CallUnary(*stub, &broker::v1::Broker::Stub::CreateOrUpdateTopic, topic, absl::Seconds(5))
            .ok());
  }

  void TearDown() override {
    for (auto* process : {&proxy_, &broker_, &store_, &namesrv_}) {
      if (*process != nullptr) {
        EXPECT_TRUE((*process)->Stop().ok());
      }
    }
    // No secret, right or wrong, in any server's log.
    const std::string logs = ReadFile(log_);
    EXPECT_FALSE(logs.empty());
    for (const char* secret :
         {kClusterSecret, kRootSecret, kAliceSecret, kBobSecret, kWrongSecret, kCarolSecret}) {
      EXPECT_EQ(logs.find(secret), std::string::npos) << secret << " is in the servers' logs";
    }
  }

  bool split() const { return GetParam().split; }

  // RocketMq5RequestsAreCheckedAsTheSameUsers on one v5 endpoint, whose
  // process serves its metrics on `metrics_port`.
  void CheckV5Endpoint(const std::string& endpoint, int metrics_port);

  // rocketmq_rejected_requests_total{reason="permission"} of the process
  // serving its metrics on `metrics_port` (0 before the first refusal).
  static int64_t PermissionRefusals(int metrics_port) {
    httplib::Client client("127.0.0.1", metrics_port);
    httplib::Result page = client.Get("/metrics");
    EXPECT_TRUE(page && page->status == 200) << "no metrics on port " << metrics_port;
    if (!page) return -1;
    const std::string series = "rocketmq_rejected_requests_total{reason=\"permission\"} ";
    size_t at = page->body.find(series);
    if (at == std::string::npos) return 0;
    at += series.size();
    double value = -1;
    EXPECT_TRUE(absl::SimpleAtod(page->body.substr(at, page->body.find('\n', at) - at), &value));
    return static_cast<int64_t>(value);
  }
  // A proxy given the cluster secret but not --acl_enable checks nobody, so
  // it must not vouch for anybody either: its calls go unsigned and the
  // cluster refuses them.
  void CheckProxyWithoutAccessControl();

  static std::vector<std::string> Concat(std::vector<std::string> a,
                                         const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  // Starts a server whose stderr (its log) goes to log_.
  std::unique_ptr<ServerProcess> Start(const std::string& name, const std::string& binary,
                                       const std::vector<std::string>& args) {
    std::vector<std::string> sh = {"-c", "exec \"$0\" \"$@\" 2>>" + log_, RunfilePath(binary)};
    sh.insert(sh.end(), args.begin(), args.end());
    absl::StatusOr<std::unique_ptr<ServerProcess>> started =
        ServerProcess::Start(name, "/bin/sh", sh);
    EXPECT_TRUE(started.ok()) << started.status();
    return started.ok() ? *std::move(started) : nullptr;
  }

  static acl::v1::User User(const std::string& key, const std::string& secret, acl::v1::Role role) {
    acl::v1::User user;
    user.set_access_key(key);
    user.set_secret_key(secret);
    user.set_role(role);
    return user;
  }

  absl::Status CreateUser(const acl::Credentials& as, const acl::v1::User& user) {
    auto stub = acl::v1::AclAdmin::NewStub(CreateChannel(broker_address_, tls_, as));
    acl::v1::CreateUserRequest request;
    *request.mutable_user() = user;
    return CallUnary(*stub, &acl::v1::AclAdmin::Stub::CreateUser, request, absl::Seconds(5))
        .status();
  }

  // Every method of every service, with the port serving it and a request
  // naming kTopic / kGroup.
  std::vector<Method> AllMethods() const {
    std::vector<Method> methods;
    const std::vector<std::pair<const google::protobuf::FileDescriptor*, std::string>> files = {
        {broker::v1::SendMessageRequest::descriptor()->file(), broker_address_},
        {acl::v1::CreateUserRequest::descriptor()->file(), broker_address_},
        {namesrv::v1::RegisterBrokerRequest::descriptor()->file(), namesrv_address_},
        {store::v1::AppendBatchRequest::descriptor()->file(), store_address_}};
    for (const auto& [file, address] : files) {
      for (int s = 0; s < file->service_count(); ++s) {
        const google::protobuf::ServiceDescriptor* service = file->service(s);
        for (int m = 0; m < service->method_count(); ++m) {
          const google::protobuf::MethodDescriptor* method = service->method(m);
          Method entry;
          entry.name = absl::StrCat("/", service->full_name(), "/", method->name());
          entry.address = address;
          const acl::MethodRule* rule = acl::FindRule(entry.name);
          EXPECT_NE(rule, nullptr) << entry.name;
          if (rule == nullptr) continue;
          entry.access = rule->access;
          // A bidi stream's messages come later: none is sent.
          if (!method->client_streaming()) {
            entry.request.reset(google::protobuf::MessageFactory::generated_factory()
                                    ->GetPrototype(method->input_type())
                                    ->New());
            FillResources(entry.request.get());
          }
          methods.push_back(std::move(entry));
        }
      }
    }
    return methods;
  }

  // Who holds what a method needs, and who lacks it (null: every known
  // user passes). A separate name server or store knows only the cluster
  // identity: there, any user is refused.
  const acl::Credentials* Holder(const Method& m) const {
    if (m.address != broker_address_ || m.access == acl::Access::kCluster) return &kCluster;
    if (m.access == acl::Access::kAdmin) return &kRoot;
    return &kAlice;
  }
  const acl::Credentials* Lacker(const Method& m) const {
    switch (m.access) {
      case acl::Access::kCluster:
        return &kRoot;  // even an admin is no cluster identity
      case acl::Access::kAdmin:
        return m.address != broker_address_ ? &kRoot : &kAlice;
      case acl::Access::kResources:
        return &kBob;
      default:
        return nullptr;
    }
  }

  // What the refused calls must not have changed.
  struct State {
    int64_t commit_log_max = -1;
    std::vector<std::string> topics;
    std::vector<std::string> groups;
    std::string users;
  };
  State Snapshot() {
    State state;
    auto store = store::v1::Store::NewStub(CreateChannel(store_address_, tls_, kCluster));
    auto stats = CallUnary(*store, &store::v1::Store::Stub::GetStats, store::v1::GetStatsRequest(),
                           absl::Seconds(5));
    EXPECT_TRUE(stats.ok()) << stats.status();
    if (stats.ok()) state.commit_log_max = stats->max_physical_offset();
    auto broker = broker::v1::Broker::NewStub(CreateChannel(broker_address_, tls_, kRoot));
    auto topics = CallUnary(*broker, &broker::v1::Broker::Stub::GetAllTopicConfigs,
                            broker::v1::GetAllTopicConfigsRequest(), absl::Seconds(5));
    EXPECT_TRUE(topics.ok()) << topics.status();
    if (topics.ok()) {
      for (const auto& config : topics->configs()) state.topics.push_back(config.topic_name());
    }
    auto groups = CallUnary(*broker, &broker::v1::Broker::Stub::GetAllSubscriptionGroups,
                            broker::v1::GetAllSubscriptionGroupsRequest(), absl::Seconds(5));
    EXPECT_TRUE(groups.ok()) << groups.status();
    if (groups.ok()) {
      for (const auto& config : groups->configs()) state.groups.push_back(config.group_name());
    }
    auto acl = acl::v1::AclAdmin::NewStub(CreateChannel(broker_address_, tls_, kRoot));
    auto users = CallUnary(*acl, &acl::v1::AclAdmin::Stub::ListUsers, acl::v1::ListUsersRequest(),
                           absl::Seconds(5));
    EXPECT_TRUE(users.ok()) << users.status();
    if (users.ok()) state.users = users->DebugString();
    return state;
  }

  std::string dir_;
  std::string log_;
  std::unique_ptr<ServerProcess> namesrv_, store_, broker_, proxy_;
  // --metrics_port of the broker (or standalone server) and of the proxy.
  int broker_metrics_port_ = 0;
  int proxy_metrics_port_ = 0;
  std::string broker_address_, namesrv_address_, store_address_;
  // How every channel of the test dials (plaintext unless GetParam().tls),
  // and the servers' TLS flags then.
  ClientTls tls_;
  std::vector<std::string> tls_flags_;
};

TEST_P(AclE2eTest, OnlyTheHolderOfThePermissionGetsThroughEveryMethod) {
  std::vector<Method> methods = AllMethods();
  ASSERT_GE(methods.size(), 50u);
  const State before = Snapshot();
  for (const Method& m : methods) {
    SCOPED_TRACE(m.name);
    const absl::Time now = absl::Now();
    const acl::Credentials* holder = Holder(m);
    const acl::Credentials wrong_holder{holder->access_key, kWrongSecret};
    std::vector<std::pair<std::string, Answer>> refusals = {
        {"unsigned", Call(tls_, m.address, m.name, m.request.get(), nullptr, now)},
        {"wrong signature", Call(tls_, m.address, m.name, m.request.get(), &wrong_holder, now)},
        {"stale", Call(tls_, m.address, m.name, m.request.get(), holder, now - absl::Minutes(10))},
        {"future",
         Call(tls_, m.address, m.name, m.request.get(), holder, now + absl::Minutes(10))}};
    if (const acl::Credentials* lacker = Lacker(m); lacker != nullptr) {
      refusals.push_back({"lacking", Call(tls_, m.address, m.name, m.request.get(), lacker, now)});
    }
    for (const auto& [how, answer] : refusals) {
      if (m.access == acl::Access::kOpen) {
        // The name server's route queries are open, as RocketMQ's.
        EXPECT_FALSE(Refused(answer)) << how << ": " << answer.message;
        continue;
      }
      EXPECT_TRUE(Refused(answer)) << how << ": " << answer.code << " " << answer.message;
      EXPECT_EQ(answer.response_code, std::to_string(common::v1::NO_PERMISSION)) << how;
      if (how == "lacking") {
        // A user the server knows lacks the permission; the name server and
        // store of a split deployment know no user at all.
        EXPECT_EQ(answer.code, m.address == broker_address_ ? grpc::StatusCode::PERMISSION_DENIED
                                                            : grpc::StatusCode::UNAUTHENTICATED)
            << answer.message;
      } else {
        EXPECT_EQ(answer.code, grpc::StatusCode::UNAUTHENTICATED) << how << ": " << answer.message;
      }
    }
  }
  const State after = Snapshot();
  EXPECT_EQ(after.commit_log_max, before.commit_log_max) << "a refused call stored a message";
  EXPECT_EQ(after.topics, before.topics) << "a refused call changed the topics";
  EXPECT_EQ(after.groups, before.groups) << "a refused call changed the groups";
  EXPECT_EQ(after.users, before.users) << "a refused call changed the users";
  EXPECT_EQ(std::count(after.topics.begin(), after.topics.end(), kNewTopic), 0);

  // The holder gets past access control on every method (what the service
  // then answers to a made-up request is its business).
  for (const Method& m : methods) {
    Answer answer = Call(tls_, m.address, m.name, m.request.get(), Holder(m), absl::Now());
    EXPECT_FALSE(Refused(answer)) << m.name << ": " << answer.message;
  }
}

TEST_P(AclE2eTest, ClientsMqadminHotReloadAndAllowedIps) {
  // The real client signs its sends (over the send stream) and heartbeats.
  auto send = [&](const acl::Credentials& as, const std::string& topic) {
    ProducerOptions options;
    options.client.name_server_addresses = {namesrv_address_};
    options.client.instance_name = absl::StrCat("acl-", as.access_key, "-", topic);
    options.client.tls.enabled = tls_.enabled;
    options.client.tls.ca_file = tls_.ca_file;
    options.client.access_key = as.access_key;
    options.client.secret_key = as.secret_key;
    options.retry_times_when_send_failed = 0;
    Producer producer("AclProducers", options);
    absl::Status started = producer.Start();
    if (!started.ok()) return started;
    absl::Status sent = producer.Send(Message(topic, "", "hello")).status();
    producer.Shutdown();
    return sent;
  };
  EXPECT_TRUE(send(kAlice, kTopic).ok());
  absl::Status denied = send(kAlice, "AclOtherTopic");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied) << denied;
  EXPECT_EQ(send(kBob, kTopic).code(), absl::StatusCode::kPermissionDenied);

  // mqadmin: a user created by an admin works at once, without a restart;
  // listUser shows no secret; an ordinary user cannot create users.
  const std::string mqadmin = RunfilePath("tools/mqadmin/mqadmin");
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"-n", namesrv_address_, "-b", broker_address_});
    if (tls_.enabled) args.insert(args.end(), {"--tls", "--tlsCaFile=" + tls_.ca_file});
    absl::StatusOr<testing::ToolResult> result = testing::RunTool(mqadmin, args);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : testing::ToolResult{};
  };
  testing::ToolResult by_alice =
      run({"createUser", "-u", "carol", "-p", kCarolSecret, "-A", "alice", "-S", kAliceSecret});
  EXPECT_EQ(by_alice.exit_code, 1);
  EXPECT_NE(by_alice.err.find("PERMISSION_DENIED"), std::string::npos) << by_alice.err;
  const acl::Credentials carol{"carol", kCarolSecret};
  EXPECT_EQ(send(carol, kTopic).code(), absl::StatusCode::kUnauthenticated);
  testing::ToolResult created =
      run({"createUser", "-u", "carol", "-p", kCarolSecret, "-t", std::string(kTopic) + "=PUB",
           "-A", "root", "-S", kRootSecret});
  EXPECT_EQ(created.exit_code, 0) << created.err;
  EXPECT_TRUE(send(carol, kTopic).ok());
  testing::ToolResult listed = run({"listUser", "-A", "root", "-S", kRootSecret});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("carol"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find(std::string(kTopic) + "=PUB"), std::string::npos) << listed.out;
  for (const char* secret : {kCarolSecret, kRootSecret, kAliceSecret}) {
    EXPECT_EQ(listed.out.find(secret), std::string::npos);
  }
  testing::ToolResult revoked =
      run({"revoke", "-u", "carol", "-t", kTopic, "-A", "root", "-S", kRootSecret});
  EXPECT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_EQ(send(carol, kTopic).code(), absl::StatusCode::kPermissionDenied);

  // Hot reload: a table written to the store behind the broker's back (as
  // another broker of the store, or replication, would) takes effect within
  // the reload interval.
  acl::v1::UserTable table;
  acl::v1::User* dave = table.add_users();
  *dave = User("dave", "dave-secret-e2e", acl::v1::ORDINARY);
  dave->set_default_topic_perm(acl::v1::PUB_SUB);
  dave->add_allowed_ips("10.0.0.0/8");
  *table.add_users() = User("root", kRootSecret, acl::v1::ADMIN);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(table, &json).ok());
  store::v1::PutMetadataRequest put;
  put.add_entries()->set_key("acl_users");
  put.mutable_entries(0)->set_value(json);
  auto store = store::v1::Store::NewStub(CreateChannel(store_address_, tls_, kCluster));
  ASSERT_TRUE(CallUnary(*store, &store::v1::Store::Stub::PutMetadata, put, absl::Seconds(5)).ok());
  const acl::Credentials dave_keys{"dave", "dave-secret-e2e"};
  broker::v1::GetQueueOffsetsRequest offsets;
  offsets.set_topic(kTopic);
  const std::string kOffsets = "/mq.broker.v1.Broker/GetQueueOffsets";
  // Dave's calls come from 127.0.0.1, outside his allow-list.
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        return Call(tls_, broker_address_, kOffsets, &offsets, &dave_keys, absl::Now()).code ==
               grpc::StatusCode::PERMISSION_DENIED;
      },
      absl::Seconds(10)));
  Answer from_outside = Call(tls_, broker_address_, kOffsets, &offsets, &dave_keys, absl::Now());
  EXPECT_NE(from_outside.message.find("may not call from 127.0.0.1"), std::string::npos)
      << from_outside.message;
  // Alice is gone from the reloaded table.
  EXPECT_EQ(Call(tls_, broker_address_, kOffsets, &offsets, &kAlice, absl::Now()).code,
            grpc::StatusCode::UNAUTHENTICATED);
  testing::ToolResult widened = run(
      {"updateUser", "-u", "dave", "-i", "10.0.0.0/8,127.0.0.1", "-A", "root", "-S", kRootSecret});
  EXPECT_EQ(widened.exit_code, 0) << widened.err;
  EXPECT_FALSE(Refused(Call(tls_, broker_address_, kOffsets, &offsets, &dave_keys, absl::Now())));
}

// The producer coalesces concurrent sends into shared frames: with sends to a
// topic the user may publish and to one it may not in flight together, each
// refused send fails alone and every allowed one is stored.
TEST_P(AclE2eTest, ARefusedSendInASharedFrameFailsAlone) {
  constexpr char kForbidden[] = "AclForbiddenTopic";
  broker::v1::CreateOrUpdateTopicRequest topic;
  topic.mutable_config()->set_topic_name(kForbidden);
  topic.mutable_config()->set_read_queue_nums(2);
  topic.mutable_config()->set_write_queue_nums(2);
  topic.mutable_config()->set_perm(common::v1::PERM_READ | common::v1::PERM_WRITE);
  auto stub = broker::v1::Broker::NewStub(CreateChannel(broker_address_, tls_, kRoot));
  ASSERT_TRUE(
      CallUnary(*stub, &broker::v1::Broker::Stub::CreateOrUpdateTopic, topic, absl::Seconds(5))
          .ok());
  const int64_t before = Snapshot().commit_log_max;

  ProducerOptions options;
  options.client.name_server_addresses = {namesrv_address_};
  options.client.instance_name = "acl-coalesced";
  options.client.tls.enabled = tls_.enabled;
  options.client.tls.ca_file = tls_.ca_file;
  options.client.access_key = kAlice.access_key;
  options.client.secret_key = kAlice.secret_key;
  ASSERT_TRUE(options.client.coalesce_sends);
  options.retry_times_when_send_failed = 0;
  Producer producer("AclProducers", options);
  ASSERT_TRUE(producer.Start().ok());
  // Warm the routes (the broker registers the new topic asynchronously) so
  // the sends below are in flight together.
  ASSERT_TRUE(producer.Send(Message(kTopic, "", "warm")).ok());
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return producer.Send(Message(kForbidden, "", "warm")).status().code() ==
               absl::StatusCode::kPermissionDenied;
      },
      absl::Seconds(20)));

  constexpr int kSends = 256;
  absl::Mutex mu;
  int done = 0;
  int stored = 0;
  std::vector<std::string> wrong;
  for (int i = 0; i < kSends; ++i) {
    const bool allowed = i % 3 != 0;
    producer.SendAsync(
        Message(allowed ? kTopic : kForbidden, "", absl::StrCat("m", i)),
        [&, allowed, i](absl::StatusOr<SendResult> result) {
          absl::MutexLock lock(&mu);
          ++done;
          if (allowed && result.ok()) {
            ++stored;
          } else if (allowed || result.status().code() != absl::StatusCode::kPermissionDenied) {
            wrong.push_back(absl::StrCat("send ", i, ": ", result.status().ToString()));
          }
        });
  }
  {
    absl::MutexLock lock(&mu);
    auto all_done = [&] { return done == kSends; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(30)));
    EXPECT_TRUE(wrong.empty()) << wrong.size() << " wrong, e.g. " << wrong.front();
    EXPECT_EQ(stored, kSends - (kSends + 2) / 3);
  }
  producer.Shutdown();
  // Only the allowed sends reached the commit log: the forbidden topic's
  // queues are still empty.
  EXPECT_GT(Snapshot().commit_log_max, before);
  for (int queue = 0; queue < 2; ++queue) {
    broker::v1::GetQueueOffsetsRequest offsets;
    offsets.set_topic(kForbidden);
    offsets.set_queue_id(queue);
    auto answer =
        CallUnary(*stub, &broker::v1::Broker::Stub::GetQueueOffsets, offsets, absl::Seconds(5));
    ASSERT_TRUE(answer.ok()) << answer.status();
    EXPECT_EQ(answer->max_offset(), 0) << "queue " << queue;
  }
}

// The RocketMQ 5 front (apache.rocketmq.v2, on the broker's port) checks the
// same users through the official clients' `authorization` header; plain
// gRPC calls, as an official client makes them.
namespace v2 = ::apache::rocketmq::v2;

// The headers an official RocketMQ 5 client sends, signed as `as` at `at`
// (x-mq-date-time in its basic format, upper-case hex as Java and Node).
void SignAsV5Client(grpc::ClientContext* context, const acl::Credentials& as, absl::Time at) {
  const std::string date = absl::FormatTime("%Y%m%dT%H%M%SZ", at, absl::UTCTimeZone());
  context->AddMetadata("x-mq-date-time", date);
  context->AddMetadata("authorization",
                       absl::StrCat("MQv2-HMAC-SHA1 Credential=", as.access_key,
                                    "/cn/RocketMQ, SignedHeaders=x-mq-date-time, Signature=",
                                    absl::AsciiStrToUpper(acl::HmacSha1Hex(as.secret_key, date))));
}

// The v5 front of the broker's (or standalone server's) port, and in the split
// deployment also the separate proxy, which follows the brokers' users.
TEST_P(AclE2eTest, RocketMq5RequestsAreCheckedAsTheSameUsers) {
  std::vector<std::pair<std::string, int>> endpoints = {{broker_address_, broker_metrics_port_}};
  if (proxy_ != nullptr) endpoints.emplace_back(proxy_->address(), proxy_metrics_port_);
  for (const auto& [endpoint, metrics_port] : endpoints) {
    SCOPED_TRACE("v5 endpoint " + endpoint);
    CheckV5Endpoint(endpoint, metrics_port);
  }
  if (split()) CheckProxyWithoutAccessControl();
}

void AclE2eTest::CheckProxyWithoutAccessControl() {
  std::unique_ptr<ServerProcess> open_proxy = Start(
      "open-proxy", "services/proxy/proxy",
      Concat({"--port=0", "--listen_address=127.0.0.1", "--namesrv_addr=" + namesrv_->address(),
              "--acl_cluster_secret_file=" + dir_ + "/cluster.secret"},
             tls_flags_));
  ASSERT_NE(open_proxy, nullptr);
  auto stub = v2::MessagingService::NewStub(CreateChannel(open_proxy->address(), tls_));
  const State before = Snapshot();
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(10));
  context.AddMetadata("x-mq-client-id", "acl-e2e@1@0@v5");
  v2::SendMessageRequest request;
  v2::Message* message = request.add_messages();
  message->mutable_topic()->set_name(kTopic);
  message->set_body("unchecked");
  message->mutable_system_properties()->set_message_id("0102FC0000000130390B14FB08000000FE");
  message->mutable_system_properties()->set_message_type(v2::MessageType::NORMAL);
  v2::SendMessageResponse response;
  ASSERT_TRUE(stub->SendMessage(&context, request, &response).ok());
  EXPECT_NE(response.status().code(), v2::Code::OK) << response.status().message();
  EXPECT_EQ(Snapshot().commit_log_max, before.commit_log_max) << "an unchecked send was stored";
  EXPECT_TRUE(open_proxy->Stop().ok());
}

void AclE2eTest::CheckV5Endpoint(const std::string& endpoint, int metrics_port) {
  auto stub = v2::MessagingService::NewStub(CreateChannel(endpoint, tls_));
  // `as` null: unsigned.
  auto prepare = [](grpc::ClientContext* context, const acl::Credentials* as,
                    absl::Time at = absl::Now()) {
    SetDeadline(context, absl::Seconds(10));
    context->AddMetadata("x-mq-client-id", "acl-e2e@1@0@v5");
    if (as != nullptr) SignAsV5Client(context, *as, at);
  };
  auto send = [&](const acl::Credentials* as, const std::string& topic,
                  absl::Time at = absl::Now()) {
    grpc::ClientContext context;
    prepare(&context, as, at);
    v2::SendMessageRequest request;
    v2::Message* message = request.add_messages();
    message->mutable_topic()->set_name(topic);
    message->set_body("hello over RocketMQ 5's protocol");
    message->mutable_system_properties()->set_message_id("0102FC0000000130390B14FB08000000FF");
    message->mutable_system_properties()->set_message_type(v2::MessageType::NORMAL);
    v2::SendMessageResponse response;
    grpc::Status status = stub->SendMessage(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  };
  auto route = [&](const acl::Credentials* as) {
    grpc::ClientContext context;
    prepare(&context, as);
    v2::QueryRouteRequest request;
    request.mutable_topic()->set_name(kTopic);
    v2::Address* address = request.mutable_endpoints()->add_addresses();
    address->set_host("127.0.0.1");
    address->set_port(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
    v2::QueryRouteResponse response;
    EXPECT_TRUE(stub->QueryRoute(&context, request, &response).ok());
    return response.status().code();
  };
  // The proxy reads the users the test made after it started within a
  // second (it fails closed until then), possibly some before the others; a
  // broker knows them at once.
  // Bob was made last: once he is known (refused for lacking, not as a
  // stranger), so is everybody.
  ASSERT_TRUE(testing::WaitUntil([&] {
    return route(&kBob) == v2::Code::FORBIDDEN && route(&kAlice) == v2::Code::OK;
  })) << "the users made by the test never all reached this endpoint";
  const acl::Credentials wrong{"alice", kWrongSecret};
  const State before = Snapshot();
  const int64_t refusals_before = PermissionRefusals(metrics_port);
  EXPECT_EQ(send(nullptr, kTopic).code(), v2::Code::UNAUTHORIZED);
  EXPECT_EQ(send(&wrong, kTopic).code(), v2::Code::UNAUTHORIZED);
  // Older than the window, even widened for clients' local times marked UTC.
  EXPECT_EQ(send(&kAlice, kTopic, absl::Now() - absl::Hours(15)).code(), v2::Code::UNAUTHORIZED);
  v2::Status lacking = send(&kBob, kTopic);
  EXPECT_EQ(lacking.code(), v2::Code::FORBIDDEN);
  EXPECT_NE(lacking.message().find("'bob' lacks PUB on topic 'AclTopic'"), std::string::npos)
      << lacking.message();
  EXPECT_EQ(send(&kAlice, "AclOtherTopic").code(), v2::Code::FORBIDDEN);
  EXPECT_EQ(Snapshot().commit_log_max, before.commit_log_max) << "a refused send was stored";
  // The holder's send goes through the front and on to the broker, which the
  // front calls as the cluster identity.
  v2::Status sent = send(&kAlice, kTopic);
  EXPECT_EQ(sent.code(), v2::Code::OK) << sent.message();
  EXPECT_GT(Snapshot().commit_log_max, before.commit_log_max);

  EXPECT_EQ(route(nullptr), v2::Code::UNAUTHORIZED);
  EXPECT_EQ(route(&kBob), v2::Code::FORBIDDEN);
  EXPECT_EQ(route(&kAlice), v2::Code::OK);

  // Telemetry: an unsigned stream gets one refusal; a signed one gets its
  // settings answered, or refused when they name a topic it may not publish.
  {
    grpc::ClientContext context;
    prepare(&context, nullptr);
    auto stream = stub->Telemetry(&context);
    v2::TelemetryCommand reply;
    ASSERT_TRUE(stream->Read(&reply));
    EXPECT_EQ(reply.status().code(), v2::Code::UNAUTHORIZED);
    EXPECT_FALSE(reply.has_settings());
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
  {
    grpc::ClientContext context;
    prepare(&context, &kAlice);
    auto stream = stub->Telemetry(&context);
    auto settings = [&](const std::string& topic) {
      v2::TelemetryCommand command;
      command.mutable_settings()->set_client_type(v2::ClientType::PRODUCER);
      command.mutable_settings()->mutable_publishing()->add_topics()->set_name(topic);
      EXPECT_TRUE(stream->Write(command));
      v2::TelemetryCommand reply;
      EXPECT_TRUE(stream->Read(&reply));
      return reply;
    };
    EXPECT_TRUE(settings(kTopic).has_settings());
    v2::TelemetryCommand refused = settings("AclOtherTopic");
    EXPECT_FALSE(refused.has_settings());
    EXPECT_EQ(refused.status().code(), v2::Code::FORBIDDEN);
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
  // The consumer RPCs need SUB on the topic and the group, as our broker's
  // POP: bob is refused; alice passes (and her made-up handle is refused as
  // such, not for permission).
  auto resources = [](auto* request, const std::string& group) {
    request->mutable_topic()->set_name(kTopic);
    request->mutable_group()->set_name(group);
  };
  auto ack = [&](const acl::Credentials* as, const std::string& group) {
    grpc::ClientContext context;
    prepare(&context, as);
    v2::AckMessageRequest request;
    resources(&request, group);
    request.add_entries()->set_receipt_handle("not-a-handle");
    v2::AckMessageResponse response;
    EXPECT_TRUE(stub->AckMessage(&context, request, &response).ok());
    return response.status().code();
  };
  auto change = [&](const acl::Credentials* as) {
    grpc::ClientContext context;
    prepare(&context, as);
    v2::ChangeInvisibleDurationRequest request;
    resources(&request, kGroup);
    request.set_receipt_handle("not-a-handle");
    request.mutable_invisible_duration()->set_seconds(10);
    v2::ChangeInvisibleDurationResponse response;
    EXPECT_TRUE(stub->ChangeInvisibleDuration(&context, request, &response).ok());
    return response.status().code();
  };
  auto receive = [&](const acl::Credentials* as) {
    grpc::ClientContext context;
    prepare(&context, as);
    v2::ReceiveMessageRequest request;
    request.mutable_group()->set_name(kGroup);
    request.mutable_message_queue()->mutable_topic()->set_name(kTopic);
    auto reader = stub->ReceiveMessage(&context, request);
    v2::ReceiveMessageResponse first;
    EXPECT_TRUE(reader->Read(&first));
    while (reader->Read(&first)) {
    }
    EXPECT_TRUE(reader->Finish().ok());
    return first.status().code();
  };
  EXPECT_EQ(ack(&kBob, kGroup), v2::Code::FORBIDDEN);
  EXPECT_EQ(ack(&kAlice, "AclOtherGroup"), v2::Code::FORBIDDEN);
  EXPECT_EQ(ack(&kAlice, kGroup), v2::Code::INVALID_RECEIPT_HANDLE);
  EXPECT_EQ(change(&kBob), v2::Code::FORBIDDEN);
  EXPECT_EQ(change(&kAlice), v2::Code::INVALID_RECEIPT_HANDLE);
  EXPECT_EQ(receive(&kBob), v2::Code::FORBIDDEN);

  // Every refusal above counted as the process's own API counts its refusals:
  // five sends, two route queries, a Telemetry stream, a Settings and four
  // consumer requests.
  EXPECT_EQ(PermissionRefusals(metrics_port) - refusals_before, 13);
}

INSTANTIATE_TEST_SUITE_P(Deployments, AclE2eTest,
                         ::testing::Values(Deployment{false, false}, Deployment{true, false},
                                           Deployment{true, true}),
                         [](const ::testing::TestParamInfo<Deployment>& info) {
                           return std::string(info.param.split ? "Split" : "Standalone") +
                                  (info.param.tls ? "Tls" : "");
                         });

}  // namespace
}  // namespace mq
