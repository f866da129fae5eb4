#include "services/proxy/v5_translation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/src/compression.h"
#include "common/format/property_keys.h"
#include "common/status.h"

namespace mq::proxy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

common::v1::TopicRouteData TwoBrokerRoute() {
  common::v1::TopicRouteData route;
  common::v1::QueueData* a = route.add_queue_datas();
  a->set_broker_name("broker-b");
  a->set_read_queue_nums(2);
  a->set_write_queue_nums(3);
  a->set_perm(6);
  common::v1::QueueData* b = route.add_queue_datas();
  b->set_broker_name("broker-a");
  b->set_read_queue_nums(2);
  b->set_write_queue_nums(2);
  b->set_perm(4);  // read only
  (*b->mutable_attributes())["message.type"] = "FIFO";
  for (const char* name : {"broker-a", "broker-b"}) {
    common::v1::BrokerData* broker = route.add_broker_datas();
    broker->set_broker_name(name);
    (*broker->mutable_broker_addrs())[0] = std::string(name) + ":10911";
    (*broker->mutable_broker_addrs())[1] = std::string(name) + "-slave:10911";
  }
  return route;
}

v2::Endpoints AccessPoint() {
  v2::Endpoints endpoints;
  endpoints.set_scheme(v2::AddressScheme::IPv4);
  v2::Address* first = endpoints.add_addresses();
  first->set_host("10.0.0.1");
  first->set_port(8081);
  v2::Address* second = endpoints.add_addresses();
  second->set_host("10.0.0.2");
  second->set_port(8081);
  return endpoints;
}

v2::Message NormalMessage() {
  v2::Message message;
  message.mutable_topic()->set_name("TopicA");
  message.set_body("hello");
  message.mutable_system_properties()->set_message_id("0102FC0000000130390B14FB0800000000");
  message.mutable_system_properties()->set_message_type(v2::MessageType::NORMAL);
  return message;
}

TEST(RouteToMessageQueuesTest, QueuesPerBrokerWithQueueZeroAndOneEndpoint) {
  v2::Resource topic;
  topic.set_name("TopicA");
  std::vector<v2::MessageQueue> queues =
      RouteToMessageQueues(topic, TwoBrokerRoute(), AccessPoint());
  ASSERT_EQ(queues.size(), 5u);  // broker-a: 2, broker-b: 3 (max of read, write)
  // Broker groups in name order; ids from 0; master id; one address.
  EXPECT_EQ(queues[0].broker().name(), "broker-a");
  EXPECT_EQ(queues[0].id(), 0);
  EXPECT_EQ(queues[0].permission(), v2::Permission::READ);
  EXPECT_EQ(queues[2].broker().name(), "broker-b");
  EXPECT_EQ(queues[2].id(), 0);
  EXPECT_EQ(queues[2].permission(), v2::Permission::READ_WRITE);
  EXPECT_EQ(queues[4].id(), 2);
  EXPECT_EQ(queues[4].permission(), v2::Permission::WRITE);  // write queue 2 is not readable
  for (const v2::MessageQueue& queue : queues) {
    EXPECT_EQ(queue.broker().id(), 0);
    EXPECT_EQ(queue.topic().name(), "TopicA");
    ASSERT_EQ(queue.broker().endpoints().addresses_size(), 1);
    EXPECT_EQ(queue.broker().endpoints().addresses(0).host(), "10.0.0.1");
    EXPECT_EQ(queue.broker().endpoints().addresses(0).port(), 8081);
    EXPECT_EQ(queue.broker().endpoints().scheme(), v2::AddressScheme::IPv4);
    EXPECT_NE(queue.permission(), v2::Permission::PERMISSION_UNSPECIFIED);
    for (int type : queue.accept_message_types()) {
      EXPECT_NE(type, v2::MessageType::MESSAGE_TYPE_UNSPECIFIED);
    }
  }
  EXPECT_THAT(queues[0].accept_message_types(), ElementsAre(v2::MessageType::FIFO));
  EXPECT_THAT(queues[2].accept_message_types(),
              ElementsAre(v2::MessageType::NORMAL, v2::MessageType::FIFO, v2::MessageType::DELAY,
                          v2::MessageType::TRANSACTION));
}

