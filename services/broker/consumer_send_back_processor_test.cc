#include "services/broker/consumer_send_back_processor.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "services/broker/dead_letter_processor.h"
#include "testing/fake_store.h"

namespace mq::broker {
namespace {

constexpr char kBornHost[] = "10.0.0.9:5555";

TEST(RetryDelayLevelTest, GrowsWithAttemptsAndIsClamped) {
  EXPECT_EQ(RetryDelayLevel(0, 0, 18), 3);
  EXPECT_EQ(RetryDelayLevel(0, 1, 18), 4);
  EXPECT_EQ(RetryDelayLevel(0, 15, 18), 18);
  EXPECT_EQ(RetryDelayLevel(0, 40, 18), 18);
  EXPECT_EQ(RetryDelayLevel(0, 0, 2), 2);
  EXPECT_EQ(RetryDelayLevel(5, 0, 18), 5);
  EXPECT_EQ(RetryDelayLevel(25, 0, 18), 18);
}

class ConsumerSendBackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topics_ = std::make_unique<TopicConfigManager>(&store_, TopicConfigOptions());
    ASSERT_TRUE(topics_->Load().ok());
    common::v1::TopicConfig orders;
    orders.set_topic_name("orders");
    orders.set_read_queue_nums(2);
    orders.set_write_queue_nums(2);
    orders.set_perm(kPermReadWrite);
    ASSERT_TRUE(topics_->CreateOrUpdate(orders).ok());
    groups_ = std::make_unique<SubscriptionGroupManager>(&store_, SubscriptionGroupOptions());
    ASSERT_TRUE(groups_->Load().ok());
    broker::v1::SubscriptionGroupConfig group = DefaultSubscriptionGroupConfig("G");
    group.set_retry_max_times(2);
    ASSERT_TRUE(groups_->CreateOrUpdate(group).ok());
    SendOptions send_options;
    send_options.broker_name = "broker-a";
    send_options.store_host = "127.0.0.1:10911";
    send_ = std::make_unique<SendMessageProcessor>(&store_, topics_.get(), groups_.get(), &hooks_,
                                                   send_options);
    SendBackOptions options;
    options.broker_name = "broker-a";
    options.delay_level_count = 4;
    send_back_ = std::make_unique<ConsumerSendBackProcessor>(&store_, topics_.get(), groups_.get(),
                                                             send_.get(), options);
    dead_letters_ = std::make_unique<DeadLetterProcessor>(&store_, topics_.get(), send_.get());
  }

  // Sends a message to "orders" and returns its commit-log offset.
  int64_t Produce(const std::string& id) {
    broker::v1::SendMessageRequest request;
    request.set_producer_group("P");
    request.set_queue_id(1);
    common::v1::Message& message = *request.mutable_message();
    message.set_topic("orders");
    message.set_flag(7);
    message.set_body("body-" + id);
    (*message.mutable_properties())["UNIQ_KEY"] = id;
    (*message.mutable_properties())["KEYS"] = "k1";
    absl::StatusOr<broker::v1::SendMessageResponse> sent = send_->Send(request, kBornHost);
    EXPECT_TRUE(sent.ok()) << sent.status();
    return Stored(id).commit_log_offset();
  }

  // The last stored message with msgId `id` (of any topic).
  common::v1::MessageExt Stored(const std::string& id) {
    store::v1::QueryByUniqueIdRequest query;
    query.set_unique_id(id);
    common::v1::MessageExt found;
    for (const std::string topic : {"orders", "%RETRY%G", "%DLQ%G"}) {
      query.set_topic(topic);
      absl::StatusOr<store::v1::QueryMessagesResponse> response = store_.QueryByUniqueId(query);
      if (!response.ok()) continue;
      for (const common::v1::MessageExt& m : response->messages()) {
        if (m.commit_log_offset() >= found.commit_log_offset()) found = m;
      }
    }
    return found;
  }

  broker::v1::ConsumerSendBackRequest Request(int64_t offset, const std::string& id) {
    broker::v1::ConsumerSendBackRequest request;
    request.set_consumer_group("G");
    request.set_commit_log_offset(offset);
    request.set_origin_message_id(id);
    request.set_origin_topic("orders");
    request.set_max_reconsume_times(-1);
    request.set_broker_name("broker-a");
    return request;
  }

  testing::FakeStore store_;
  std::unique_ptr<TopicConfigManager> topics_;
  std::unique_ptr<SubscriptionGroupManager> groups_;
  BrokerSendHookRegistry hooks_;
  std::unique_ptr<SendMessageProcessor> send_;
  std::unique_ptr<ConsumerSendBackProcessor> send_back_;
  std::unique_ptr<DeadLetterProcessor> dead_letters_;
};

