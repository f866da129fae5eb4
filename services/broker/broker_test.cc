// The whole broker behind a real gRPC server: over the real in-process store
// (send, pull, long polling, queries, admin, persistence across a restart,
// registration) and over the fake store (flow control, failures).
#include "services/broker/broker.h"

#include <gmock/gmock.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/format/record_format.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "proto/broker.grpc.pb.h"
#include "services/broker/remote_store.h"
#include "services/namesrv/name_server.h"
#include "services/store/grpc_store.h"
#include "testing/fake_store.h"
#include "testing/small_store.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

// A name server on a free local port.
class LocalNameServer {
 public:
  LocalNameServer() : name_server_(namesrv::NameServerOptions{}) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(name_server_.service());
    server_ = builder.BuildAndStart();
  }
  ~LocalNameServer() { server_->Shutdown(); }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  namesrv::RouteInfoManager* routes() { return name_server_.routes(); }

 private:
  namesrv::NameServer name_server_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// A broker over `store`, served on a free local port.
class LocalBroker {
 public:
  LocalBroker(store::StoreApi* store, BrokerOptions options)
      : broker_(std::make_unique<Broker>(store, std::move(options))) {
    grpc::ServerBuilder builder;
    ConfigureServerBuilder(&builder);
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(broker_->service());
    server_ = builder.BuildAndStart();
    broker_->SetAdvertisedAddress(address());
    stub_ = broker::v1::Broker::NewStub(CreateChannel(address()));
  }
  ~LocalBroker() { Shutdown(); }

  void Shutdown() {
    if (server_ == nullptr) return;
    broker_->Stop();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_.reset();
    broker_.reset();
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  Broker* broker() { return broker_.get(); }
  broker::v1::Broker::Stub* stub() { return stub_.get(); }

 private:
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<broker::v1::Broker::Stub> stub_;
  int port_ = 0;
};

// Calls `method` with a deadline; returns the status with its response code.
template <typename Request, typename Response, typename Method>
absl::Status Call(broker::v1::Broker::Stub* stub, Method method, const Request& request,
                  Response* response, absl::Duration timeout = absl::Seconds(10)) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::Status status = (stub->*method)(&context, request, response);
  return FromGrpcStatus(status, context);
}

BrokerOptions Options(const std::vector<std::string>& namesrvs = {}) {
  BrokerOptions options;
  options.broker_name = "broker-a";
  options.namesrv_addrs = namesrvs;
  options.register_timeout = absl::Seconds(3);
  options.send_queue.threads = 4;
  options.pull_queue.threads = 4;
  return options;
}

broker::v1::SendMessageRequest SendRequest(const std::string& topic, const std::string& body,
                                           const std::string& tag = "TagA", int32_t queue_id = -1) {
  broker::v1::SendMessageRequest request;
  request.set_producer_group("pg");
  request.set_queue_id(queue_id);
  request.set_default_topic("TBW102");
  request.set_default_topic_queue_nums(4);
  request.set_born_timestamp_ms(absl::ToUnixMillis(absl::Now()));
  common::v1::Message* message = request.mutable_message();
  message->set_topic(topic);
  message->set_body(body);
  (*message->mutable_properties())["TAGS"] = tag;
  (*message->mutable_properties())["KEYS"] = "key-" + body;
  (*message->mutable_properties())["UNIQ_KEY"] = "UNIQ-" + body;
  return request;
}

broker::v1::PullMessageRequest PullRequest(const std::string& topic, int32_t queue_id,
                                           int64_t offset, bool suspend = false) {
  broker::v1::PullMessageRequest request;
  request.set_consumer_group("cg");
  request.set_topic(topic);
  request.set_queue_id(queue_id);
  request.set_queue_offset(offset);
  request.set_max_msg_nums(32);
  request.set_commit_offset(-1);
  request.set_suspend(suspend);
  request.set_suspend_timeout_ms(suspend ? 8000 : 0);
  request.set_subscription("*");
  return request;
}

// The broker's count of held pulls, from its runtime stats.
// The bodies of a stored-records pull answer, each record's CRC checked.
std::vector<std::string> RecordBodies(absl::string_view records) {
  std::vector<std::string> bodies;
  while (!records.empty()) {
    format::DecodedRecord decoded = format::DecodeRecord(records, /*check_crc=*/true);
    if (decoded.kind != format::RecordKind::kMessage) {
      bodies.push_back("<not a record>");
      break;
    }
    bodies.emplace_back(decoded.message.body);
    records.remove_prefix(decoded.size);
  }
  return bodies;
}

std::vector<std::string> MessageBodies(const broker::v1::PullMessageResponse& response) {
  std::vector<std::string> bodies;
  for (const common::v1::MessageExt& message : response.messages())
    bodies.push_back(message.body());
  return bodies;
}