TEST(RouteToMessageQueuesTest, BrokerWithoutMasterIsLeftOut) {
  common::v1::TopicRouteData route = TwoBrokerRoute();
  route.mutable_broker_datas(0)->mutable_broker_addrs()->erase(0);  // broker-a
  v2::Resource topic;
  topic.set_name("TopicA");
  std::vector<v2::MessageQueue> queues = RouteToMessageQueues(topic, route, AccessPoint());
  ASSERT_EQ(queues.size(), 3u);
  for (const v2::MessageQueue& queue : queues) EXPECT_EQ(queue.broker().name(), "broker-b");
}

TEST(WritableQueuesTest, OnlyWritableQueuesOfMasters) {
  std::vector<WritableQueue> queues = WritableQueues(TwoBrokerRoute());
  ASSERT_EQ(queues.size(), 3u);  // broker-a is read-only
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(queues[i].broker_name, "broker-b");
    EXPECT_EQ(queues[i].broker_address, "broker-b:10911");
    EXPECT_EQ(queues[i].queue_id, i);
  }
}

TEST(QueueForMessageGroupTest, StableAndSpread) {
  EXPECT_EQ(QueueForMessageGroup("order-42", 8), QueueForMessageGroup("order-42", 8));
  std::set<size_t> used;
  for (int i = 0; i < 64; ++i) used.insert(QueueForMessageGroup("g" + std::to_string(i), 8));
  EXPECT_GT(used.size(), 4u);
  EXPECT_EQ(QueueForMessageGroup("x", 0), 0u);
}

TEST(AcceptedMessageTypesTest, AttributeOrEveryType) {
  google::protobuf::Map<std::string, std::string> attributes;
  EXPECT_EQ(AcceptedMessageTypes(attributes).size(), 4u);
  attributes["message.type"] = "transaction";
  EXPECT_THAT(AcceptedMessageTypes(attributes), ElementsAre(v2::MessageType::TRANSACTION));
  attributes["message.type"] = "MIXED";
  EXPECT_EQ(AcceptedMessageTypes(attributes).size(), 4u);
}

TEST(SettingsReplyTest, ProducerGetsBackoffAndMaxBodySize) {
  v2::Settings settings;
  settings.set_client_type(v2::ClientType::PRODUCER);
  settings.mutable_publishing()->add_topics()->set_name("TopicA");
  settings.mutable_user_agent()->set_version("1.0.8");
  v2::TelemetryCommand reply = SettingsReply(settings, {65536, absl::Seconds(20)});
  ASSERT_TRUE(reply.has_status());
  EXPECT_EQ(reply.status().code(), v2::Code::OK);
  ASSERT_TRUE(reply.has_settings());
  const v2::Settings& out = reply.settings();
  ASSERT_TRUE(out.has_backoff_policy());
  EXPECT_GT(out.backoff_policy().max_attempts(), 0);
  ASSERT_TRUE(out.backoff_policy().has_exponential_backoff());
  const v2::ExponentialBackoff& backoff = out.backoff_policy().exponential_backoff();
  EXPECT_EQ(backoff.initial().nanos(), 0);  // whole seconds
  EXPECT_GT(backoff.initial().seconds(), 0);
  EXPECT_GE(backoff.max().seconds(), backoff.initial().seconds());
  EXPECT_GT(backoff.multiplier(), 1);
  EXPECT_EQ(out.publishing().max_body_size(), 65536);
  EXPECT_TRUE(out.publishing().validate_message_type());
  // The client's own fields are echoed.
  ASSERT_EQ(out.publishing().topics_size(), 1);
  EXPECT_EQ(out.publishing().topics(0).name(), "TopicA");
  EXPECT_EQ(out.user_agent().version(), "1.0.8");
}

TEST(SettingsReplyTest, ProducerMaxAttemptsKept) {
  v2::Settings settings;
  settings.set_client_type(v2::ClientType::PRODUCER);
  settings.mutable_backoff_policy()->set_max_attempts(7);
  EXPECT_EQ(SettingsReply(settings, {}).settings().backoff_policy().max_attempts(), 7);
  settings.clear_backoff_policy();
  EXPECT_EQ(SettingsReply(settings, {}).settings().backoff_policy().max_attempts(), 3);
}

v2::Settings ConsumerSettings(v2::ClientType type) {
  v2::Settings settings;
  settings.set_client_type(type);
  settings.mutable_backoff_policy()->set_max_attempts(7);
  settings.mutable_backoff_policy()->mutable_customized_backoff()->add_next()->set_seconds(5);
  v2::Subscription* subscription = settings.mutable_subscription();
  subscription->mutable_group()->set_name("G");
  subscription->mutable_long_polling_timeout()->set_seconds(30);
  v2::SubscriptionEntry* entry = subscription->add_subscriptions();
  entry->mutable_topic()->set_name("TopicA");
  entry->mutable_expression()->set_expression("TagA");
  return settings;
}

