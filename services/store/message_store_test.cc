#include "services/store/message_store.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/format/property_keys.h"
#include "common/format/record_format.h"
#include "common/testing/fake_clock.h"
#include "common/units.h"
#include "services/store/commit_log.h"
#include "services/store/mapped_file.h"
#include "testing/small_store.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq::store {
namespace {

using ::testing::HasSubstr;

v1::AppendEntry Entry(const std::string& topic, int32_t queue_id, const std::string& body,
                      const std::string& tags = "", const std::string& keys = "",
                      const std::string& unique_id = "") {
  v1::AppendEntry entry;
  entry.mutable_message()->set_topic(topic);
  entry.mutable_message()->set_body(body);
  auto* properties = entry.mutable_message()->mutable_properties();
  if (!tags.empty()) (*properties)["TAGS"] = tags;
  if (!keys.empty()) (*properties)["KEYS"] = keys;
  if (!unique_id.empty()) (*properties)["UNIQ_KEY"] = unique_id;
  entry.set_queue_id(queue_id);
  entry.set_born_timestamp_ms(1700000000000);
  entry.set_born_host("10.0.0.9:5555");
  entry.set_store_host("127.0.0.1:10911");
  return entry;
}

class MessageStoreTest : public ::testing::Test {
 protected:
  MessageStoreOptions Options() {
    // Smaller commit-log files than the common small store, so tests roll
    // files with a few messages.
    MessageStoreOptions options = testing::SmallStoreOptions(dir_);
    options.commit_log_file_size = 256_KiB;
    options.max_message_body_bytes = 64_KiB;
    options.clock = &clock_;
    options.disk_used_ratio = [this](const std::string&) -> absl::StatusOr<double> {
      return disk_ratio_.load();
    };
    return options;
  }

  std::unique_ptr<MessageStore> OpenStore(MessageStoreOptions options) {
    absl::StatusOr<std::unique_ptr<MessageStore>> store = MessageStore::Open(std::move(options));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  v1::AppendBatchResponse Append(MessageStore* store, std::vector<v1::AppendEntry> entries) {
    v1::AppendBatchRequest request;
    request.set_wait_store_ok(true);
    for (v1::AppendEntry& entry : entries) *request.add_entries() = std::move(entry);
    absl::StatusOr<v1::AppendBatchResponse> response = store->AppendBatch(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::AppendBatchResponse();
  }

  v1::GetMessagesResponse Get(MessageStore* store, const std::string& topic, int32_t queue_id,
                              int64_t offset, int32_t max = 32, std::vector<int64_t> tag_codes = {},
                              bool stored_records = false, int64_t max_bytes = 0) {
    v1::GetMessagesRequest request;
    request.set_topic(topic);
    request.set_queue_id(queue_id);
    request.set_offset(offset);
    request.set_max_count(max);
    request.set_stored_records(stored_records);
    request.set_max_bytes(max_bytes);
    for (int64_t code : tag_codes) request.add_tag_codes(code);
    // A message is readable once dispatched; wait for that.
    EXPECT_TRUE(testing::WaitUntil(
        [&] { return store->dispatched_offset() >= store->max_physical_offset(); }));
    absl::StatusOr<v1::GetMessagesResponse> response = store->GetMessages(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::GetMessagesResponse();
  }

  std::string dir_ = testing::MakeTempDir();
  FakeClock clock_{
      absl::FromCivil(absl::CivilSecond(2026, 11, 20, 13, 0, 0), absl::LocalTimeZone())};
  std::atomic<double> disk_ratio_{0.30};
};

// The dispatcher is woken by appends only once it has gone idle; a busy one
// picks them up on its next round. Neither way may lose an append until the
// idle thread's 100 ms timeout.
TEST_F(MessageStoreTest, AppendsAreDispatchedPromptlyAfterTheDispatcherWentIdle) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  auto dispatched = [&] { return store->dispatched_offset() >= store->max_physical_offset(); };
  constexpr int kSingles = 20;
  absl::Duration waited;
  for (int i = 0; i < kSingles; ++i) {
    // Long enough for the dispatcher to finish its busy rounds and go idle.
    absl::SleepFor(absl::Milliseconds(5));
    Append(store.get(), {Entry("T", 0, absl::StrCat("single ", i))});
    absl::Time appended = absl::Now();
    ASSERT_TRUE(testing::WaitUntil(dispatched));
    waited += absl::Now() - appended;
  }
  // Lost wake-ups would cost about 100 ms each (2 s in all).
  EXPECT_LT(waited, absl::Seconds(1)) << "waited " << waited << " for " << kSingles << " appends";

  // A burst from several threads while the dispatcher is busy.
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) Append(store.get(), {Entry("T", t, absl::StrCat(t, "/", i))});
    });
  }
  for (std::thread& sender : senders) sender.join();
  ASSERT_TRUE(testing::WaitUntil(dispatched));
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(Get(store.get(), "T", t, 0, 1000).messages_size(), t == 0 ? 200 + kSingles : 200);
  }
}