std::string HeldPulls(broker::v1::Broker::Stub* stub) {
  broker::v1::GetRuntimeStatsResponse stats;
  if (!Call(stub, &broker::v1::Broker::Stub::GetRuntimeStats, broker::v1::GetRuntimeStatsRequest(),
            &stats)
           .ok()) {
    return "";
  }
  auto it = stats.extra().find("held_pulls");
  return it == stats.extra().end() ? "" : it->second;
}

// Writes `requests` over one SendMessageStream, half-closes, and collects
// every response; returns the stream's status.
absl::Status WriteStream(broker::v1::Broker::Stub* stub,
                         const std::vector<broker::v1::SendStreamRequest>& requests,
                         std::vector<broker::v1::SendStreamResponse>* responses) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto stream = stub->SendMessageStream(&context);
  std::thread reader([&] {
    broker::v1::SendStreamResponse response;
    while (stream->Read(&response)) responses->push_back(response);
  });
  for (const broker::v1::SendStreamRequest& request : requests) {
    if (!stream->Write(request)) break;
  }
  stream->WritesDone();
  reader.join();
  return FromGrpcStatus(stream->Finish(), context);
}

// Sends `requests` over one SendMessageStream (request ids 100, 101, ...).
absl::Status SendOverStream(broker::v1::Broker::Stub* stub,
                            const std::vector<broker::v1::SendMessageRequest>& requests,
                            std::vector<broker::v1::SendStreamResponse>* responses) {
  std::vector<broker::v1::SendStreamRequest> wrapped(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    wrapped[i].set_request_id(100 + i);
    *wrapped[i].mutable_send() = requests[i];
  }
  return WriteStream(stub, wrapped, responses);
}

class BrokerTest : public ::testing::Test {
 protected:
  BrokerTest() : dir_(testing::MakeTempDir()) { OpenStore(); }

  void OpenStore() { store_ = testing::OpenSmallStore(dir_); }

  std::unique_ptr<LocalBroker> StartBroker(BrokerOptions options) {
    auto broker = std::make_unique<LocalBroker>(store_.get(), std::move(options));
    absl::Status started = broker->broker()->Start();
    EXPECT_TRUE(started.ok()) << started;
    return broker;
  }

  const std::string dir_;
  LocalNameServer namesrv_;
  std::unique_ptr<store::MessageStore> store_;
};

TEST_F(BrokerTest, SendAutoCreatesRegistersAndPullReadsBack) {
  auto broker = StartBroker(Options({namesrv_.address()}));
  auto* stub = broker->stub();
  broker::v1::SendMessageResponse sent;
  absl::Status status = Call(stub, &broker::v1::Broker::Stub::SendMessage,
                             SendRequest("orders", "m0", "TagA", 1), &sent);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(sent.status(), broker::v1::SEND_OK);
  EXPECT_EQ(sent.msg_id(), "UNIQ-m0");
  EXPECT_EQ(sent.queue_id(), 1);
  EXPECT_EQ(sent.queue_offset(), 0);
  EXPECT_EQ(sent.broker_name(), "broker-a");
  // The new topic reaches the name server without waiting for the period.
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return namesrv_.routes()->GetRouteInfoByTopic("orders").ok(); }, absl::Seconds(10)));

  broker::v1::SendBatchRequest batch;
  batch.set_producer_group("pg");
  batch.set_topic("orders");
  batch.set_queue_id(1);
  for (int i = 1; i <= 3; ++i) {
    common::v1::Message* message = batch.add_messages();
    message->set_topic("orders");
    message->set_body(absl::StrCat("m", i));
    (*message->mutable_properties())["TAGS"] = i == 2 ? "TagB" : "TagA";
    (*message->mutable_properties())["UNIQ_KEY"] = absl::StrCat("UNIQ-m", i);
  }
  broker::v1::SendBatchResponse batch_sent;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::SendBatch, batch, &batch_sent).ok());
  EXPECT_EQ(batch_sent.queue_offset(), 1);
  EXPECT_THAT(batch_sent.msg_ids(), ElementsAre("UNIQ-m1", "UNIQ-m2", "UNIQ-m3"));

  ASSERT_TRUE(testing::WaitForDispatch(*store_));
  broker::v1::PullMessageRequest pull = PullRequest("orders", 1, 0);
  pull.set_subscription("TagA");
  broker::v1::PullMessageResponse pulled;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::PullMessage, pull, &pulled).ok());
  EXPECT_EQ(pulled.status(), broker::v1::FOUND);
  ASSERT_EQ(pulled.messages_size(), 3);
  EXPECT_EQ(pulled.messages(0).body(), "m0");
  EXPECT_EQ(pulled.messages(0).msg_id(), "UNIQ-m0");
  EXPECT_EQ(pulled.messages(0).born_host().substr(0, 10), "127.0.0.1:");
  EXPECT_EQ(pulled.messages(0).store_host(), broker->address());
  EXPECT_EQ(pulled.messages(0).offset_msg_id(), sent.offset_msg_id());
  EXPECT_EQ(pulled.messages(2).body(), "m3");
  EXPECT_EQ(pulled.next_begin_offset(), 4);

  // Asked for stored records, the same messages come as the commit log holds them.
  pull.set_stored_records(true);
  broker::v1::PullMessageResponse records;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::PullMessage, pull, &records).ok());
  EXPECT_EQ(records.status(), broker::v1::FOUND);
  EXPECT_EQ(records.messages_size(), 0);
  EXPECT_EQ(RecordBodies(records.records()), MessageBodies(pulled));
  EXPECT_EQ(records.next_begin_offset(), 4);
}