TEST(SettingsReplyTest, ConsumerGetsItsGroupsAttemptsAndOrder) {
  broker::v1::SubscriptionGroupConfig group;
  group.set_group_name("G");
  group.set_retry_max_times(2);
  group.set_consume_message_orderly(true);
  ServerSettings server{100, absl::Milliseconds(1500)};
  for (v2::ClientType type : {v2::ClientType::PUSH_CONSUMER, v2::ClientType::SIMPLE_CONSUMER}) {
    v2::TelemetryCommand reply = SettingsReply(ConsumerSettings(type), server, &group);
    EXPECT_EQ(reply.status().code(), v2::Code::OK);
    const v2::Settings& out = reply.settings();
    // retry_max_times retries after the first delivery.
    EXPECT_EQ(out.backoff_policy().max_attempts(), 3);
    // Exponential in whole seconds, never the client's customized one.
    ASSERT_TRUE(out.backoff_policy().has_exponential_backoff());
    EXPECT_FALSE(out.backoff_policy().has_customized_backoff());
    const v2::ExponentialBackoff& backoff = out.backoff_policy().exponential_backoff();
    EXPECT_GT(backoff.initial().seconds(), 0);
    EXPECT_EQ(backoff.initial().nanos(), 0);
    EXPECT_EQ(backoff.max().nanos(), 0);
    EXPECT_TRUE(out.subscription().fifo());
    EXPECT_EQ(out.subscription().receive_batch_size(), kMaxReceiveBatchSize);
    EXPECT_EQ(out.subscription().long_polling_timeout().seconds(), 1);
    EXPECT_EQ(out.subscription().long_polling_timeout().nanos(), 500000000);
    EXPECT_FALSE(out.has_publishing());
    // The client's subscription is echoed.
    ASSERT_EQ(out.subscription().subscriptions_size(), 1);
    EXPECT_EQ(out.subscription().subscriptions(0).expression().expression(), "TagA");
    EXPECT_EQ(out.subscription().group().name(), "G");
  }
}

TEST(SettingsReplyTest, UnknownGroupGetsTheBrokersDefaults) {
  v2::TelemetryCommand reply = SettingsReply(ConsumerSettings(v2::ClientType::PUSH_CONSUMER), {});
  EXPECT_EQ(reply.settings().backoff_policy().max_attempts(), 17);  // retry_max_times 16
  EXPECT_FALSE(reply.settings().subscription().fifo());
  EXPECT_GT(reply.settings().subscription().receive_batch_size(), 0);
}

TEST(TranslateSendTest, NormalMessageBecomesOurProperties) {
  v2::Message message = NormalMessage();
  message.mutable_system_properties()->set_tag("TagA");
  message.mutable_system_properties()->add_keys("k1");
  message.mutable_system_properties()->add_keys("k2");
  (*message.mutable_user_properties())["color"] = "blue";
  message.mutable_system_properties()->mutable_born_timestamp()->set_seconds(1700000000);
  TranslatedSend send = TranslateSend(message, {1024});
  ASSERT_EQ(send.code, v2::Code::OK) << send.error;
  EXPECT_EQ(send.type, v2::MessageType::NORMAL);
  const auto& properties = send.request.message().properties();
  EXPECT_EQ(send.request.message().topic(), "TopicA");
  EXPECT_EQ(send.request.message().body(), "hello");
  EXPECT_EQ(send.request.queue_id(), -1);
  EXPECT_EQ(send.request.born_timestamp_ms(), 1700000000000);
  EXPECT_EQ(properties.at("UNIQ_KEY"), "0102FC0000000130390B14FB0800000000");
  EXPECT_EQ(properties.at("TAGS"), "TagA");
  EXPECT_EQ(properties.at("KEYS"), "k1 k2");
  EXPECT_EQ(properties.at("color"), "blue");
  EXPECT_EQ(properties.count("TRAN_MSG"), 0u);
}

