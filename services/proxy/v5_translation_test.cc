#include "services/proxy/v5_translation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
  v2::TelemetryCommand reply = SettingsReply(settings, 65536);
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

TEST(SettingsReplyTest, ClientMaxAttemptsKeptAndConsumerDefaults) {
  v2::Settings settings;
  settings.set_client_type(v2::ClientType::SIMPLE_CONSUMER);
  settings.mutable_backoff_policy()->set_max_attempts(7);
  settings.mutable_subscription()->mutable_group()->set_name("g");
  v2::TelemetryCommand reply = SettingsReply(settings, 100);
  EXPECT_EQ(reply.settings().backoff_policy().max_attempts(), 7);
  EXPECT_TRUE(reply.settings().backoff_policy().has_exponential_backoff());
  EXPECT_GT(reply.settings().subscription().receive_batch_size(), 0);
  EXPECT_TRUE(reply.settings().subscription().has_long_polling_timeout());
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
}

}  // namespace
}  // namespace mq::proxy