TEST_F(BrokerTest, LongPollIsAnsweredWhenAMessageArrives) {
  auto broker = StartBroker(Options());
  auto* stub = broker->stub();
  broker::v1::SendMessageResponse sent;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::SendMessage,
                   SendRequest("orders", "first", "TagA", 0), &sent)
                  .ok());
  ASSERT_TRUE(testing::WaitForDispatch(*store_));

  broker::v1::PullMessageResponse pulled;
  absl::Status pull_status;
  absl::Time answered;
  std::thread puller([&] {
    pull_status = Call(stub, &broker::v1::Broker::Stub::PullMessage,
                       PullRequest("orders", 0, 1, /*suspend=*/true), &pulled, absl::Seconds(20));
    answered = absl::Now();
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return HeldPulls(stub) == "1"; }));
  absl::Time sent_at = absl::Now();
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::SendMessage,
                   SendRequest("orders", "second", "TagA", 0), &sent)
                  .ok());
  puller.join();
  ASSERT_TRUE(pull_status.ok()) << pull_status;
  EXPECT_EQ(pulled.status(), broker::v1::FOUND);
  ASSERT_EQ(pulled.messages_size(), 1);
  EXPECT_EQ(pulled.messages(0).body(), "second");
  EXPECT_LT(answered - sent_at, absl::Seconds(3));
}

TEST_F(BrokerTest, QueriesAndAdmin) {
  auto broker = StartBroker(Options());
  auto* stub = broker->stub();
  broker::v1::CreateOrUpdateTopicRequest create;
  common::v1::TopicConfig* config = create.mutable_config();
  config->set_topic_name("audit");
  config->set_read_queue_nums(2);
  config->set_write_queue_nums(2);
  config->set_perm(6);
  broker::v1::CreateOrUpdateTopicResponse created;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::CreateOrUpdateTopic, create, &created).ok());
  broker::v1::SendMessageResponse sent;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::SendMessage,
                     SendRequest("audit", absl::StrCat("a", i), "TagA", 0), &sent)
                    .ok());
  }
  ASSERT_TRUE(testing::WaitForDispatch(*store_));

  broker::v1::QueryMessageByIdRequest by_id;
  by_id.set_topic("audit");
  by_id.set_msg_id("UNIQ-a1");
  broker::v1::QueryMessageResponse found;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::QueryMessageById, by_id, &found).ok());
  ASSERT_EQ(found.messages_size(), 1);
  EXPECT_EQ(found.messages(0).body(), "a1");

  broker::v1::QueryMessageByKeyRequest by_key;
  by_key.set_topic("audit");
  by_key.set_key("key-a2");
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::QueryMessageByKey, by_key, &found).ok());
  ASSERT_EQ(found.messages_size(), 1);
  EXPECT_EQ(found.messages(0).body(), "a2");

  broker::v1::ViewMessageByOffsetIdRequest by_offset;
  by_offset.set_offset_msg_id(sent.offset_msg_id());
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::ViewMessageByOffsetId, by_offset, &found).ok());
  EXPECT_EQ(found.messages(0).body(), "a2");

  broker::v1::GetTopicStatsRequest stats_request;
  stats_request.set_topic("audit");
  broker::v1::GetTopicStatsResponse topic_stats;
  ASSERT_TRUE(
      Call(stub, &broker::v1::Broker::Stub::GetTopicStats, stats_request, &topic_stats).ok());
  ASSERT_EQ(topic_stats.queues_size(), 2);
  EXPECT_EQ(topic_stats.queues(0).max_offset(), 3);

  broker::v1::UpdateConsumerOffsetRequest update;
  update.set_consumer_group("cg");
  update.set_topic("audit");
  update.set_queue_id(0);
  update.set_offset(1);
  broker::v1::UpdateConsumerOffsetResponse updated;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::UpdateConsumerOffset, update, &updated).ok());
  broker::v1::GetConsumeStatsRequest consume;
  consume.set_consumer_group("cg");
  broker::v1::GetConsumeStatsResponse progress;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::GetConsumeStats, consume, &progress).ok());
  EXPECT_EQ(progress.diff_total(), 2);

  broker::v1::GetRuntimeStatsResponse runtime;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::GetRuntimeStats,
                   broker::v1::GetRuntimeStatsRequest(), &runtime)
                  .ok());
  EXPECT_EQ(runtime.total_put_messages(), 3);
  EXPECT_EQ(runtime.role(), "ASYNC_MASTER");
  EXPECT_GT(runtime.commit_log_max_offset(), 0);

  broker::v1::DeleteTopicRequest remove;
  remove.set_topic("audit");
  broker::v1::DeleteTopicResponse removed;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::DeleteTopic, remove, &removed).ok());
  absl::Status missing =
      Call(stub, &broker::v1::Broker::Stub::GetTopicStats, stats_request, &topic_stats);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(GetResponseCode(missing), Optional(common::v1::TOPIC_NOT_EXIST));
}