TEST(TranslateSendTest, FifoDelayAndTransaction) {
  v2::Message fifo = NormalMessage();
  fifo.mutable_system_properties()->set_message_type(v2::MessageType::FIFO);
  fifo.mutable_system_properties()->set_message_group("order-1");
  TranslatedSend send = TranslateSend(fifo, {1024});
  ASSERT_EQ(send.code, v2::Code::OK) << send.error;
  EXPECT_EQ(send.request.message().properties().at("__SHARDINGKEY"), "order-1");

  v2::Message delay = NormalMessage();
  delay.mutable_system_properties()->set_message_type(v2::MessageType::DELAY);
  delay.mutable_system_properties()->mutable_delivery_timestamp()->set_seconds(1800000000);
  delay.mutable_system_properties()->mutable_delivery_timestamp()->set_nanos(5000000);
  send = TranslateSend(delay, {1024});
  ASSERT_EQ(send.code, v2::Code::OK) << send.error;
  EXPECT_EQ(send.request.message().properties().at("TIMER_DELIVER_MS"), "1800000000005");

  v2::Message tx = NormalMessage();
  tx.mutable_system_properties()->set_message_type(v2::MessageType::TRANSACTION);
  send = TranslateSend(tx, {1024});
  ASSERT_EQ(send.code, v2::Code::OK) << send.error;
  EXPECT_EQ(send.request.message().properties().at("TRAN_MSG"), "true");
  EXPECT_EQ(send.request.message().properties().at("PGROUP"), "TopicA");
  EXPECT_EQ(send.request.producer_group(), "TopicA");
}

TEST(TranslateSendTest, BadInputGetsItsCode) {
  struct Case {
    std::string name;
    std::function<void(v2::Message*)> mutate;
    v2::Code code;
  };
  std::vector<Case> cases = {
      {"empty body", [](v2::Message* m) { m->clear_body(); }, v2::Code::MESSAGE_BODY_EMPTY},
      {"body too large", [](v2::Message* m) { m->set_body(std::string(1025, 'x')); },
       v2::Code::MESSAGE_BODY_TOO_LARGE},
      {"bad topic", [](v2::Message* m) { m->mutable_topic()->set_name("a b"); },
       v2::Code::ILLEGAL_TOPIC},
      {"no message id", [](v2::Message* m) { m->mutable_system_properties()->clear_message_id(); },
       v2::Code::ILLEGAL_MESSAGE_ID},
      {"tag with |", [](v2::Message* m) { m->mutable_system_properties()->set_tag("a||b"); },
       v2::Code::ILLEGAL_MESSAGE_TAG},
      {"key with space", [](v2::Message* m) { m->mutable_system_properties()->add_keys("a b"); },
       v2::Code::ILLEGAL_MESSAGE_KEY},
      {"reserved property", [](v2::Message* m) { (*m->mutable_user_properties())["DELAY"] = "3"; },
       v2::Code::ILLEGAL_MESSAGE_PROPERTY_KEY},
      {"FIFO without group",
       [](v2::Message* m) {
         m->mutable_system_properties()->set_message_type(v2::MessageType::FIFO);
       },
       v2::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE},
      {"NORMAL with group",
       [](v2::Message* m) { m->mutable_system_properties()->set_message_group("g"); },
       v2::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE},
      {"DELAY without time",
       [](v2::Message* m) {
         m->mutable_system_properties()->set_message_type(v2::MessageType::DELAY);
       },
       v2::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE},
      {"bad group",
       [](v2::Message* m) {
         m->mutable_system_properties()->set_message_type(v2::MessageType::FIFO);
         m->mutable_system_properties()->set_message_group("has space");
       },
       v2::Code::ILLEGAL_MESSAGE_GROUP},
      {"bad delivery time",
       [](v2::Message* m) {
         m->mutable_system_properties()->set_message_type(v2::MessageType::DELAY);
         m->mutable_system_properties()->mutable_delivery_timestamp()->set_nanos(-1);
       },
       v2::Code::ILLEGAL_DELIVERY_TIME},
      {"LITE",
       [](v2::Message* m) {
         m->mutable_system_properties()->set_message_type(v2::MessageType::LITE);
       },
       v2::Code::BAD_REQUEST},
  };
  for (const Case& c : cases) {
    v2::Message message = NormalMessage();
    c.mutate(&message);
    TranslatedSend send = TranslateSend(message, {1024});
    EXPECT_EQ(send.code, c.code) << c.name << ": " << send.error;
    EXPECT_FALSE(send.error.empty()) << c.name;
  }
}

TEST(TranslateSendTest, TypeDerivedWhenUnspecified) {
  v2::Message message = NormalMessage();
  message.mutable_system_properties()->clear_message_type();
  message.mutable_system_properties()->set_message_group("g");
  EXPECT_EQ(MessageTypeOf(message), v2::MessageType::FIFO);
  message.mutable_system_properties()->clear_message_group();
  message.mutable_system_properties()->mutable_delivery_timestamp()->set_seconds(1);
  EXPECT_EQ(MessageTypeOf(message), v2::MessageType::DELAY);
}

