#include "services/broker/send_message_processor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/status.h"
#include "services/broker/broker_errors.h"
#include "services/broker/put_stats_hook.h"
#include "testing/fake_store.h"

namespace mq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr char kBornHost[] = "10.1.2.3:45678";

common::v1::TopicConfig Topic(const std::string& name, int queues, uint32_t perm = 6) {
  common::v1::TopicConfig config;
  config.set_topic_name(name);
  config.set_read_queue_nums(queues);
  config.set_write_queue_nums(queues);
  config.set_perm(perm);
  return config;
}

broker::v1::SendMessageRequest Request(const std::string& topic, int32_t queue_id = 0,
                                       const std::string& body = "hello") {
  broker::v1::SendMessageRequest request;
  request.set_producer_group("pg");
  request.set_queue_id(queue_id);
  request.set_default_topic("TBW102");
  request.set_default_topic_queue_nums(4);
  request.set_born_timestamp_ms(1700000000123);
  request.set_broker_name("broker-a");
  common::v1::Message* message = request.mutable_message();
  message->set_topic(topic);
  message->set_body(body);
  (*message->mutable_properties())["UNIQ_KEY"] = "0A010203000000000000000000000001";
  (*message->mutable_properties())["TAGS"] = "TagA";
  return request;
}

void ExpectError(const absl::Status& status, absl::StatusCode code,
                 common::v1::ResponseCode response_code) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_THAT(GetResponseCode(status), Optional(response_code)) << status;
}

class RecordingHook : public BrokerSendHook {
 public:
  std::string name() const override { return "recording"; }
  absl::Status BeforeSend(const BrokerSendContext& context) override {
    ++before;
    return refusal;
  }
  void AfterSend(const BrokerSendContext& context) override { after.push_back(context); }

  absl::Status refusal;
  int before = 0;
  std::vector<BrokerSendContext> after;
};

class SendMessageProcessorTest : public ::testing::Test {
 protected:
  SendMessageProcessorTest() { Init(store::v1::ASYNC_MASTER, true); }

  void Init(store::v1::BrokerRole role, bool auto_create) {
    TopicConfigOptions topic_options;
    topic_options.auto_create_topic_enable = auto_create;
    topics_ = std::make_unique<TopicConfigManager>(&store_, topic_options);
    topics_->SetChangeListener([this] { ++topic_changes_; });
    ASSERT_TRUE(topics_->Load().ok());
    ASSERT_TRUE(topics_->CreateOrUpdate(Topic("orders", 4)).ok());
    topic_changes_ = 0;
    SendOptions options;
    options.broker_name = "broker-a";
    options.role = role;
    options.store_host = "127.0.0.1:10911";
    options.max_message_size = 1024;
    groups_ = std::make_unique<SubscriptionGroupManager>(&store_, SubscriptionGroupOptions());
    ASSERT_TRUE(groups_->Load().ok());
    processor_ = std::make_unique<SendMessageProcessor>(&store_, topics_.get(), groups_.get(),
                                                        &hooks_, options);
  }

  store::v1::GetMessagesResponse Read(const std::string& topic, int32_t queue_id) {
    store::v1::GetMessagesRequest request;
    request.set_topic(topic);
    request.set_queue_id(queue_id);
    request.set_max_count(32);
    return *store_.GetMessages(request);
  }

  testing::FakeStore store_;
  std::unique_ptr<TopicConfigManager> topics_;
  std::unique_ptr<SubscriptionGroupManager> groups_;
  BrokerSendHookRegistry hooks_;
  std::unique_ptr<SendMessageProcessor> processor_;
  int topic_changes_ = 0;
};