TEST_F(BrokerTest, ClientsHeartbeatAndListConsumers) {
  auto broker = StartBroker(Options());
  auto* stub = broker->stub();
  for (const char* id : {"10.0.0.2@b", "10.0.0.1@a"}) {
    broker::v1::HeartbeatRequest heartbeat;
    heartbeat.set_client_id(id);
    heartbeat.add_consumers()->set_group_name("cg");
    broker::v1::HeartbeatResponse response;
    ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::Heartbeat, heartbeat, &response).ok());
  }
  broker::v1::GetConsumerListRequest list;
  list.set_consumer_group("cg");
  broker::v1::GetConsumerListResponse consumers;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::GetConsumerList, list, &consumers).ok());
  EXPECT_THAT(consumers.client_ids(), ElementsAre("10.0.0.1@a", "10.0.0.2@b"));
  broker::v1::UnregisterClientRequest unregister;
  unregister.set_client_id("10.0.0.1@a");
  unregister.set_consumer_group("cg");
  broker::v1::UnregisterClientResponse unregistered;
  ASSERT_TRUE(
      Call(stub, &broker::v1::Broker::Stub::UnregisterClient, unregister, &unregistered).ok());
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::GetConsumerList, list, &consumers).ok());
  EXPECT_THAT(consumers.client_ids(), ElementsAre("10.0.0.2@b"));
}

TEST_F(BrokerTest, GracefulStopAnswersHeldPullsPersistsAndUnregisters) {
  auto broker = StartBroker(Options({namesrv_.address()}));
  auto* stub = broker->stub();
  broker::v1::SendMessageResponse sent;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::SendMessage,
                   SendRequest("orders", "m0", "TagA", 0), &sent)
                  .ok());
  ASSERT_TRUE(testing::WaitForDispatch(*store_));
  broker::v1::UpdateConsumerOffsetRequest update;
  update.set_consumer_group("cg");
  update.set_topic("orders");
  update.set_queue_id(0);
  update.set_offset(1);
  broker::v1::UpdateConsumerOffsetResponse updated;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::UpdateConsumerOffset, update, &updated).ok());
  EXPECT_EQ(namesrv_.routes()->GetClusterInfo().live_brokers_size(), 1);

  broker::v1::PullMessageResponse pulled;
  absl::Status pull_status;
  std::thread puller([&] {
    pull_status = Call(stub, &broker::v1::Broker::Stub::PullMessage,
                       PullRequest("orders", 0, 1, /*suspend=*/true), &pulled, absl::Seconds(30));
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return HeldPulls(stub) == "1"; }));
  absl::Time stop_at = absl::Now();
  broker->broker()->Stop();
  puller.join();
  EXPECT_LT(absl::Now() - stop_at, absl::Seconds(5));
  ASSERT_TRUE(pull_status.ok()) << pull_status;
  EXPECT_EQ(pulled.status(), broker::v1::NO_NEW_MSG);
  EXPECT_EQ(namesrv_.routes()->GetClusterInfo().live_brokers_size(), 0);

  // Calls after Stop are refused with a retryable code.
  absl::Status refused =
      Call(stub, &broker::v1::Broker::Stub::SendMessage, SendRequest("orders", "late"), &sent);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(GetResponseCode(refused), Optional(common::v1::SERVICE_NOT_AVAILABLE));
  broker->Shutdown();

  // Topics and offsets live in the store: a new broker (and store) reads them back.
  store_.reset();
  OpenStore();
  auto restarted = StartBroker(Options());
  broker::v1::QueryConsumerOffsetRequest query;
  query.set_consumer_group("cg");
  query.set_topic("orders");
  query.set_queue_id(0);
  broker::v1::QueryConsumerOffsetResponse offset;
  ASSERT_TRUE(
      Call(restarted->stub(), &broker::v1::Broker::Stub::QueryConsumerOffset, query, &offset).ok());
  EXPECT_EQ(offset.offset(), 1);
  EXPECT_TRUE(restarted->broker()->topics()->Find("orders").has_value());
  query.set_queue_id(1);
  absl::Status none =
      Call(restarted->stub(), &broker::v1::Broker::Stub::QueryConsumerOffset, query, &offset);
  EXPECT_EQ(none.code(), absl::StatusCode::kNotFound);
}