TEST(ToV5StatusTest, ResponseCodesMap) {
  EXPECT_EQ(ToV5Status(absl::OkStatus()).code(), v2::Code::OK);
  EXPECT_EQ(
      ToV5Status(WithResponseCode(absl::ResourceExhaustedError("busy"), common::v1::SYSTEM_BUSY))
          .code(),
      v2::Code::TOO_MANY_REQUESTS);
  EXPECT_EQ(
      ToV5Status(WithResponseCode(absl::NotFoundError("no topic"), common::v1::TOPIC_NOT_EXIST))
          .code(),
      v2::Code::TOPIC_NOT_FOUND);
  EXPECT_EQ(
      ToV5Status(WithResponseCode(absl::InvalidArgumentError("bad"), common::v1::MESSAGE_ILLEGAL))
          .code(),
      v2::Code::BAD_REQUEST);
  EXPECT_EQ(
      ToV5Status(WithResponseCode(absl::PermissionDeniedError("no"), common::v1::NO_PERMISSION))
          .code(),
      v2::Code::FORBIDDEN);
  EXPECT_EQ(
      ToV5Status(WithResponseCode(absl::NotFoundError("stale"), common::v1::INVALID_RECEIPT_HANDLE))
          .code(),
      v2::Code::INVALID_RECEIPT_HANDLE);
  EXPECT_EQ(ToV5Status(WithResponseCode(absl::NotFoundError("no group"),
                                        common::v1::SUBSCRIPTION_GROUP_NOT_EXIST))
                .code(),
            v2::Code::CONSUMER_GROUP_NOT_FOUND);
  EXPECT_EQ(ToV5Status(absl::UnavailableError("down")).code(), v2::Code::INTERNAL_SERVER_ERROR);
  EXPECT_EQ(ToV5Status(absl::DeadlineExceededError("slow")).code(), v2::Code::PROXY_TIMEOUT);
  v2::Status status = ToV5Status(absl::InternalError("why"));
  EXPECT_EQ(status.message(), "why");
  EXPECT_EQ(ToV5Status(broker::v1::SEND_OK).code(), v2::Code::OK);
  EXPECT_EQ(ToV5Status(broker::v1::FLUSH_SLAVE_TIMEOUT).code(),
            v2::Code::SLAVE_PERSISTENCE_TIMEOUT);
  EXPECT_EQ(ToV5Status(broker::v1::SLAVE_NOT_AVAILABLE).code(), v2::Code::HA_NOT_AVAILABLE);
}