TEST_F(SendMessageProcessorTest, StoresAndAnswersWithIdsAndOffsets) {
  broker::v1::SendMessageRequest request = Request("orders", 2);
  absl::StatusOr<broker::v1::SendMessageResponse> first = processor_->Send(request, kBornHost);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->status(), broker::v1::SEND_OK);
  EXPECT_EQ(first->msg_id(), request.message().properties().at("UNIQ_KEY"));
  EXPECT_EQ(first->offset_msg_id().size(), 32u);
  EXPECT_EQ(first->queue_id(), 2);
  EXPECT_EQ(first->queue_offset(), 0);
  EXPECT_EQ(first->broker_name(), "broker-a");
  absl::StatusOr<broker::v1::SendMessageResponse> second = processor_->Send(request, kBornHost);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->queue_offset(), 1);

  store::v1::GetMessagesResponse stored = Read("orders", 2);
  ASSERT_EQ(stored.messages_size(), 2);
  const common::v1::MessageExt& message = stored.messages(0);
  EXPECT_EQ(message.body(), "hello");
  EXPECT_EQ(message.born_host(), kBornHost);
  EXPECT_EQ(message.store_host(), "127.0.0.1:10911");
  EXPECT_EQ(message.born_timestamp_ms(), 1700000000123);
  EXPECT_EQ(message.properties().at("TAGS"), "TagA");
  EXPECT_EQ(message.offset_msg_id(), first->offset_msg_id());
}

TEST_F(SendMessageProcessorTest, BrokerPicksQueuesRoundRobinForMinusOne) {
  std::set<int32_t> queues;
  for (int i = 0; i < 8; ++i) {
    absl::StatusOr<broker::v1::SendMessageResponse> response =
        processor_->Send(Request("orders", -1), kBornHost);
    ASSERT_TRUE(response.ok());
    EXPECT_GE(response->queue_id(), 0);
    EXPECT_LT(response->queue_id(), 4);
    queues.insert(response->queue_id());
  }
  EXPECT_EQ(queues.size(), 4u);
}

TEST_F(SendMessageProcessorTest, WaitPropertyIsNotStored) {
  broker::v1::SendMessageRequest request = Request("orders");
  (*request.mutable_message()->mutable_properties())["WAIT"] = "false";
  ASSERT_TRUE(processor_->Send(request, kBornHost).ok());
  EXPECT_EQ(Read("orders", 0).messages(0).properties().count("WAIT"), 0u);
}

// WAIT=false (RocketMQ's waitStoreMsgOK) answers without waiting for the flush
// or the slave; without it, or with WAIT=true, the store waits.
TEST_F(SendMessageProcessorTest, WaitFalseSkipsTheStoreWait) {
  broker::v1::SendMessageRequest no_wait = Request("orders");
  (*no_wait.mutable_message()->mutable_properties())["WAIT"] = "false";
  broker::v1::SendMessageRequest explicit_wait = Request("orders");
  (*explicit_wait.mutable_message()->mutable_properties())["WAIT"] = "true";
  ASSERT_TRUE(processor_->Send(no_wait, kBornHost).ok());
  ASSERT_TRUE(processor_->Send(Request("orders"), kBornHost).ok());
  ASSERT_TRUE(processor_->Send(explicit_wait, kBornHost).ok());
  EXPECT_THAT(store_.append_waits(), ElementsAre(false, true, true));
}

TEST_F(SendMessageProcessorTest, MissingUniqueKeyFallsBackToOffsetId) {
  broker::v1::SendMessageRequest request = Request("orders");
  request.mutable_message()->mutable_properties()->erase("UNIQ_KEY");
  absl::StatusOr<broker::v1::SendMessageResponse> response = processor_->Send(request, kBornHost);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->msg_id(), response->offset_msg_id());
}

TEST_F(SendMessageProcessorTest, AutoCreatesTopicOnFirstSend) {
  absl::StatusOr<broker::v1::SendMessageResponse> response =
      processor_->Send(Request("fresh", -1), kBornHost);
  ASSERT_TRUE(response.ok()) << response.status();
  absl::optional<common::v1::TopicConfig> config = topics_->Find("fresh");
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->write_queue_nums(), 4);
  EXPECT_EQ(config->perm(), kPermReadWrite);
  EXPECT_EQ(topic_changes_, 1);
}

TEST_F(SendMessageProcessorTest, MissingTopicWithoutAutoCreateIsTopicNotExist) {
  Init(store::v1::ASYNC_MASTER, /*auto_create=*/false);
  ExpectError(processor_->Send(Request("fresh"), kBornHost).status(), absl::StatusCode::kNotFound,
              common::v1::TOPIC_NOT_EXIST);
  broker::v1::SendMessageRequest no_default = Request("fresh");
  no_default.clear_default_topic();
  ExpectError(processor_->Send(no_default, kBornHost).status(), absl::StatusCode::kNotFound,
              common::v1::TOPIC_NOT_EXIST);
}

