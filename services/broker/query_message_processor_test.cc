#include "services/broker/query_message_processor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "common/status.h"
#include "testing/fake_store.h"

namespace mq::broker {
namespace {

using ::testing::Optional;

class QueryMessageProcessorTest : public ::testing::Test {
 protected:
  QueryMessageProcessorTest() {
    EXPECT_TRUE(topics_.Load().ok());
    common::v1::TopicConfig orders;
    orders.set_topic_name("orders");
    orders.set_read_queue_nums(2);
    orders.set_write_queue_nums(2);
    orders.set_perm(6);
    EXPECT_TRUE(topics_.CreateOrUpdate(orders).ok());
    store::v1::AppendBatchRequest request;
    for (int i = 0; i < 3; ++i) {
      store::v1::AppendEntry* entry = request.add_entries();
      entry->mutable_message()->set_topic("orders");
      entry->mutable_message()->set_body("m" + std::to_string(i));
      (*entry->mutable_message()->mutable_properties())["UNIQ_KEY"] = "ID" + std::to_string(i);
      (*entry->mutable_message()->mutable_properties())["KEYS"] = "k" + std::to_string(i) + " all";
      entry->set_queue_id(0);
      entry->set_store_host("127.0.0.1:10911");
    }
    appended_ = *store_.AppendBatch(request);
  }