TEST(TransactionIdTest, RoundTripAndRejectsForeignIds) {
  std::string id = EncodeTransactionId({"broker-a", 123456, 7});
  absl::StatusOr<TransactionHandle> handle = DecodeTransactionId(id);
  ASSERT_TRUE(handle.ok()) << handle.status();
  EXPECT_EQ(handle->broker_name, "broker-a");
  EXPECT_EQ(handle->commit_log_offset, 123456);
  EXPECT_EQ(handle->queue_offset, 7);
  for (const char* bad : {"", "broker-a/1", "broker-a/x/1", "/1/2", "b/1/2/3", "b/-1/2",
                          "0102FC0000000130390B14FB0800000000"}) {
    EXPECT_EQ(DecodeTransactionId(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ToV5MessageTest, CheckBackMessageCarriesDigestAndProperties) {
  common::v1::MessageExt stored;
  stored.set_topic("TopicA");
  stored.set_body("hello");
  stored.set_msg_id("ID1");
  (*stored.mutable_properties())["TAGS"] = "TagA";
  (*stored.mutable_properties())["KEYS"] = "k1 k2";
  (*stored.mutable_properties())["TRAN_MSG"] = "true";
  (*stored.mutable_properties())["color"] = "blue";
  v2::Message message = ToV5Message(stored);
  EXPECT_EQ(message.topic().name(), "TopicA");
  EXPECT_EQ(message.body(), "hello");
  EXPECT_EQ(message.system_properties().message_id(), "ID1");
  EXPECT_EQ(message.system_properties().tag(), "TagA");
  EXPECT_THAT(message.system_properties().keys(), ElementsAre("k1", "k2"));
  EXPECT_EQ(message.system_properties().body_digest().type(), v2::DigestType::MD5);
  EXPECT_EQ(message.system_properties().body_digest().checksum(),
            "5D41402ABC4B2A76B9719D911017C592");  // MD5("hello")
  EXPECT_EQ(message.user_properties().size(), 1u);
  EXPECT_EQ(message.user_properties().at("color"), "blue");
  EXPECT_EQ(message.system_properties().message_type(), v2::MessageType::TRANSACTION);
}

TEST(ToV5MessageTest, TypeGroupAndDeliveryTimeFromProperties) {
  common::v1::MessageExt stored;
  stored.set_topic("TopicA");
  stored.set_body("b");
  stored.set_store_timestamp_ms(1700000000123);
  EXPECT_EQ(ToV5Message(stored).system_properties().message_type(), v2::MessageType::NORMAL);
  EXPECT_EQ(ToV5Message(stored).system_properties().store_timestamp().nanos(), 123000000);
  (*stored.mutable_properties())["__SHARDINGKEY"] = "order-1";
  v2::Message fifo = ToV5Message(stored);
  EXPECT_EQ(fifo.system_properties().message_type(), v2::MessageType::FIFO);
  EXPECT_EQ(fifo.system_properties().message_group(), "order-1");
  EXPECT_TRUE(fifo.user_properties().empty());
  stored.mutable_properties()->clear();
  (*stored.mutable_properties())["TIMER_DELIVER_MS"] = "1700000005250";
  v2::Message delay = ToV5Message(stored);
  EXPECT_EQ(delay.system_properties().message_type(), v2::MessageType::DELAY);
  EXPECT_EQ(delay.system_properties().delivery_timestamp().seconds(), 1700000005);
  EXPECT_EQ(delay.system_properties().delivery_timestamp().nanos(), 250000000);
}

TEST(ToV5MessageTest, CompressedBodyHandedOutPlain) {
  const std::string body(10000, 'z');
  common::v1::MessageExt stored;
  stored.set_topic("TopicA");
  stored.set_body(*client_internal::ZlibCompress(body, 5));
  stored.set_sys_flag(client_internal::kCompressedFlag);
  v2::Message message = ToV5Message(stored);
  EXPECT_EQ(message.body(), body);
  EXPECT_EQ(message.system_properties().body_encoding(), v2::Encoding::IDENTITY);
  EXPECT_EQ(message.system_properties().body_digest().checksum(), Md5Hex(body));
}

TEST(ReceiptHandleTest, RoundTripAndRejectsForeignHandles) {
  std::string handle = EncodeReceiptHandle("broker-a", "T:0:12:3:xyz");
  absl::StatusOr<ReceiptHandle> decoded = DecodeReceiptHandle(handle);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->broker_name, "broker-a");
  EXPECT_EQ(decoded->broker_handle, "T:0:12:3:xyz");
  for (absl::string_view bad : {"", "no-colon", ":handle", "broker-a:", "bad name!:h"}) {
    EXPECT_EQ(DecodeReceiptHandle(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

google::protobuf::Duration Millis(int64_t ms) {
  google::protobuf::Duration d;
  d.set_seconds(ms / 1000);
  d.set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  return d;
}

TEST(InvisibleMillisTest, TinyRaisedOutOfRangeRefused) {
  google::protobuf::Duration d = Millis(15000);
  EXPECT_EQ(*InvisibleMillis(&d), 15000);
  // The Node push consumer's backoff of 1 s arrives as 1 ms.
  d = Millis(1);
  EXPECT_EQ(*InvisibleMillis(&d), 1000);
  d = Millis(0);
  EXPECT_EQ(*InvisibleMillis(&d), 1000);
  d = Millis(12 * 3600 * 1000);
  EXPECT_EQ(*InvisibleMillis(&d), 12 * 3600 * 1000);
  d = Millis(12 * 3600 * 1000 + 1);
  EXPECT_EQ(InvisibleMillis(&d).status().code(), absl::StatusCode::kInvalidArgument);
  d.set_seconds(-1);
  EXPECT_EQ(InvisibleMillis(&d).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(InvisibleMillis(nullptr).status().message()), HasSubstr("missing"));
}

v2::ReceiveMessageRequest SimpleReceive() {
  v2::ReceiveMessageRequest receive;
  receive.mutable_group()->set_name("G");
  receive.mutable_message_queue()->mutable_topic()->set_name("TopicA");
  receive.mutable_message_queue()->set_id(0);
  receive.mutable_message_queue()->mutable_broker()->set_name("broker-a");
  receive.mutable_filter_expression()->set_type(v2::FilterType::TAG);
  receive.mutable_filter_expression()->set_expression("TagA || TagB");
  receive.set_batch_size(10);
  *receive.mutable_invisible_duration() = Millis(15000);
  *receive.mutable_long_polling_timeout() = Millis(30000);
  return receive;
}

TEST(TranslateReceiveTest, SimpleConsumerReceiveBecomesAPop) {
  // Node: deadline = requestTimeout 3 s + awaitDuration 30 s.
  TranslatedReceive out = TranslateReceive(SimpleReceive(), "client-1", absl::Seconds(33),
                                           absl::Seconds(3), ReceiveLimits{});
  ASSERT_EQ(out.code, v2::Code::OK) << out.error;
  const broker::v1::PopMessageRequest& pop = out.request;
  EXPECT_EQ(pop.consumer_group(), "G");
  EXPECT_EQ(pop.topic(), "TopicA");
  EXPECT_EQ(pop.queue_id(), -1);  // any queue of the broker, not the client's queue 0
  EXPECT_EQ(pop.broker_name(), "broker-a");
  EXPECT_EQ(pop.max_msg_nums(), 10);
  EXPECT_EQ(pop.invisible_time_ms(), 15000);
  EXPECT_EQ(pop.poll_timeout_ms(), 30000);
  EXPECT_EQ(pop.subscription(), "TagA || TagB");
  EXPECT_EQ(pop.client_id(), "client-1");
  // The broker answers before the client gives up.
  EXPECT_LT(out.backend_timeout, absl::Seconds(33));
  EXPECT_GT(out.backend_timeout, absl::Seconds(30));
}

TEST(TranslateReceiveTest, LongPollEndsBeforeTheClientsDeadline) {
  v2::ReceiveMessageRequest receive = SimpleReceive();
  TranslatedReceive out =
      TranslateReceive(receive, "c", absl::Seconds(10), absl::Seconds(3), ReceiveLimits{});
  EXPECT_EQ(out.request.poll_timeout_ms(), 9000);
  EXPECT_LE(out.backend_timeout, absl::Seconds(10));
  out = TranslateReceive(receive, "c", absl::Milliseconds(400), absl::Seconds(3), ReceiveLimits{});
  EXPECT_EQ(out.request.poll_timeout_ms(), 200);
  EXPECT_LT(out.backend_timeout, absl::Milliseconds(400));
  // Already late: answer at once.
  out = TranslateReceive(receive, "c", -absl::Seconds(1), absl::Seconds(3), ReceiveLimits{});
  EXPECT_EQ(out.request.poll_timeout_ms(), 0);
  // No deadline: the client's long poll, the backend's call timeout on top.
  out = TranslateReceive(receive, "c", absl::InfiniteDuration(), absl::Seconds(3), ReceiveLimits{});
  EXPECT_EQ(out.request.poll_timeout_ms(), 30000);
  EXPECT_EQ(out.backend_timeout, absl::Seconds(33));
}

TEST(TranslateReceiveTest, PushReceiveTakesTheServersInvisibleTime) {
  v2::ReceiveMessageRequest receive = SimpleReceive();
  receive.clear_invisible_duration();
  receive.set_auto_renew(true);
  receive.set_batch_size(1000);
  receive.mutable_filter_expression()->clear_expression();
  ReceiveLimits limits;
  limits.auto_renew_invisible = absl::Seconds(42);
  TranslatedReceive out =
      TranslateReceive(receive, "c", absl::Seconds(33), absl::Seconds(3), limits);
  ASSERT_EQ(out.code, v2::Code::OK) << out.error;
  EXPECT_EQ(out.request.invisible_time_ms(), 42000);
  EXPECT_EQ(out.request.max_msg_nums(), kMaxReceiveBatchSize);
  EXPECT_EQ(out.request.subscription(), "*");
}

TEST(TranslateReceiveTest, BadInputGetsItsCode) {
  auto code_of = [](const v2::ReceiveMessageRequest& receive) {
    return TranslateReceive(receive, "c", absl::Seconds(33), absl::Seconds(3), ReceiveLimits{})
        .code;
  };
  v2::ReceiveMessageRequest receive = SimpleReceive();
  receive.mutable_group()->set_name("bad group");
  EXPECT_EQ(code_of(receive), v2::Code::ILLEGAL_CONSUMER_GROUP);
  receive = SimpleReceive();
  receive.mutable_message_queue()->mutable_topic()->set_name("");
  EXPECT_EQ(code_of(receive), v2::Code::ILLEGAL_TOPIC);
  receive = SimpleReceive();
  receive.mutable_message_queue()->mutable_broker()->set_name("");
  EXPECT_EQ(code_of(receive), v2::Code::BAD_REQUEST);
  receive = SimpleReceive();
  receive.set_batch_size(0);
  EXPECT_EQ(code_of(receive), v2::Code::BAD_REQUEST);
  receive = SimpleReceive();
  receive.mutable_filter_expression()->set_type(v2::FilterType::SQL);
  EXPECT_EQ(code_of(receive), v2::Code::ILLEGAL_FILTER_EXPRESSION);
  receive = SimpleReceive();
  receive.clear_invisible_duration();
  EXPECT_EQ(code_of(receive), v2::Code::ILLEGAL_INVISIBLE_TIME);
  receive = SimpleReceive();
  *receive.mutable_invisible_duration() = Millis(13LL * 3600 * 1000);
  EXPECT_EQ(code_of(receive), v2::Code::ILLEGAL_INVISIBLE_TIME);
  receive = SimpleReceive();
  receive.mutable_long_polling_timeout()->set_seconds(-5);
  EXPECT_EQ(code_of(receive), v2::Code::ILLEGAL_POLLING_TIME);
}

TEST(ToV5DeliveredTest, HandleAttemptAndInvisibleDuration) {
  broker::v1::PoppedMessage popped;
  popped.mutable_message()->set_topic("TopicA");
  popped.mutable_message()->set_body("hello");
  popped.mutable_message()->set_queue_id(2);
  popped.mutable_message()->set_queue_offset(7);
  (*popped.mutable_message()->mutable_properties())["UNIQ_KEY"] = "ID1";
  popped.set_receipt_handle("opaque");
  popped.set_delivery_attempt(2);
  absl::Time now = absl::FromUnixMillis(1700000000000);
  popped.set_invisible_until_ms(1700000015500);
  v2::Message message = ToV5Delivered(popped, "broker-a", now);
  const v2::SystemProperties& system = message.system_properties();
  EXPECT_EQ(system.receipt_handle(), "broker-a:opaque");
  EXPECT_EQ(system.delivery_attempt(), 2);
  EXPECT_EQ(system.message_id(), "ID1");
  EXPECT_EQ(system.queue_id(), 2);
  EXPECT_EQ(system.queue_offset(), 7);
  EXPECT_EQ(system.invisible_duration().seconds(), 15);
  EXPECT_EQ(system.invisible_duration().nanos(), 500000000);
  EXPECT_EQ(system.body_digest().checksum(), "5D41402ABC4B2A76B9719D911017C592");
  EXPECT_EQ(system.body_encoding(), v2::Encoding::IDENTITY);
}

TEST(RouteToAssignmentsTest, OneQueuePerReadableBrokerWithIdMinusOne) {
  v2::Resource topic;
  topic.set_name("TopicA");
  std::vector<v2::Assignment> assignments =
      RouteToAssignments(topic, TwoBrokerRoute(), AccessPoint());
  ASSERT_EQ(assignments.size(), 2u);
  for (const v2::Assignment& assignment : assignments) {
    EXPECT_EQ(assignment.message_queue().id(), -1);
    EXPECT_EQ(assignment.message_queue().broker().id(), 0);
    EXPECT_EQ(assignment.message_queue().broker().endpoints().addresses_size(), 1);
    EXPECT_EQ(assignment.message_queue().topic().name(), "TopicA");
  }
  EXPECT_EQ(assignments[0].message_queue().broker().name(), "broker-a");
  EXPECT_EQ(assignments[0].message_queue().permission(), v2::Permission::READ);
  EXPECT_EQ(assignments[1].message_queue().broker().name(), "broker-b");
  EXPECT_EQ(assignments[1].message_queue().permission(), v2::Permission::READ_WRITE);
  // A write-only broker is not assigned.
  common::v1::TopicRouteData route = TwoBrokerRoute();
  route.mutable_queue_datas(0)->set_perm(2);
  EXPECT_EQ(RouteToAssignments(topic, route, AccessPoint()).size(), 1u);
}

TEST(MasterAddressTest, MasterOfTheNamedBrokerOnly) {
  EXPECT_EQ(MasterAddress(TwoBrokerRoute(), "broker-b"), "broker-b:10911");
  EXPECT_EQ(MasterAddress(TwoBrokerRoute(), "broker-c"), "");
}

}  // namespace
}  // namespace mq::proxy