// The broker binary's arrangement: the real store behind its gRPC service,
// reached through a RemoteStore (coalesced appends, watch stream).
class BrokerOverRemoteStoreTest : public BrokerTest {
 protected:
  BrokerOverRemoteStoreTest() : service_(store_.get()) {
    grpc::ServerBuilder builder;
    ConfigureServerBuilder(&builder);
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    remote_ = std::make_unique<RemoteStore>(CreateChannel(absl::StrCat("127.0.0.1:", port_)),
                                            RemoteStoreOptions{});
  }
  ~BrokerOverRemoteStoreTest() override {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  store::StoreService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<RemoteStore> remote_;
};

TEST_F(BrokerOverRemoteStoreTest, SendPullAndLongPollThroughTheStoreProcess) {
  LocalBroker broker(remote_.get(), Options());
  ASSERT_TRUE(broker.broker()->Start().ok());
  auto* stub = broker.stub();
  // Concurrent producers: their appends share RPCs to the store.
  std::vector<std::thread> producers;
  std::vector<absl::Status> results(8);
  for (int i = 0; i < 8; ++i) {
    producers.emplace_back([&, i] {
      broker::v1::SendMessageResponse sent;
      results[i] = Call(stub, &broker::v1::Broker::Stub::SendMessage,
                        SendRequest("orders", absl::StrCat("p", i), "TagA", 0), &sent);
    });
  }
  for (std::thread& producer : producers) producer.join();
  for (const absl::Status& result : results) ASSERT_TRUE(result.ok()) << result;
  EXPECT_LE(remote_->append_rpcs(), 8);
  ASSERT_TRUE(testing::WaitForDispatch(*store_));

  broker::v1::PullMessageResponse pulled;
  ASSERT_TRUE(
      Call(stub, &broker::v1::Broker::Stub::PullMessage, PullRequest("orders", 0, 0), &pulled)
          .ok());
  EXPECT_EQ(pulled.messages_size(), 8);
  // Stored records cross the store's RPC as they are.
  broker::v1::PullMessageRequest records_pull = PullRequest("orders", 0, 0);
  records_pull.set_stored_records(true);
  broker::v1::PullMessageResponse records;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::PullMessage, records_pull, &records).ok());
  EXPECT_EQ(records.messages_size(), 0);
  EXPECT_EQ(RecordBodies(records.records()), MessageBodies(pulled));

  absl::Status pull_status;
  std::thread puller([&] {
    pull_status = Call(stub, &broker::v1::Broker::Stub::PullMessage,
                       PullRequest("orders", 0, 8, /*suspend=*/true), &pulled, absl::Seconds(20));
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return HeldPulls(stub) == "1"; }));
  absl::Time sent_at = absl::Now();
  broker::v1::SendMessageResponse sent;
  ASSERT_TRUE(Call(stub, &broker::v1::Broker::Stub::SendMessage,
                   SendRequest("orders", "late", "TagA", 0), &sent)
                  .ok());
  puller.join();
  ASSERT_TRUE(pull_status.ok()) << pull_status;
  ASSERT_EQ(pulled.messages_size(), 1);
  EXPECT_EQ(pulled.messages(0).body(), "late");
  EXPECT_LT(absl::Now() - sent_at, absl::Seconds(3));
  broker.Shutdown();

  // The auto-created topic went into the store's metadata.
  TopicConfigManager topics(store_.get(), TopicConfigOptions{});
  ASSERT_TRUE(topics.Load().ok());
  EXPECT_TRUE(topics.Find("orders").has_value());
}