TEST_F(SendMessageProcessorTest, RefusesBadInput) {
  auto send = [this](broker::v1::SendMessageRequest request) {
    return processor_->Send(request, kBornHost).status();
  };
  broker::v1::SendMessageRequest request = Request("orders");
  request.mutable_message()->set_body("");
  ExpectError(send(request), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);

  request = Request("orders", 0, std::string(1025, 'x'));
  ExpectError(send(request), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);
  EXPECT_TRUE(send(Request("orders", 0, std::string(1024, 'x'))).ok());

  request = Request("orders");
  (*request.mutable_message()->mutable_properties())["big"] = std::string(32767, 'p');
  ExpectError(send(request), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);

  request = Request("orders");
  (*request.mutable_message()->mutable_properties())["bad\001key"] = "v";
  ExpectError(send(request), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);

  ExpectError(send(Request("bad topic")), absl::StatusCode::kInvalidArgument,
              common::v1::MESSAGE_ILLEGAL);
  ExpectError(send(Request(std::string(128, 't'))), absl::StatusCode::kInvalidArgument,
              common::v1::MESSAGE_ILLEGAL);
  ExpectError(send(Request("")), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);

  request = Request("orders");
  request.clear_producer_group();
  ExpectError(send(request), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);

  ExpectError(send(Request("orders", 4)), absl::StatusCode::kInvalidArgument,
              common::v1::SYSTEM_ERROR);
  ExpectError(send(Request("orders", -2)), absl::StatusCode::kInvalidArgument,
              common::v1::SYSTEM_ERROR);

  request = Request("orders");
  request.set_broker_name("broker-b");
  ExpectError(send(request), absl::StatusCode::kFailedPrecondition, common::v1::SYSTEM_ERROR);

  EXPECT_THAT(store_.append_batch_sizes(), ElementsAre(1));
}

TEST_F(SendMessageProcessorTest, ReadOnlyTopicIsNoPermission) {
  ASSERT_TRUE(topics_->CreateOrUpdate(Topic("readonly", 2, common::v1::PERM_READ)).ok());
  ExpectError(processor_->Send(Request("readonly"), kBornHost).status(),
              absl::StatusCode::kPermissionDenied, common::v1::NO_PERMISSION);
}

TEST_F(SendMessageProcessorTest, SlaveTakesNoSends) {
  Init(store::v1::SLAVE, true);
  ExpectError(processor_->Send(Request("orders"), kBornHost).status(),
              absl::StatusCode::kUnavailable, common::v1::SERVICE_NOT_AVAILABLE);
  EXPECT_TRUE(store_.append_batch_sizes().empty());
}

TEST_F(SendMessageProcessorTest, StoreCallFailureIsServiceNotAvailable) {
  store_.SetCallError(absl::UnavailableError("connection refused"));
  absl::Status status = processor_->Send(Request("orders"), kBornHost).status();
  ExpectError(status, absl::StatusCode::kUnavailable, common::v1::SERVICE_NOT_AVAILABLE);
  EXPECT_THAT(std::string(status.message()), HasSubstr("connection refused"));
}

struct PutStatusCase {
  store::v1::PutStatus put;
  bool stored;
  broker::v1::SendStatus send;
  absl::StatusCode code;
  common::v1::ResponseCode response_code;
};

class PutStatusMappingTest : public SendMessageProcessorTest,
                             public ::testing::WithParamInterface<PutStatusCase> {};