TEST_F(MessageStoreTest, ReadBehindBytesIsTheDistanceFromTheLogEnd) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  v1::AppendBatchResponse response =
      Append(store.get(), {Entry("T", 0, "first"), Entry("T", 1, "other"), Entry("T", 0, "last")});
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return store->dispatched_offset() >= store->max_physical_offset(); }));
  auto behind = [&](int32_t queue_id, int64_t offset, const std::string& topic = "T") {
    return store->ReadBehindBytes(topic, queue_id, offset);
  };
  const int64_t end = store->max_physical_offset();
  EXPECT_EQ(behind(0, 0), end - response.results(0).physical_offset());
  EXPECT_EQ(behind(0, 1), end - response.results(2).physical_offset());
  EXPECT_EQ(behind(1, 0), end - response.results(1).physical_offset());
  // Answers that read no record: past the end, an unknown queue.
  EXPECT_EQ(behind(0, 2), 0);
  EXPECT_EQ(behind(3, 0), 0);
  EXPECT_EQ(behind(0, 0, "Unknown"), 0);
}

TEST_F(MessageStoreTest, AppendAssignsOffsetsAndReadsBackInOrder) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  v1::AppendBatchResponse response =
      Append(store.get(), {Entry("T", 0, "a"), Entry("T", 0, "b"), Entry("T", 1, "c")});
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).status(), v1::PUT_OK);
  EXPECT_EQ(response.results(0).queue_offset(), 0);
  EXPECT_EQ(response.results(1).queue_offset(), 1);
  EXPECT_EQ(response.results(2).queue_offset(), 0);
  EXPECT_EQ(response.results(1).physical_offset(),
            response.results(0).physical_offset() + response.results(0).size());
  EXPECT_EQ(response.results(0).offset_msg_id().size(), 32u);

  v1::GetMessagesResponse got = Get(store.get(), "T", 0, 0);
  EXPECT_EQ(got.status(), v1::FOUND);
  ASSERT_EQ(got.messages_size(), 2);
  EXPECT_EQ(got.messages(0).body(), "a");
  EXPECT_EQ(got.messages(1).body(), "b");
  EXPECT_EQ(got.messages(1).queue_offset(), 1);
  EXPECT_EQ(got.messages(0).born_host(), "10.0.0.9:5555");
  EXPECT_EQ(got.messages(0).store_host(), "127.0.0.1:10911");
  EXPECT_EQ(got.next_begin_offset(), 2);
  EXPECT_EQ(got.min_offset(), 0);
  EXPECT_EQ(got.max_offset(), 2);
}

TEST_F(MessageStoreTest, ReadStatusesFollowRocketMq) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  EXPECT_EQ(Get(store.get(), "T", 0, 0).status(), v1::NO_MESSAGE_IN_QUEUE);
  Append(store.get(), {Entry("T", 0, "a"), Entry("T", 0, "b")});
  v1::GetMessagesResponse at_end = Get(store.get(), "T", 0, 2);
  EXPECT_EQ(at_end.status(), v1::OFFSET_OVERFLOW_ONE);
  EXPECT_EQ(at_end.next_begin_offset(), 2);
  v1::GetMessagesResponse past = Get(store.get(), "T", 0, 50);
  EXPECT_EQ(past.status(), v1::OFFSET_OVERFLOW_BADLY);
  EXPECT_EQ(past.next_begin_offset(), 0);
  EXPECT_EQ(past.max_offset(), 2);
}

TEST_F(MessageStoreTest, TagFilterSkipsOtherTags) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  Append(store.get(), {Entry("T", 0, "1", "A"), Entry("T", 0, "2", "B"), Entry("T", 0, "3", "A")});
  v1::GetMessagesResponse got = Get(store.get(), "T", 0, 0, 32, {format::TagsHashCode("A")});
  ASSERT_EQ(got.status(), v1::FOUND);
  ASSERT_EQ(got.messages_size(), 2);
  EXPECT_EQ(got.messages(0).body(), "1");
  EXPECT_EQ(got.messages(1).body(), "3");
  EXPECT_EQ(got.next_begin_offset(), 3);
  v1::GetMessagesResponse none = Get(store.get(), "T", 0, 0, 32, {format::TagsHashCode("C")});
  EXPECT_EQ(none.status(), v1::NO_MATCHED_MESSAGE);
  EXPECT_EQ(none.next_begin_offset(), 3);
}