TEST_F(ConsumerSendBackTest, CopiesToRetryWithGrowingDelayThenToDlq) {
  int64_t offset = Produce("m1");
  // Attempts 1 and 2 go to the retry topic, with levels 3 and 4 (clamped to
  // the 4-level table on a third).
  for (int attempt = 1; attempt <= 2; ++attempt) {
    absl::StatusOr<broker::v1::ConsumerSendBackResponse> back =
        send_back_->SendBack(Request(offset, "m1"));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->topic(), "%RETRY%G");
    EXPECT_EQ(back->msg_id(), "m1");
    common::v1::MessageExt copy = Stored("m1");
    EXPECT_EQ(copy.topic(), "%RETRY%G");
    EXPECT_EQ(copy.reconsume_times(), attempt);
    EXPECT_EQ(copy.body(), "body-m1");
    EXPECT_EQ(copy.flag(), 7);
    EXPECT_EQ(copy.born_host(), kBornHost);
    EXPECT_EQ(copy.properties().at("RETRY_TOPIC"), "orders");
    EXPECT_EQ(copy.properties().at("ORIGIN_MESSAGE_ID"), "m1");
    EXPECT_EQ(copy.properties().at("KEYS"), "k1");
    EXPECT_EQ(copy.properties().at("DELAY"), std::to_string(2 + attempt));
    offset = copy.commit_log_offset();
  }
  ASSERT_TRUE(topics_->Find("%RETRY%G").has_value());
  EXPECT_EQ(topics_->Find("%RETRY%G")->perm(), kPermReadWrite);

  // Consumed twice again already (max 2): the third failure goes to the DLQ.
  absl::StatusOr<broker::v1::ConsumerSendBackResponse> back =
      send_back_->SendBack(Request(offset, "m1"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->topic(), "%DLQ%G");
  common::v1::MessageExt dead = Stored("m1");
  EXPECT_EQ(dead.topic(), "%DLQ%G");
  EXPECT_EQ(dead.reconsume_times(), 3);
  EXPECT_EQ(dead.properties().count("DELAY"), 0u);
  EXPECT_EQ(dead.properties().at("RETRY_TOPIC"), "orders");
  EXPECT_EQ(topics_->Find("%DLQ%G")->perm(), kDlqTopicPerm);
}

TEST_F(ConsumerSendBackTest, NegativeDelayLevelAndRequestMaxGoStraightToDlq) {
  const int64_t offset = Produce("m1");
  broker::v1::ConsumerSendBackRequest request = Request(offset, "m1");
  request.set_delay_level(-1);
  absl::StatusOr<broker::v1::ConsumerSendBackResponse> back = send_back_->SendBack(request);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->topic(), "%DLQ%G");

  const int64_t second = Produce("m2");
  request = Request(second, "m2");
  request.set_max_reconsume_times(0);
  back = send_back_->SendBack(request);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->topic(), "%DLQ%G");

  // An explicit level is kept (within the table).
  const int64_t third = Produce("m3");
  request = Request(third, "m3");
  request.set_delay_level(2);
  ASSERT_TRUE(send_back_->SendBack(request).ok());
  EXPECT_EQ(Stored("m3").properties().at("DELAY"), "2");
}

TEST_F(ConsumerSendBackTest, CopyDropsThePropertiesOfTheOriginalsDelivery) {
  broker::v1::SendMessageRequest request;
  request.set_producer_group("P");
  request.set_queue_id(0);
  common::v1::Message& message = *request.mutable_message();
  message.set_topic("orders");
  message.set_body("timed");
  (*message.mutable_properties())["UNIQ_KEY"] = "t1";
  (*message.mutable_properties())["TIMER_DELIVER_MS"] = "1700000000000";
  (*message.mutable_properties())["SCHEDULE_SOURCE"] = "900:4";
  (*message.mutable_properties())["REAL_TOPIC"] = "orders";
  ASSERT_TRUE(send_->Send(request, kBornHost).ok());
  ASSERT_TRUE(send_back_->SendBack(Request(Stored("t1").commit_log_offset(), "t1")).ok());
  common::v1::MessageExt copy = Stored("t1");
  EXPECT_EQ(copy.topic(), "%RETRY%G");
  EXPECT_EQ(copy.properties().at("DELAY"), "3");
  EXPECT_EQ(copy.properties().count("TIMER_DELIVER_MS"), 0u);
  EXPECT_EQ(copy.properties().count("SCHEDULE_SOURCE"), 0u);
  EXPECT_EQ(copy.properties().count("REAL_TOPIC"), 0u);
}