TEST_F(BrokerTest, SendStreamStoresInOrderAndAnswersEachRequestId) {
  auto broker = StartBroker(Options());
  std::vector<broker::v1::SendMessageRequest> requests;
  for (int i = 0; i < 200; ++i) {
    requests.push_back(SendRequest("streamed", absl::StrCat("s", i), "TagA", /*queue_id=*/0));
  }
  // A bad message fails alone; the stream goes on.
  requests[50].mutable_message()->clear_body();
  std::vector<broker::v1::SendStreamResponse> responses;
  absl::Status status = SendOverStream(broker->stub(), requests, &responses);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(responses.size(), requests.size());
  std::map<uint64_t, broker::v1::SendStreamResponse> by_id;
  for (const auto& response : responses) {
    EXPECT_TRUE(by_id.emplace(response.request_id(), response).second)
        << "request " << response.request_id() << " answered twice";
  }
  ASSERT_EQ(by_id.size(), requests.size());
  const broker::v1::SendStreamResponse& failed = by_id.at(150);
  ASSERT_TRUE(failed.has_error());
  EXPECT_EQ(failed.error().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(failed.error().response_code(), common::v1::MESSAGE_ILLEGAL);
  EXPECT_THAT(failed.error().message(), HasSubstr("body"));
  int64_t expected_offset = 0;
  for (int i = 0; i < 200; ++i) {
    if (i == 50) continue;
    const broker::v1::SendStreamResponse& answer = by_id.at(100 + i);
    ASSERT_TRUE(answer.has_response()) << i << ": " << answer.error().message();
    EXPECT_EQ(answer.response().status(), broker::v1::SEND_OK);
    EXPECT_EQ(answer.response().msg_id(), absl::StrCat("UNIQ-s", i));
    // Stored in the order sent.
    EXPECT_EQ(answer.response().queue_offset(), expected_offset++) << i;
  }

  ASSERT_TRUE(testing::WaitForDispatch(*store_));
  broker::v1::PullMessageResponse pulled;
  ASSERT_TRUE(Call(broker->stub(), &broker::v1::Broker::Stub::PullMessage,
                   PullRequest("streamed", 0, 0), &pulled)
                  .ok());
  ASSERT_EQ(pulled.messages_size(), 32);
  EXPECT_EQ(pulled.messages(0).body(), "s0");
  EXPECT_EQ(pulled.messages(31).body(), "s31");
}

// A batch rides the stream beside single sends and is answered with a
// batch response; a bad batch fails alone.
TEST_F(BrokerTest, SendStreamCarriesBatches) {
  auto broker = StartBroker(Options());
  std::vector<broker::v1::SendStreamRequest> requests(3);
  requests[0].set_request_id(1);
  *requests[0].mutable_send() = SendRequest("batched", "single", "TagA", /*queue_id=*/0);
  for (int r = 1; r <= 2; ++r) {
    requests[r].set_request_id(r + 1);
    broker::v1::SendBatchRequest* batch = requests[r].mutable_batch();
    batch->set_producer_group("pg");
    batch->set_topic("batched");
    batch->set_queue_id(0);
    for (int i = 0; i < 3; ++i) {
      common::v1::Message* message = batch->add_messages();
      message->set_topic(r == 2 && i == 1 ? "other" : "batched");
      message->set_body(absl::StrCat("b", i));
      (*message->mutable_properties())["UNIQ_KEY"] = absl::StrCat("UNIQ-b", r, "-", i);
    }
  }
  std::vector<broker::v1::SendStreamResponse> responses;
  absl::Status status = WriteStream(broker->stub(), requests, &responses);
  ASSERT_TRUE(status.ok()) << status;
  std::map<uint64_t, broker::v1::SendStreamResponse> by_id;
  for (const auto& response : responses) by_id[response.request_id()] = response;
  ASSERT_EQ(by_id.size(), 3u);
  ASSERT_TRUE(by_id[1].has_response()) << by_id[1].error().message();
  EXPECT_EQ(by_id[1].response().queue_offset(), 0);
  ASSERT_TRUE(by_id[2].has_batch_response()) << by_id[2].error().message();
  EXPECT_EQ(by_id[2].batch_response().queue_offset(), 1);
  EXPECT_THAT(by_id[2].batch_response().msg_ids(),
              ElementsAre("UNIQ-b1-0", "UNIQ-b1-1", "UNIQ-b1-2"));
  ASSERT_TRUE(by_id[3].has_error());
  EXPECT_EQ(by_id[3].error().response_code(), common::v1::MESSAGE_ILLEGAL);

  ASSERT_TRUE(testing::WaitForDispatch(*store_));
  broker::v1::PullMessageResponse pulled;
  ASSERT_TRUE(Call(broker->stub(), &broker::v1::Broker::Stub::PullMessage,
                   PullRequest("batched", 0, 0), &pulled)
                  .ok());
  ASSERT_EQ(pulled.messages_size(), 4);
  EXPECT_EQ(pulled.messages(0).body(), "single");
  EXPECT_EQ(pulled.messages(3).body(), "b2");
}

TEST_F(BrokerTest, SendStreamThatSendsNothingEndsCleanly) {
  auto broker = StartBroker(Options());
  std::vector<broker::v1::SendStreamResponse> responses;
  absl::Status status = SendOverStream(broker->stub(), {}, &responses);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(responses.empty());
}

// Over the fake store: failures the real store cannot be made to produce.
class BrokerWithFakeStoreTest : public ::testing::Test {
 protected:
  testing::FakeStore store_;
};

TEST_F(BrokerWithFakeStoreTest, NotServingBeforeStart) {
  LocalBroker broker(&store_, Options());
  broker::v1::HeartbeatRequest heartbeat;
  heartbeat.set_client_id("c");
  broker::v1::HeartbeatResponse response;
  absl::Status status =
      Call(broker.stub(), &broker::v1::Broker::Stub::Heartbeat, heartbeat, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(GetResponseCode(status), Optional(common::v1::SERVICE_NOT_AVAILABLE));

  std::vector<broker::v1::SendStreamResponse> responses;
  status = SendOverStream(broker.stub(), {SendRequest("orders", "x")}, &responses);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(GetResponseCode(status), Optional(common::v1::SERVICE_NOT_AVAILABLE));
  EXPECT_TRUE(responses.empty());
}

// The fake store's appends block, so stream sends run on the send queue.
TEST_F(BrokerWithFakeStoreTest, SendStreamOverABlockingStoreUsesTheSendQueue) {
  LocalBroker broker(&store_, Options());
  ASSERT_TRUE(broker.broker()->Start().ok());
  store_.SetPutStatus(store::v1::FLUSH_SLAVE_TIMEOUT);
  std::vector<broker::v1::SendMessageRequest> requests;
  for (int i = 0; i < 20; ++i) requests.push_back(SendRequest("orders", absl::StrCat("q", i)));
  std::vector<broker::v1::SendStreamResponse> responses;
  absl::Status status = SendOverStream(broker.stub(), requests, &responses);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(responses.size(), 20u);
  std::set<uint64_t> ids;
  for (const auto& response : responses) {
    ids.insert(response.request_id());
    ASSERT_TRUE(response.has_response()) << response.error().message();
    EXPECT_EQ(response.response().status(), broker::v1::FLUSH_SLAVE_TIMEOUT);
  }
  EXPECT_EQ(ids.size(), 20u);
  EXPECT_EQ(*ids.begin(), 100u);
  EXPECT_EQ(*ids.rbegin(), 119u);
}

TEST_F(BrokerWithFakeStoreTest, CancelledSendStreamDropsAnswersOfPendingSends) {
  LocalBroker broker(&store_, Options());
  ASSERT_TRUE(broker.broker()->Start().ok());
  store_.SetAppendGateOpen(false);
  grpc::ClientContext context;
  auto stream = broker.stub()->SendMessageStream(&context);
  for (int i = 0; i < 5; ++i) {
    broker::v1::SendStreamRequest request;
    request.set_request_id(i);
    *request.mutable_send() = SendRequest("orders", absl::StrCat("c", i));
    ASSERT_TRUE(stream->Write(request));
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return store_.appends_waiting_at_gate() >= 1; }));
  context.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The pending sends complete into a stream nobody reads; the broker goes on.
  store_.SetAppendGateOpen(true);
  broker::v1::SendMessageResponse sent;
  absl::Status status = Call(broker.stub(), &broker::v1::Broker::Stub::SendMessage,
                             SendRequest("orders", "after"), &sent);
  EXPECT_TRUE(status.ok()) << status;
}