// `records` holds, back to back and whole (CRCs checked), the messages of
// `fields`.
void ExpectRecordsAre(absl::string_view records, const v1::GetMessagesResponse& fields) {
  for (const common::v1::MessageExt& expected : fields.messages()) {
    format::DecodedRecord decoded = format::DecodeRecord(records, /*check_crc=*/true);
    ASSERT_EQ(decoded.kind, format::RecordKind::kMessage) << decoded.error;
    EXPECT_EQ(decoded.size, expected.store_size());
    EXPECT_EQ(decoded.message.body, expected.body());
    EXPECT_EQ(decoded.message.queue_offset, expected.queue_offset());
    EXPECT_EQ(decoded.message.physical_offset, expected.commit_log_offset());
    EXPECT_EQ(
        format::FindProperty(decoded.message.properties, format::kPropertyUniqueKey).value_or(""),
        expected.msg_id());
    records.remove_prefix(decoded.size);
  }
  EXPECT_TRUE(records.empty());
}

TEST_F(MessageStoreTest, StoredRecordsAreTheMessagesAsWritten) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  Append(store.get(), {Entry("T", 0, "first", "A", "", "U1"), Entry("T", 0, "second", "B"),
                       Entry("T", 0, "third", "A", "", "U3"), Entry("T", 1, "other", "A")});
  const std::vector<int64_t> tag_a = {format::TagsHashCode("A")};
  v1::GetMessagesResponse fields = Get(store.get(), "T", 0, 0, 32, tag_a);
  v1::GetMessagesResponse records = Get(store.get(), "T", 0, 0, 32, tag_a, true);
  ASSERT_EQ(records.status(), v1::FOUND);
  EXPECT_EQ(records.messages_size(), 0);
  EXPECT_EQ(records.message_count(), 2);
  EXPECT_EQ(fields.message_count(), 2);
  EXPECT_EQ(records.next_begin_offset(), fields.next_begin_offset());
  EXPECT_EQ(records.behind_bytes(), fields.behind_bytes());
  ASSERT_EQ(fields.messages_size(), 2);
  ExpectRecordsAre(records.records(), fields);

  // The byte limit counts whole records; the first is always served.
  v1::GetMessagesResponse one = Get(store.get(), "T", 0, 0, 32, {}, true, /*max_bytes=*/1);
  EXPECT_EQ(one.message_count(), 1);
  EXPECT_EQ(one.records().size(), static_cast<size_t>(fields.messages(0).store_size()));
  EXPECT_EQ(one.next_begin_offset(), 1);
}

// Batches lie back to back in the log and are read in runs (one read of the
// file each, past kMinReadRunBytes); records of other queues break the runs.
TEST_F(MessageStoreTest, StoredRecordsOfBatchesAreServedWhole) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  std::vector<v1::AppendEntry> batch;
  for (int i = 0; i < 40; ++i) {
    batch.push_back(Entry("T", 0, absl::StrCat(i, std::string(1000, 'a' + i % 26))));
  }
  Append(store.get(), batch);
  Append(store.get(), {Entry("T", 1, "between"), Entry("T", 0, "single")});
  Append(store.get(), batch);
  for (int64_t offset : {0, 20, 39}) {
    v1::GetMessagesResponse fields = Get(store.get(), "T", 0, offset, 64);
    v1::GetMessagesResponse records = Get(store.get(), "T", 0, offset, 64, {}, true);
    ASSERT_EQ(records.status(), v1::FOUND);
    EXPECT_EQ(records.message_count(), fields.messages_size());
    EXPECT_EQ(records.message_count(), std::min<int64_t>(64, 81 - offset));
    EXPECT_EQ(records.next_begin_offset(), fields.next_begin_offset());
    EXPECT_EQ(records.behind_bytes(), fields.behind_bytes());
    ExpectRecordsAre(records.records(), fields);
  }
  // The byte limit ends a run at a whole record.
  v1::GetMessagesResponse limited = Get(store.get(), "T", 0, 0, 64, {}, true, 20_KiB);
  v1::GetMessagesResponse fields = Get(store.get(), "T", 0, 0, limited.message_count());
  EXPECT_GT(limited.message_count(), 10);
  EXPECT_LT(limited.message_count(), 21);
  EXPECT_LE(limited.records().size(), 20u * 1024);
  ExpectRecordsAre(limited.records(), fields);
}