TEST_P(PutStatusMappingTest, MapsLikeRocketMq) {
  const PutStatusCase& c = GetParam();
  store_.SetPutStatus(c.put);
  absl::StatusOr<broker::v1::SendMessageResponse> response =
      processor_->Send(Request("orders"), kBornHost);
  if (c.stored) {
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status(), c.send);
  } else {
    ExpectError(response.status(), c.code, c.response_code);
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllPutStatuses, PutStatusMappingTest,
    ::testing::Values(
        PutStatusCase{store::v1::PUT_OK, true, broker::v1::SEND_OK, absl::StatusCode::kOk,
                      common::v1::SUCCESS},
        PutStatusCase{store::v1::FLUSH_DISK_TIMEOUT, true, broker::v1::FLUSH_DISK_TIMEOUT,
                      absl::StatusCode::kOk, common::v1::SUCCESS},
        PutStatusCase{store::v1::FLUSH_SLAVE_TIMEOUT, true, broker::v1::FLUSH_SLAVE_TIMEOUT,
                      absl::StatusCode::kOk, common::v1::SUCCESS},
        PutStatusCase{store::v1::SLAVE_NOT_AVAILABLE, true, broker::v1::SLAVE_NOT_AVAILABLE,
                      absl::StatusCode::kOk, common::v1::SUCCESS},
        PutStatusCase{store::v1::SERVICE_NOT_AVAILABLE,
                      false,
                      {},
                      absl::StatusCode::kUnavailable,
                      common::v1::SERVICE_NOT_AVAILABLE},
        // No commit-log file (a full disk): documented as UNAVAILABLE.
        PutStatusCase{store::v1::CREATE_MAPPED_FILE_FAILED,
                      false,
                      {},
                      absl::StatusCode::kUnavailable,
                      common::v1::SERVICE_NOT_AVAILABLE},
        PutStatusCase{store::v1::MESSAGE_ILLEGAL,
                      false,
                      {},
                      absl::StatusCode::kInvalidArgument,
                      common::v1::MESSAGE_ILLEGAL},
        PutStatusCase{store::v1::PROPERTIES_SIZE_EXCEEDED,
                      false,
                      {},
                      absl::StatusCode::kInvalidArgument,
                      common::v1::MESSAGE_ILLEGAL},
        PutStatusCase{store::v1::OS_PAGECACHE_BUSY,
                      false,
                      {},
                      absl::StatusCode::kResourceExhausted,
                      common::v1::SYSTEM_BUSY},
        PutStatusCase{store::v1::UNKNOWN_ERROR,
                      false,
                      {},
                      absl::StatusCode::kInternal,
                      common::v1::SYSTEM_ERROR}));