// Stopping the broker ends the send streams producers keep open, so the
// server's shutdown does not wait for them: a send already read is answered
// first, then the stream ends UNAVAILABLE (the client sends again elsewhere).
TEST_F(BrokerWithFakeStoreTest, StoppingTheBrokerDrainsOpenSendStreams) {
  LocalBroker broker(&store_, Options());
  ASSERT_TRUE(broker.broker()->Start().ok());
  store_.SetAppendGateOpen(false);
  grpc::ClientContext busy_context, idle_context;
  const auto deadline = absl::ToChronoTime(absl::Now() + absl::Seconds(20));
  busy_context.set_deadline(deadline);
  idle_context.set_deadline(deadline);
  auto busy = broker.stub()->SendMessageStream(&busy_context);
  auto idle = broker.stub()->SendMessageStream(&idle_context);
  broker::v1::SendStreamRequest request;
  request.set_request_id(7);
  *request.mutable_send() = SendRequest("orders", "in flight");
  ASSERT_TRUE(busy->Write(request));
  ASSERT_TRUE(testing::WaitUntil([&] { return store_.appends_waiting_at_gate() >= 1; }));

  std::thread stopper([&] { broker.broker()->Stop(); });
  ASSERT_TRUE(testing::WaitUntil([&] {
    broker::v1::HeartbeatRequest heartbeat;
    heartbeat.set_client_id("c");
    broker::v1::HeartbeatResponse response;
    return Call(broker.stub(), &broker::v1::Broker::Stub::Heartbeat, heartbeat, &response).code() ==
           absl::StatusCode::kUnavailable;
  }));
  // The idle stream ends at once.
  broker::v1::SendStreamResponse answer;
  EXPECT_FALSE(idle->Read(&answer));
  absl::Status idle_status = FromGrpcStatus(idle->Finish(), idle_context);
  EXPECT_EQ(idle_status.code(), absl::StatusCode::kUnavailable) << idle_status;

  // The busy one answers what it read, then ends.
  store_.SetAppendGateOpen(true);
  ASSERT_TRUE(busy->Read(&answer));
  EXPECT_EQ(answer.request_id(), 7u);
  EXPECT_TRUE(answer.has_response()) << answer.error().message();
  EXPECT_FALSE(busy->Read(&answer));
  absl::Status busy_status = FromGrpcStatus(busy->Finish(), busy_context);
  EXPECT_EQ(busy_status.code(), absl::StatusCode::kUnavailable) << busy_status;
  stopper.join();
}