TEST_F(MessageStoreTest, BadInputGetsClearErrorsAndStoresNothingBad) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  v1::AppendEntry bad_host = Entry("T", 0, "x");
  bad_host.set_born_host("not-a-host");
  v1::AppendBatchResponse response =
      Append(store.get(), {Entry("T", 0, std::string(64_KiB + 1, 'x')), Entry("T", 0, ""), bad_host,
                           Entry(std::string(128, 't'), 0, "x"), Entry("T", 0, "good")});
  ASSERT_EQ(response.results_size(), 5);
  EXPECT_EQ(response.results(0).status(), v1::MESSAGE_ILLEGAL);
  EXPECT_THAT(response.results(0).error(), HasSubstr("body"));
  EXPECT_EQ(response.results(1).status(), v1::MESSAGE_ILLEGAL);
  EXPECT_EQ(response.results(2).status(), v1::MESSAGE_ILLEGAL);
  EXPECT_THAT(response.results(2).error(), HasSubstr("born host"));
  EXPECT_EQ(response.results(3).status(), v1::MESSAGE_ILLEGAL);
  EXPECT_EQ(response.results(4).status(), v1::PUT_OK);
  EXPECT_EQ(response.results(4).queue_offset(), 0);

  v1::GetMessagesRequest request;
  request.set_topic("bad topic");
  EXPECT_EQ(store->GetMessages(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.set_topic("T");
  request.set_max_count(5000);
  EXPECT_EQ(store->GetMessages(request).status().code(), absl::StatusCode::kInvalidArgument);
  request.set_max_count(1);
  request.set_queue_id(-1);
  EXPECT_EQ(store->GetMessages(request).status().code(), absl::StatusCode::kInvalidArgument);
}

// Names and numbers that no consume queue can take, and flags the store does
// not implement, are refused at the store's own boundary (it is a public gRPC
// service) and change nothing: the store keeps dispatching and restarts.
TEST_F(MessageStoreTest, AppendsTheStoreCannotServeAreRefusedAndChangeNothing) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  Append(store.get(), {Entry("T", 0, "before")});
  const int64_t end = store->max_physical_offset();
  std::vector<v1::AppendEntry> bad;
  for (const std::string& topic :
       {std::string(" "), std::string("a/b"), std::string(".."), std::string("../commitlog"),
        std::string("/abs"), std::string("caf\xc3\xa9"), std::string("nu\0l", 4)}) {
    bad.push_back(Entry(topic, 0, "probe"));
  }
  for (int32_t queue_id :
       {-1, std::numeric_limits<int32_t>::min(), 1024, std::numeric_limits<int32_t>::max()}) {
    bad.push_back(Entry("T", queue_id, "probe"));
  }
  for (int32_t sys_flag : {2, 4, 8, 12, -1, std::numeric_limits<int32_t>::max()}) {
    bad.push_back(Entry("T", 0, "probe"));
    bad.back().set_sys_flag(sys_flag);
  }
  bad.push_back(Entry("T", 0, "probe"));
  bad.back().set_born_timestamp_ms(-5);
  bad.push_back(Entry("T", 0, "probe"));
  bad.back().set_reconsume_times(-1);
  const size_t count = bad.size();
  v1::AppendBatchResponse response = Append(store.get(), std::move(bad));
  ASSERT_EQ(response.results_size(), static_cast<int>(count));
  for (int i = 0; i < response.results_size(); ++i) {
    EXPECT_EQ(response.results(i).status(), v1::MESSAGE_ILLEGAL) << "entry " << i;
    EXPECT_FALSE(response.results(i).error().empty()) << "entry " << i;
  }
  EXPECT_EQ(store->max_physical_offset(), end);
  // A compressed body is a flag the store implements.
  v1::AppendEntry compressed = Entry("T", 0, "zz");
  compressed.set_sys_flag(format::kSysFlagCompressed);
  EXPECT_EQ(Append(store.get(), {compressed}).results(0).status(), v1::PUT_OK);

  EXPECT_EQ(Append(store.get(), {Entry("T", 1, "after")}).results(0).status(), v1::PUT_OK);
  EXPECT_EQ(Get(store.get(), "T", 1, 0).messages_size(), 1);
  ASSERT_TRUE(store->Shutdown().ok());
  store.reset();
  store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Get(store.get(), "T", 0, 0).messages_size(), 2);
}