TEST_F(SendMessageProcessorTest, HooksSeeEverySendAndMayRefuse) {
  auto hook = std::make_shared<RecordingHook>();
  BrokerStats stats;
  hooks_.Register(hook);
  hooks_.Register(std::make_shared<PutStatsHook>(&stats));
  ASSERT_TRUE(processor_->Send(Request("orders", 1), kBornHost).ok());
  ASSERT_EQ(hook->after.size(), 1u);
  EXPECT_EQ(hook->after[0].topic, "orders");
  EXPECT_EQ(hook->after[0].queue_id, 1);
  EXPECT_EQ(hook->after[0].born_host, kBornHost);
  EXPECT_TRUE(hook->after[0].status.ok());
  EXPECT_EQ(stats.total_puts(), 1);

  store_.SetPutStatus(store::v1::SERVICE_NOT_AVAILABLE);
  EXPECT_FALSE(processor_->Send(Request("orders"), kBornHost).ok());
  ASSERT_EQ(hook->after.size(), 2u);
  EXPECT_EQ(hook->after[1].status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(stats.total_puts(), 1);

  store_.SetPutStatus(store::v1::PUT_OK);
  hook->refusal = NoPermission("vetoed");
  EXPECT_EQ(processor_->Send(Request("orders"), kBornHost).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(hook->before, 3);
  EXPECT_EQ(hook->after.size(), 2u);
  EXPECT_EQ(store_.append_batch_sizes().size(), 2u);
}

broker::v1::SendBatchRequest Batch(const std::string& topic, int count, int32_t queue_id = -1) {
  broker::v1::SendBatchRequest request;
  request.set_producer_group("pg");
  request.set_topic(topic);
  request.set_queue_id(queue_id);
  request.set_default_topic("TBW102");
  request.set_default_topic_queue_nums(4);
  for (int i = 0; i < count; ++i) {
    common::v1::Message* message = request.add_messages();
    message->set_topic(topic);
    message->set_body("m" + std::to_string(i));
    (*message->mutable_properties())["UNIQ_KEY"] = "ID" + std::to_string(i);
  }
  return request;
}

TEST_F(SendMessageProcessorTest, BatchGoesToOneQueueWithConsecutiveOffsets) {
  ASSERT_TRUE(processor_->Send(Request("orders", 3), kBornHost).ok());
  absl::StatusOr<broker::v1::SendBatchResponse> response =
      processor_->SendBatch(Batch("orders", 3, 3), kBornHost);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status(), broker::v1::SEND_OK);
  EXPECT_THAT(response->msg_ids(), ElementsAre("ID0", "ID1", "ID2"));
  EXPECT_EQ(response->offset_msg_ids_size(), 3);
  EXPECT_EQ(response->queue_id(), 3);
  EXPECT_EQ(response->queue_offset(), 1);
  EXPECT_THAT(store_.append_batch_sizes(), ElementsAre(1, 3));
  store::v1::GetMessagesResponse stored = Read("orders", 3);
  ASSERT_EQ(stored.messages_size(), 4);
  EXPECT_EQ(stored.messages(3).body(), "m2");
  EXPECT_EQ(stored.messages(3).queue_offset(), 3);
}

// A coalesced frame's single sends (issue 33): one store append for all the
// valid ones, whatever their topics and queues; each answered alone, a bad
// one refused alone.
TEST_F(SendMessageProcessorTest, SendEachStoresWithOneAppendAndAnswersEachAlone) {
  std::vector<broker::v1::SendMessageRequest> requests;
  requests.push_back(Request("orders", 0, "first"));
  requests.push_back(Request("orders", 1, ""));  // empty body: refused
  requests.push_back(Request("orders", 1, "second"));
  requests.push_back(Request("orders", 99, "bad queue"));  // outside the write queues
  requests.push_back(Request("fresh", 0, "third"));        // auto-created topic
  requests.push_back(Request("orders", 0, "fourth"));      // after "first", in frame order
  (*requests[2].mutable_message()->mutable_properties())["UNIQ_KEY"] = "SECOND";
  std::vector<absl::StatusOr<broker::v1::SendMessageResponse>> answers;
  absl::Notification done;
  processor_->SendEachAsync(
      std::move(requests), kBornHost,
      [&](std::vector<absl::StatusOr<broker::v1::SendMessageResponse>> results) {
        answers = std::move(results);
        done.Notify();
      });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_EQ(answers.size(), 6u);
  ASSERT_TRUE(answers[0].ok()) << answers[0].status();
  EXPECT_EQ(answers[0]->queue_id(), 0);
  EXPECT_EQ(answers[0]->status(), broker::v1::SEND_OK);
  ExpectError(answers[1].status(), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);
  ASSERT_TRUE(answers[2].ok()) << answers[2].status();
  EXPECT_EQ(answers[2]->msg_id(), "SECOND");
  EXPECT_EQ(answers[2]->queue_id(), 1);
  EXPECT_EQ(answers[2]->queue_offset(), 0);
  ExpectError(answers[3].status(), absl::StatusCode::kInvalidArgument, common::v1::SYSTEM_ERROR);
  ASSERT_TRUE(answers[4].ok()) << answers[4].status();
  EXPECT_EQ(answers[4]->queue_id(), 0);
  ASSERT_TRUE(answers[5].ok()) << answers[5].status();
  EXPECT_EQ(answers[0]->queue_offset(), 0);
  EXPECT_EQ(answers[5]->queue_offset(), 1);
  // One append of the four valid messages.
  EXPECT_THAT(store_.append_batch_sizes(), ElementsAre(4));
  EXPECT_EQ(Read("orders", 0).messages(0).body(), "first");
  EXPECT_EQ(Read("orders", 0).messages(1).body(), "fourth");
  EXPECT_EQ(Read("orders", 1).messages(0).body(), "second");
  EXPECT_EQ(Read("fresh", 0).messages(0).body(), "third");
}

// A store that fails the call fails every send of the append, each with the
// error a single send gets.
TEST_F(SendMessageProcessorTest, SendEachReportsAStoreFailureToEverySend) {
  store_.SetCallError(absl::UnavailableError("connection refused"));
  std::vector<broker::v1::SendMessageRequest> requests;
  requests.push_back(Request("orders", 0));
  requests.push_back(Request("orders", 1));
  std::vector<absl::StatusOr<broker::v1::SendMessageResponse>> answers;
  processor_->SendEachAsync(
      std::move(requests), kBornHost,
      [&](std::vector<absl::StatusOr<broker::v1::SendMessageResponse>> results) {
        answers = std::move(results);
      });
  ASSERT_EQ(answers.size(), 2u);
  for (const auto& answer : answers) {
    ExpectError(answer.status(), absl::StatusCode::kUnavailable, common::v1::SERVICE_NOT_AVAILABLE);
  }
}

TEST_F(SendMessageProcessorTest, BadBatchesAreRefusedWhole) {
  auto send = [this](const broker::v1::SendBatchRequest& request) {
    return processor_->SendBatch(request, kBornHost).status();
  };
  broker::v1::SendBatchRequest mixed = Batch("orders", 3);
  mixed.mutable_messages(1)->set_topic("audit");
  ExpectError(send(mixed), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);

  ExpectError(send(Batch("orders", 0)), absl::StatusCode::kInvalidArgument,
              common::v1::MESSAGE_ILLEGAL);

  broker::v1::SendBatchRequest empty_body = Batch("orders", 3);
  empty_body.mutable_messages(2)->clear_body();
  ExpectError(send(empty_body), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);

  broker::v1::SendBatchRequest too_big = Batch("orders", 3);
  for (auto& message : *too_big.mutable_messages()) message.set_body(std::string(400, 'x'));
  ExpectError(send(too_big), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);

  ExpectError(send(Batch("orders", 2, 9)), absl::StatusCode::kInvalidArgument,
              common::v1::SYSTEM_ERROR);

  // Delayed delivery: as RocketMQ, a batch carries no delayed message.
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"DELAY", "2"}, {"TIMER_DELIVER_MS", "1"}, {"__STARTDELIVERTIME", "1"}}) {
    broker::v1::SendBatchRequest delayed = Batch("orders", 3);
    (*delayed.mutable_messages(1)->mutable_properties())[key] = value;
    ExpectError(send(delayed), absl::StatusCode::kInvalidArgument, common::v1::MESSAGE_ILLEGAL);
  }
  broker::v1::SendBatchRequest level_zero = Batch("orders", 3);
  (*level_zero.mutable_messages(1)->mutable_properties())["DELAY"] = "0";
  EXPECT_TRUE(send(level_zero).ok());
  EXPECT_THAT(store_.append_batch_sizes(), ElementsAre(3));
}