TEST_F(ConsumerSendBackTest, BadRequestsAreRefusedAndStoreNothing) {
  const int64_t offset = Produce("m1");
  const size_t appends = store_.append_batch_sizes().size();
  const int metadata_writes = store_.put_metadata_calls();

  broker::v1::ConsumerSendBackRequest bad = Request(offset + 12345, "m1");
  EXPECT_EQ(send_back_->SendBack(bad).status().code(), absl::StatusCode::kNotFound);
  bad = Request(offset, "not-m1");
  EXPECT_EQ(send_back_->SendBack(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = Request(offset, "m1");
  bad.set_consumer_group("unknown");
  absl::Status unknown = send_back_->SendBack(bad).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetResponseCode(unknown), common::v1::SUBSCRIPTION_GROUP_NOT_EXIST);
  bad = Request(offset, "m1");
  bad.set_broker_name("broker-b");
  EXPECT_EQ(send_back_->SendBack(bad).status().code(), absl::StatusCode::kFailedPrecondition);
  bad = Request(-1, "m1");
  EXPECT_EQ(send_back_->SendBack(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = Request(offset, "m1");
  bad.set_consumer_group("bad group");
  EXPECT_EQ(send_back_->SendBack(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = Request(offset, "m1");
  bad.set_max_reconsume_times(-2);
  EXPECT_EQ(send_back_->SendBack(bad).status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(store_.append_batch_sizes().size(), appends);
  EXPECT_EQ(store_.put_metadata_calls(), metadata_writes);
  EXPECT_FALSE(topics_->Find("%RETRY%G").has_value());
}

TEST_F(ConsumerSendBackTest, SlaveRefuses) {
  SendBackOptions options;
  options.broker_name = "broker-a";
  options.role = store::v1::SLAVE;
  ConsumerSendBackProcessor slave(&store_, topics_.get(), groups_.get(), send_.get(), options);
  absl::Status refused = slave.SendBack(Request(Produce("m1"), "m1")).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(GetResponseCode(refused), common::v1::SERVICE_NOT_AVAILABLE);
}

TEST_F(ConsumerSendBackTest, DeadLettersAreListedAndResentToTheirTopic) {
  for (const std::string id : {"m1", "m2"}) {
    broker::v1::ConsumerSendBackRequest request = Request(Produce(id), id);
    request.set_delay_level(-1);
    ASSERT_TRUE(send_back_->SendBack(request).ok());
  }
  broker::v1::ListDeadLettersRequest list;
  list.set_consumer_group("G");
  absl::StatusOr<broker::v1::ListDeadLettersResponse> listed = dead_letters_->List(list);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->messages_size(), 2);
  EXPECT_EQ(listed->messages(0).msg_id(), "m1");
  EXPECT_EQ(listed->next_offset(), 2);
  EXPECT_EQ(listed->max_offset(), 2);

  broker::v1::ResendDeadLettersRequest resend;
  resend.set_consumer_group("G");
  resend.set_msg_id("m2");
  absl::StatusOr<broker::v1::ResendDeadLettersResponse> resent =
      dead_letters_->Resend(resend, false);
  ASSERT_TRUE(resent.ok()) << resent.status();
  ASSERT_EQ(resent->msg_ids_size(), 1);
  EXPECT_EQ(resent->topics(0), "orders");
  common::v1::MessageExt copy = Stored("m2");
  EXPECT_EQ(copy.topic(), "orders");
  EXPECT_EQ(copy.reconsume_times(), 0);
  EXPECT_EQ(copy.properties().count("RETRY_TOPIC"), 0u);
  EXPECT_EQ(copy.properties().at("KEYS"), "k1");

  resend.clear_msg_id();
  resent = dead_letters_->Resend(resend, false);
  ASSERT_TRUE(resent.ok());
  EXPECT_EQ(resent->msg_ids_size(), 2);
}

TEST_F(ConsumerSendBackTest, BadDeadLetterRequestsChangeNothing) {
  broker::v1::ListDeadLettersRequest list;
  list.set_consumer_group("G");
  EXPECT_EQ(dead_letters_->List(list).status().code(), absl::StatusCode::kNotFound);
  broker::v1::ConsumerSendBackRequest request = Request(Produce("m1"), "m1");
  request.set_delay_level(-1);
  ASSERT_TRUE(send_back_->SendBack(request).ok());
  const size_t appends = store_.append_batch_sizes().size();

  broker::v1::ResendDeadLettersRequest resend;
  resend.set_consumer_group("G");
  resend.set_msg_id("unknown");
  EXPECT_EQ(dead_letters_->Resend(resend, false).status().code(), absl::StatusCode::kNotFound);
  resend.clear_msg_id();
  EXPECT_EQ(dead_letters_->Resend(resend, true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(topics_->Delete("orders").ok());
  EXPECT_EQ(dead_letters_->Resend(resend, false).status().code(), absl::StatusCode::kNotFound);
  list.set_max_num(5000);
  EXPECT_EQ(dead_letters_->List(list).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_.append_batch_sizes().size(), appends);
}

}  // namespace
}  // namespace mq::broker