// Defence in depth: a record already in the log that no consume queue can
// take (written by an older version that accepted it, or by a bug) is logged,
// counted and skipped; it neither stops dispatch nor the store's start.
TEST_F(MessageStoreTest, AnUndispatchableRecordInTheLogIsSkippedAndTheStoreStarts) {
  {
    CommitLogOptions log_options;
    log_options.dir = dir_ + "/commitlog";
    log_options.file_size = Options().commit_log_file_size;
    log_options.max_message_body_bytes = Options().max_message_body_bytes;
    CommitLog log(log_options);
    ASSERT_TRUE(log.Load().ok());
    std::vector<format::MessageRecord> records(3);
    const char* topics[] = {"T", " ", "T"};
    const int32_t queue_ids[] = {0, 0, -1};
    for (int i = 0; i < 3; ++i) {
      records[i].topic = topics[i];
      records[i].queue_id = queue_ids[i];
      records[i].body = "old";
    }
    for (const AppendResult& result : log.AppendBatch(records)) {
      ASSERT_EQ(result.status, AppendStatus::kOk) << result.error;
    }
    ASSERT_TRUE(log.file_queue().Flush(0).ok());
  }
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->GetStats()->skipped_records(), 2);
  EXPECT_EQ(Get(store.get(), "T", 0, 0).messages_size(), 1);
  // Later appends are dispatched past the skipped records.
  Append(store.get(), {Entry("T", 0, "new")});
  EXPECT_EQ(Get(store.get(), "T", 0, 0).messages_size(), 2);
}

TEST_F(MessageStoreTest, QueriesByKeyUniqueIdAndOffset) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  v1::AppendBatchResponse response =
      Append(store.get(),
             {Entry("T", 0, "order-1", "", "k1 k2", "ID1"),
              Entry("T", 1, "order-2", "", "k2", "ID2"), Entry("U", 0, "other", "", "k1", "ID3")});
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return store->dispatched_offset() >= store->max_physical_offset(); }));

  v1::QueryByKeyRequest by_key;
  by_key.set_topic("T");
  by_key.set_key("k2");
  absl::StatusOr<v1::QueryMessagesResponse> k2 = store->QueryByKey(by_key);
  ASSERT_TRUE(k2.ok()) << k2.status();
  EXPECT_EQ(k2->messages_size(), 2);
  by_key.set_key("k1");
  absl::StatusOr<v1::QueryMessagesResponse> k1 = store->QueryByKey(by_key);
  ASSERT_TRUE(k1.ok());
  ASSERT_EQ(k1->messages_size(), 1);
  EXPECT_EQ(k1->messages(0).body(), "order-1");
  by_key.set_key("missing");
  EXPECT_EQ(store->QueryByKey(by_key).status().code(), absl::StatusCode::kNotFound);

  v1::QueryByUniqueIdRequest by_id;
  by_id.set_topic("T");
  by_id.set_unique_id("ID2");
  absl::StatusOr<v1::QueryMessagesResponse> id2 = store->QueryByUniqueId(by_id);
  ASSERT_TRUE(id2.ok());
  ASSERT_EQ(id2->messages_size(), 1);
  EXPECT_EQ(id2->messages(0).msg_id(), "ID2");
  by_id.set_topic("U");
  EXPECT_EQ(store->QueryByUniqueId(by_id).status().code(), absl::StatusCode::kNotFound);

  v1::GetMessageByOffsetRequest by_offset;
  by_offset.set_physical_offset(response.results(2).physical_offset());
  absl::StatusOr<v1::GetMessageByOffsetResponse> third = store->GetMessageByOffset(by_offset);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->message().body(), "other");
  EXPECT_EQ(third->message().offset_msg_id(), response.results(2).offset_msg_id());
  by_offset.set_physical_offset(response.results(2).physical_offset() + 1);
  EXPECT_FALSE(store->GetMessageByOffset(by_offset).ok());
}

TEST_F(MessageStoreTest, CleanRestartKeepsMessagesOffsetsAndMetadata) {
  {
    std::unique_ptr<MessageStore> store = OpenStore(Options());
    for (int i = 0; i < 300; ++i) Append(store.get(), {Entry("T", i % 2, std::string(900, 'x'))});
    v1::PutMetadataRequest put;
    v1::MetadataEntry* entry = put.add_entries();
    entry->set_key("topics");
    entry->set_value("config");
    ASSERT_TRUE(store->PutMetadata(put).ok());
    ASSERT_TRUE(store->Shutdown().ok());
  }
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  v1::GetMessagesResponse q0 = Get(store.get(), "T", 0, 0, 1000);
  EXPECT_EQ(q0.messages_size(), 150);
  EXPECT_EQ(q0.max_offset(), 150);
  v1::AppendBatchResponse next = Append(store.get(), {Entry("T", 1, "after restart")});
  EXPECT_EQ(next.results(0).queue_offset(), 150);
  v1::GetMetadataRequest get;
  get.set_key("topics");
  absl::StatusOr<v1::GetMetadataResponse> value = store->GetMetadata(get);
  ASSERT_TRUE(value.ok());
  EXPECT_TRUE(value->found());
  EXPECT_EQ(value->value(), "config");
}