TEST_F(BrokerWithFakeStoreTest, ErrorsCarryTheirResponseCodes) {
  LocalBroker broker(&store_, Options());
  ASSERT_TRUE(broker.broker()->Start().ok());
  broker::v1::SendMessageResponse sent;
  broker::v1::SendMessageRequest empty = SendRequest("orders", "");
  absl::Status status = Call(broker.stub(), &broker::v1::Broker::Stub::SendMessage, empty, &sent);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(GetResponseCode(status), Optional(common::v1::MESSAGE_ILLEGAL));

  store_.SetPutStatus(store::v1::SERVICE_NOT_AVAILABLE);
  status = Call(broker.stub(), &broker::v1::Broker::Stub::SendMessage, SendRequest("orders", "x"),
                &sent);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(GetResponseCode(status), Optional(common::v1::SERVICE_NOT_AVAILABLE));

  store_.SetPutStatus(store::v1::FLUSH_SLAVE_TIMEOUT);
  status = Call(broker.stub(), &broker::v1::Broker::Stub::SendMessage, SendRequest("orders", "y"),
                &sent);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(sent.status(), broker::v1::FLUSH_SLAVE_TIMEOUT);
}

TEST_F(BrokerWithFakeStoreTest, BackedUpSendQueueAnswersSystemBusy) {
  BrokerOptions options = Options();
  options.send_queue.threads = 1;
  options.send_queue.capacity = 2;
  options.send_queue.max_queue_wait = absl::Milliseconds(100);
  LocalBroker broker(&store_, options);
  ASSERT_TRUE(broker.broker()->Start().ok());
  store_.SetAppendGateOpen(false);

  std::vector<absl::Status> results(4);
  std::vector<std::thread> senders;
  auto send = [&](int i) {
    broker::v1::SendMessageResponse sent;
    results[i] = Call(broker.stub(), &broker::v1::Broker::Stub::SendMessage,
                      SendRequest("orders", absl::StrCat("m", i)), &sent);
  };
  // The first send holds the only send thread (blocked in the store).
  senders.emplace_back(send, 0);
  ASSERT_TRUE(testing::WaitUntil([&] { return store_.appends_waiting_at_gate() == 1; }));
  absl::Time queued_at = absl::Now();
  senders.emplace_back(send, 1);
  senders.emplace_back(send, 2);
  senders[1].join();
  senders[2].join();
  // Both waited past 100 ms in the queue: busy, long before the store frees up.
  EXPECT_LT(absl::Now() - queued_at, absl::Seconds(5));
  for (int i : {1, 2}) {
    EXPECT_EQ(results[i].code(), absl::StatusCode::kResourceExhausted) << results[i];
    EXPECT_THAT(GetResponseCode(results[i]), Optional(common::v1::SYSTEM_BUSY));
    EXPECT_THAT(std::string(results[i].message()), HasSubstr("[TIMEOUT_CLEAN_QUEUE]"));
  }
  store_.SetAppendGateOpen(true);
  senders[0].join();
  EXPECT_TRUE(results[0].ok()) << results[0];
}

}  // namespace
}  // namespace mq::broker