  testing::FakeStore store_;
  TopicConfigManager topics_{&store_, TopicConfigOptions{}};
  QueryMessageProcessor queries_{&store_, &topics_};
  store::v1::AppendBatchResponse appended_;
};

TEST_F(QueryMessageProcessorTest, ById) {
  broker::v1::QueryMessageByIdRequest request;
  request.set_topic("orders");
  request.set_msg_id("ID1");
  absl::StatusOr<broker::v1::QueryMessageResponse> found = queries_.QueryById(request);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->messages_size(), 1);
  EXPECT_EQ(found->messages(0).body(), "m1");
  request.set_msg_id("nope");
  absl::Status missing = queries_.QueryById(request).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(GetResponseCode(missing), Optional(common::v1::QUERY_NOT_FOUND));
}

// The broker answers a send without UNIQ_KEY with its offset message id as
// msg_id; that id must find the message too.
TEST_F(QueryMessageProcessorTest, ByIdFindsAMessageSentWithoutAUniqueKey) {
  store::v1::AppendBatchRequest append;
  store::v1::AppendEntry* entry = append.add_entries();
  entry->mutable_message()->set_topic("orders");
  entry->mutable_message()->set_body("no unique key");
  entry->set_queue_id(1);
  entry->set_store_host("127.0.0.1:10911");
  const std::string offset_id = store_.AppendBatch(append)->results(0).offset_msg_id();
  broker::v1::QueryMessageByIdRequest request;
  request.set_topic("orders");
  request.set_msg_id(offset_id);
  absl::StatusOr<broker::v1::QueryMessageResponse> found = queries_.QueryById(request);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->messages_size(), 1);
  EXPECT_EQ(found->messages(0).body(), "no unique key");
  // Not under another topic's name.
  ASSERT_TRUE(topics_
                  .CreateOrUpdate([] {
                    common::v1::TopicConfig other;
                    other.set_topic_name("other");
                    other.set_read_queue_nums(1);
                    other.set_write_queue_nums(1);
                    other.set_perm(6);
                    return other;
                  }())
                  .ok());
  request.set_topic("other");
  EXPECT_EQ(queries_.QueryById(request).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(QueryMessageProcessorTest, ByKeyLimitsTheCount) {
  broker::v1::QueryMessageByKeyRequest request;
  request.set_topic("orders");
  request.set_key("all");
  absl::StatusOr<broker::v1::QueryMessageResponse> found = queries_.QueryByKey(request);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->messages_size(), 3);
  request.set_max_num(2);
  EXPECT_EQ(queries_.QueryByKey(request)->messages_size(), 2);
  request.set_max_num(65);
  EXPECT_EQ(queries_.QueryByKey(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.set_max_num(0);
  request.clear_key();
  EXPECT_EQ(queries_.QueryByKey(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(QueryMessageProcessorTest, ByOffsetId) {
  broker::v1::ViewMessageByOffsetIdRequest request;
  request.set_offset_msg_id(appended_.results(2).offset_msg_id());
  absl::StatusOr<broker::v1::QueryMessageResponse> found = queries_.ViewByOffsetId(request);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->messages(0).body(), "m2");
  request.set_offset_msg_id("not hex");
  EXPECT_EQ(queries_.ViewByOffsetId(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.set_offset_msg_id("7F00000100002A9F00000000000FFFFF");
  absl::Status missing = queries_.ViewByOffsetId(request).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(GetResponseCode(missing), Optional(common::v1::QUERY_NOT_FOUND));
}

TEST_F(QueryMessageProcessorTest, OffsetsAndSearch) {
  broker::v1::GetQueueOffsetsRequest request;
  request.set_topic("orders");
  request.set_queue_id(0);
  absl::StatusOr<broker::v1::GetQueueOffsetsResponse> offsets = queries_.GetQueueOffsets(request);
  ASSERT_TRUE(offsets.ok());
  EXPECT_EQ(offsets->min_offset(), 0);
  EXPECT_EQ(offsets->max_offset(), 3);
  request.set_queue_id(-1);
  EXPECT_EQ(queries_.GetQueueOffsets(request).status().code(), absl::StatusCode::kInvalidArgument);

  broker::v1::SearchOffsetRequest search;
  search.set_topic("orders");
  search.set_queue_id(0);
  search.set_timestamp_ms(0);
  absl::StatusOr<broker::v1::SearchOffsetResponse> offset = queries_.SearchOffset(search);
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(offset->offset(), 0);
}

// The queue must be one of the topic's read queues, as for pulls.
TEST_F(QueryMessageProcessorTest, QueueIdsBeyondTheTopicsQueuesAreRefused) {
  for (int32_t queue_id : {2, 8, std::numeric_limits<int32_t>::max()}) {
    broker::v1::GetQueueOffsetsRequest request;
    request.set_topic("orders");
    request.set_queue_id(queue_id);
    absl::Status status = queries_.GetQueueOffsets(request).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("queueId"));
    broker::v1::SearchOffsetRequest search;
    search.set_topic("orders");
    search.set_queue_id(queue_id);
    EXPECT_EQ(queries_.SearchOffset(search).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

// Unknown and deleted topics are NOT_FOUND (TOPIC_NOT_EXIST), even where the
// store still holds their messages.
TEST_F(QueryMessageProcessorTest, UnknownAndDeletedTopicsAreNotFound) {
  ASSERT_TRUE(topics_.Delete("orders").ok());
  auto expect_not_found = [](const absl::Status& status) {
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
    EXPECT_THAT(GetResponseCode(status), Optional(common::v1::TOPIC_NOT_EXIST)) << status;
  };
  for (const char* topic : {"orders", "never-created"}) {
    SCOPED_TRACE(topic);
    broker::v1::QueryMessageByKeyRequest by_key;
    by_key.set_topic(topic);
    by_key.set_key("all");
    expect_not_found(queries_.QueryByKey(by_key).status());
    broker::v1::QueryMessageByIdRequest by_id;
    by_id.set_topic(topic);
    by_id.set_msg_id("ID1");
    expect_not_found(queries_.QueryById(by_id).status());
    broker::v1::GetQueueOffsetsRequest offsets;
    offsets.set_topic(topic);
    expect_not_found(queries_.GetQueueOffsets(offsets).status());
    broker::v1::SearchOffsetRequest search;
    search.set_topic(topic);
    expect_not_found(queries_.SearchOffset(search).status());
  }
}

}  // namespace
}  // namespace mq::broker