TEST_F(MessageStoreTest, UncleanStopRecoversEveryAppendedMessage) {
  // A child process appends and exits without shutting the store down.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    absl::StatusOr<std::unique_ptr<MessageStore>> store = MessageStore::Open(Options());
    if (!store.ok()) _exit(2);
    for (int i = 0; i < 500; ++i) {
      v1::AppendBatchRequest request;
      *request.add_entries() = Entry("T", i % 3, absl::StrCat("m", i), "", absl::StrCat("key", i));
      if (!(*store)->AppendBatch(request).ok()) _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  std::unique_ptr<MessageStore> store = OpenStore(Options());
  int total = 0;
  for (int q = 0; q < 3; ++q) {
    v1::GetMessagesResponse got = Get(store.get(), "T", q, 0, 1000);
    total += got.messages_size();
    for (int i = 0; i < got.messages_size(); ++i) {
      EXPECT_EQ(got.messages(i).queue_offset(), i);
    }
  }
  EXPECT_EQ(total, 500);
  v1::QueryByKeyRequest by_key;
  by_key.set_topic("T");
  by_key.set_key("key499");
  EXPECT_TRUE(store->QueryByKey(by_key).ok());
  EXPECT_EQ(Append(store.get(), {Entry("T", 0, "next")}).results(0).queue_offset(), 167);
}

TEST_F(MessageStoreTest, SyncFlushAcknowledgesFlushedAppends) {
  MessageStoreOptions options = Options();
  options.flush_disk_type = FlushDiskType::kSync;
  std::unique_ptr<MessageStore> store = OpenStore(options);
  v1::AppendBatchResponse response = Append(store.get(), {Entry("T", 0, "durable")});
  EXPECT_EQ(response.results(0).status(), v1::PUT_OK);
  absl::StatusOr<v1::GetStatsResponse> stats = store->GetStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GE(stats->flushed_offset(),
            response.results(0).physical_offset() + response.results(0).size());
}

TEST_F(MessageStoreTest, AsyncSyncFlushAnswersFromTheFlushThreadOnceFlushed) {
  MessageStoreOptions options = Options();
  options.flush_disk_type = FlushDiskType::kSync;
  std::unique_ptr<MessageStore> store = OpenStore(options);
  EXPECT_TRUE(store->AppendsAreAsync());
  constexpr int kAppends = 50;
  absl::Mutex mu;
  std::vector<v1::AppendBatchResponse> answers;
  std::vector<int64_t> flushed_when_answered;
  for (int i = 0; i < kAppends; ++i) {
    v1::AppendBatchRequest request;
    request.set_wait_store_ok(true);
    *request.add_entries() = Entry("T", 0, absl::StrCat("durable-", i));
    store->AppendBatchAsync(request, [&](absl::StatusOr<v1::AppendBatchResponse> response) {
      absl::StatusOr<v1::GetStatsResponse> stats = store->GetStats();
      absl::MutexLock lock(&mu);
      flushed_when_answered.push_back(stats.ok() ? stats->flushed_offset() : -1);
      answers.push_back(response.ok() ? *std::move(response) : v1::AppendBatchResponse());
    });
  }
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(
      absl::Condition(
          +[](std::vector<v1::AppendBatchResponse>* a) { return a->size() == kAppends; }, &answers),
      absl::Seconds(10)));
  for (size_t i = 0; i < answers.size(); ++i) {
    const v1::AppendBatchResponse& response = answers[i];
    ASSERT_EQ(response.results_size(), 1);
    EXPECT_EQ(response.results(0).status(), v1::PUT_OK);
    // Answered only once its record was on disk.
    EXPECT_GE(flushed_when_answered[i],
              response.results(0).physical_offset() + response.results(0).size());
  }
}

TEST_F(MessageStoreTest, SyncMasterAppendsAreNotAsync) {
  MessageStoreOptions options = Options();
  options.role = v1::SYNC_MASTER;
  EXPECT_FALSE(OpenStore(options)->AppendsAreAsync());
}