// A store whose appends land at once but are answered only on Release(), from
// another thread: the flush thread of a SYNC_FLUSH store.
class DeferringStore : public testing::FakeStore {
 public:
  void AppendBatchAsync(store::v1::AppendBatchRequest request, AppendCallback done) override {
    absl::StatusOr<store::v1::AppendBatchResponse> response = AppendBatch(request);
    absl::MutexLock lock(&mu_);
    pending_.emplace_back(std::move(response), std::move(done));
  }
  bool AppendsAreAsync() const override { return true; }

  void Release() {
    std::vector<std::pair<absl::StatusOr<store::v1::AppendBatchResponse>, AppendCallback>> pending;
    {
      absl::MutexLock lock(&mu_);
      pending.swap(pending_);
    }
    std::thread flusher([&] {
      for (auto& [response, done] : pending) done(std::move(response));
    });
    flusher.join();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<absl::StatusOr<store::v1::AppendBatchResponse>, AppendCallback>> pending_
      ABSL_GUARDED_BY(mu_);
};

TEST(SendMessageProcessorAsyncTest, AnswersWhenTheStoreDoes) {
  DeferringStore store;
  TopicConfigManager topics(&store, TopicConfigOptions());
  ASSERT_TRUE(topics.Load().ok());
  ASSERT_TRUE(topics.CreateOrUpdate(Topic("orders", 4)).ok());
  BrokerSendHookRegistry hooks;
  auto hook = std::make_shared<RecordingHook>();
  hooks.Register(hook);
  SendOptions options;
  options.broker_name = "broker-a";
  options.store_host = "127.0.0.1:10911";
  SubscriptionGroupManager groups(&store, SubscriptionGroupOptions());
  SendMessageProcessor processor(&store, &topics, &groups, &hooks, options);

  const broker::v1::SendMessageRequest single = Request("orders", 1);
  const broker::v1::SendBatchRequest batch = Batch("orders", 3, 2);
  absl::StatusOr<broker::v1::SendMessageResponse> single_answer =
      absl::UnknownError("not answered");
  absl::StatusOr<broker::v1::SendBatchResponse> batch_answer = absl::UnknownError("not answered");
  processor.SendAsync(single, kBornHost, [&](absl::StatusOr<broker::v1::SendMessageResponse> r) {
    single_answer = std::move(r);
  });
  processor.SendBatchAsync(batch, kBornHost, [&](absl::StatusOr<broker::v1::SendBatchResponse> r) {
    batch_answer = std::move(r);
  });
  // Stored, but not answered (and the after-send hooks not run) until the store answers.
  EXPECT_EQ(single_answer.status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(batch_answer.status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(hook->before, 2);
  EXPECT_TRUE(hook->after.empty());

  store.Release();
  ASSERT_TRUE(single_answer.ok()) << single_answer.status();
  EXPECT_EQ(single_answer->status(), broker::v1::SEND_OK);
  EXPECT_EQ(single_answer->queue_id(), 1);
  EXPECT_EQ(single_answer->queue_offset(), 0);
  EXPECT_EQ(single_answer->msg_id(), single.message().properties().at("UNIQ_KEY"));
  ASSERT_TRUE(batch_answer.ok()) << batch_answer.status();
  EXPECT_EQ(batch_answer->status(), broker::v1::SEND_OK);
  EXPECT_EQ(batch_answer->queue_id(), 2);
  EXPECT_EQ(batch_answer->msg_ids_size(), 3);
  EXPECT_EQ(hook->after.size(), 2u);
}

// handleRetryAndDLQ: a send to %RETRY%<group> whose reconsume times reached
// the max goes to %DLQ%<group>, without its delay.
TEST_F(SendMessageProcessorTest, RetryTopicSendPastMaxGoesToDlq) {
  broker::v1::SubscriptionGroupConfig group = DefaultSubscriptionGroupConfig("G");
  group.set_retry_max_times(2);
  group.set_retry_queue_nums(2);
  ASSERT_TRUE(groups_->CreateOrUpdate(group).ok());

  broker::v1::SendMessageRequest retry = Request("%RETRY%G", -1);
  (*retry.mutable_message()->mutable_properties())["DELAY"] = "3";
  retry.set_reconsume_times(1);
  absl::StatusOr<broker::v1::SendMessageResponse> stored = processor_->Send(retry, kBornHost);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(topics_->Find("%RETRY%G").has_value());
  EXPECT_EQ(topics_->Find("%RETRY%G")->write_queue_nums(), 2);
  EXPECT_FALSE(topics_->Find("%DLQ%G").has_value());

  retry.set_reconsume_times(2);
  stored = processor_->Send(retry, kBornHost);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(topics_->Find("%DLQ%G").has_value());
  EXPECT_EQ(topics_->Find("%DLQ%G")->perm(), kDlqTopicPerm);
  store::v1::GetMessagesResponse dlq = Read("%DLQ%G", 0);
  ASSERT_EQ(dlq.messages_size(), 1);
  EXPECT_EQ(dlq.messages(0).properties().count("DELAY"), 0u);
  EXPECT_EQ(dlq.messages(0).reconsume_times(), 2);

  // The message's own max wins over the group's.
  (*retry.mutable_message()->mutable_properties())["MAX_RECONSUME_TIMES"] = "5";
  retry.set_reconsume_times(4);
  ASSERT_TRUE(processor_->Send(retry, kBornHost).ok());
  EXPECT_EQ(Read("%DLQ%G", 0).messages_size(), 1);
}

TEST_F(SendMessageProcessorTest, RetryTopicOfUnknownGroupIsRefused) {
  absl::StatusOr<broker::v1::SendMessageResponse> stored =
      processor_->Send(Request("%RETRY%nobody", -1), kBornHost);
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetResponseCode(stored.status()), common::v1::SUBSCRIPTION_GROUP_NOT_EXIST);
  EXPECT_FALSE(topics_->Find("%RETRY%nobody").has_value());
  EXPECT_TRUE(store_.append_batch_sizes().empty());
}

}  // namespace
}  // namespace mq::broker