TEST_F(MessageStoreTest, SlaveRefusesWrites) {
  MessageStoreOptions options = Options();
  options.role = v1::SLAVE;
  std::unique_ptr<MessageStore> store = OpenStore(options);
  v1::AppendBatchResponse response = Append(store.get(), {Entry("T", 0, "x")});
  EXPECT_EQ(response.results(0).status(), v1::SERVICE_NOT_AVAILABLE);
  EXPECT_THAT(response.results(0).error(), HasSubstr("slave"));
}

TEST_F(MessageStoreTest, DiskFullRefusesWritesButServesReads) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  Append(store.get(), {Entry("T", 0, "before")});
  disk_ratio_ = 0.95;
  store->RunRetention();
  v1::AppendBatchResponse refused = Append(store.get(), {Entry("T", 0, "during")});
  EXPECT_EQ(refused.results(0).status(), v1::SERVICE_NOT_AVAILABLE);
  EXPECT_THAT(refused.results(0).error(), HasSubstr("disk full"));
  EXPECT_EQ(Get(store.get(), "T", 0, 0).messages_size(), 1);
  EXPECT_TRUE(store->GetStats()->disk_full());

  disk_ratio_ = 0.50;
  store->RunRetention();
  EXPECT_EQ(Append(store.get(), {Entry("T", 0, "after")}).results(0).status(), v1::PUT_OK);
}

// Retention as production runs it (MessageStore::RunRetention). File ages
// come from the files' modification times, which the tests set relative to
// the injected clock, so nothing depends on today's date.
class RetentionTest : public MessageStoreTest {
 protected:
  // Fills about 4 commit-log files of 256 KiB and waits until all is
  // dispatched.
  std::unique_ptr<MessageStore> FilledStore(MessageStoreOptions options) {
    std::unique_ptr<MessageStore> store = OpenStore(std::move(options));
    for (int i = 0; i < 1000; ++i) Append(store.get(), {Entry("T", 0, std::string(900, 'r'))});
    EXPECT_TRUE(testing::WaitUntil(
        [&] { return store->dispatched_offset() >= store->max_physical_offset(); }));
    EXPECT_GE(LastFileStart(store.get()), 3 * kFileSize);
    return store;
  }

  // Where the file holding the newest record starts.
  int64_t LastFileStart(MessageStore* store) {
    return (store->max_physical_offset() - 1) / kFileSize * kFileSize;
  }

  // The commit-log files, oldest first (with any allocated ahead).
  std::vector<std::string> LogFiles() {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/commitlog")) {
      files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  // Stamps the `index`-th file of the log (the one starting at index *
  // kFileSize) as last modified at `when`.
  void SetModified(int index, absl::Time when) {
    const std::string path = absl::StrCat(dir_, "/commitlog/", OffsetToFileName(index * kFileSize));
    const timespec times[2] = {absl::ToTimespec(when), absl::ToTimespec(when)};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
  }

  void SetAllModified(absl::Time when) {
    for (const std::string& path : LogFiles()) {
      const timespec times[2] = {absl::ToTimespec(when), absl::ToTimespec(when)};
      ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
    }
  }

  int64_t MinOffset(MessageStore* store) { return store->GetStats()->min_physical_offset(); }

  static absl::Time At(int hour) {
    return absl::FromCivil(absl::CivilSecond(2031, 3, 11, hour, 0, 0), absl::LocalTimeZone());
  }

  static constexpr int64_t kFileSize = 256_KiB;
};

TEST_F(RetentionTest, ExpiredFilesWaitForTheDeleteHour) {
  clock_.Set(At(13));
  std::unique_ptr<MessageStore> store = FilledStore(Options());
  SetAllModified(clock_.Now() - absl::Hours(100));

  // 13:00, disk 30 % used: expired files stay until the delete hour.
  store->RunRetention();
  EXPECT_EQ(MinOffset(store.get()), 0);

  // 04:00 the next day: every file but the newest goes.
  clock_.Set(At(4) + absl::Hours(24));
  store->RunRetention();
  EXPECT_EQ(MinOffset(store.get()), LastFileStart(store.get()));
  v1::GetMessagesResponse old = Get(store.get(), "T", 0, 0);
  EXPECT_EQ(old.status(), v1::OFFSET_TOO_SMALL);
  EXPECT_GT(old.next_begin_offset(), 0);
  v1::GetMessagesResponse resumed = Get(store.get(), "T", 0, old.next_begin_offset());
  EXPECT_EQ(resumed.status(), v1::FOUND);
}

TEST_F(RetentionTest, OnlyFilesOlderThanTheReservedTimeAreDeleted) {
  clock_.Set(At(4));
  std::unique_ptr<MessageStore> store = FilledStore(Options());
  // Files 0 and 1 are 73 h old, file 2 is 71 h old (72 h is the default).
  SetModified(0, clock_.Now() - absl::Hours(73));
  SetModified(1, clock_.Now() - absl::Hours(73));
  SetModified(2, clock_.Now() - absl::Hours(71));
  store->RunRetention();
  EXPECT_EQ(MinOffset(store.get()), 2 * kFileSize);
  // The young file stops the run, even when a later file is old.
  SetModified(3, clock_.Now() - absl::Hours(100));
  store->RunRetention();
  EXPECT_EQ(MinOffset(store.get()), 2 * kFileSize);
}

TEST_F(RetentionTest, OneRunDeletesAtMostMaxFilesPerRun) {
  clock_.Set(At(4));
  MessageStoreOptions options = Options();
  options.retention.max_files_per_run = 2;
  std::unique_ptr<MessageStore> store = FilledStore(options);
  SetAllModified(clock_.Now() - absl::Hours(100));
  store->RunRetention();
  EXPECT_EQ(MinOffset(store.get()), 2 * kFileSize);
  store->RunRetention();
  EXPECT_EQ(MinOffset(store.get()), std::min<int64_t>(4 * kFileSize, LastFileStart(store.get())));
}

// After a restart, a queue's min offset is its first message still in the
// log, not the first unit of its oldest file (RocketMQ corrects it on load).
TEST_F(RetentionTest, MinOffsetsStayPastDeletedMessagesAcrossARestart) {
  clock_.Set(At(4));
  std::unique_ptr<MessageStore> store = FilledStore(Options());
  SetAllModified(clock_.Now() - absl::Hours(100));
  store->RunRetention();
  ASSERT_GT(MinOffset(store.get()), 0);
  auto queue_min = [](MessageStore* s) {
    v1::GetQueueOffsetsRequest request;
    request.set_topic("T");
    request.set_queue_id(0);
    return s->GetQueueOffsets(request)->min_offset();
  };
  const int64_t min_before = queue_min(store.get());
  ASSERT_GT(min_before, 0);
  ASSERT_TRUE(store->Shutdown().ok());
  store.reset();

  store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(queue_min(store.get()), min_before);
  v1::GetMessagesResponse first = Get(store.get(), "T", 0, min_before);
  EXPECT_EQ(first.status(), v1::FOUND);
  EXPECT_EQ(first.messages(0).queue_offset(), min_before);
  EXPECT_EQ(Get(store.get(), "T", 0, 0).status(), v1::OFFSET_TOO_SMALL);
}

TEST_F(RetentionTest, ANearlyFullDiskDeletesAtAnyHourAndRegardlessOfAge) {
  clock_.Set(At(13));
  std::unique_ptr<MessageStore> store = FilledStore(Options());
  SetAllModified(clock_.Now() - absl::Hours(1));
  // Above the max used ratio (75 %) but below forcible cleaning (85 %): expired
  // files at any hour; none is expired.
  disk_ratio_ = 0.80;
  store->RunRetention();
  EXPECT_EQ(MinOffset(store.get()), 0);
  SetModified(0, clock_.Now() - absl::Hours(73));
  store->RunRetention();
  EXPECT_EQ(MinOffset(store.get()), kFileSize);
  // Above 85 %: age no longer matters.
  disk_ratio_ = 0.86;
  store->RunRetention();
  EXPECT_EQ(MinOffset(store.get()), LastFileStart(store.get()));
}

TEST_F(MessageStoreTest, WatchersHearQueueAdvances) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  absl::Mutex mu;
  int64_t seen_max = -1;
  std::unique_ptr<StoreApi::Watch> watch = store->WatchQueues([&](const v1::QueueAdvance& a) {
    absl::MutexLock lock(&mu);
    if (a.topic() == "T" && a.queue_id() == 2) seen_max = a.max_offset();
  });
  Append(store.get(), {Entry("T", 2, "a"), Entry("T", 2, "b")});
  EXPECT_TRUE(testing::WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return seen_max == 2;
  }));
}

TEST_F(MessageStoreTest, SecondStoreOnSameDirectoryIsRefused) {
  std::unique_ptr<MessageStore> store = OpenStore(Options());
  absl::StatusOr<std::unique_ptr<MessageStore>> second = MessageStore::Open(Options());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace mq::store
