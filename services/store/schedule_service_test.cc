#include "services/store/schedule_service.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/format/property_keys.h"
#include "common/testing/fake_clock.h"
#include "services/store/message_store.h"
#include "services/store/metadata_store.h"
#include "testing/small_store.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq::store {
namespace {

constexpr absl::string_view kTopic = "Orders";

// A store whose schedule only runs when the test calls RunOnce, on a fake
// clock: what is delivered when is then exact.
class ScheduleServiceTest : public ::testing::Test {
 protected:
  MessageStoreOptions Options() {
    MessageStoreOptions options = testing::SmallStoreOptions(dir_);
    options.clock = &clock_;
    options.delay.levels = *ParseDelayLevels("1s 2s 3s");
    options.delay.timer_max_delay = absl::Hours(1);
    options.schedule_tick = absl::ZeroDuration();
    return options;
  }

  std::unique_ptr<MessageStore> Open() {
    absl::StatusOr<std::unique_ptr<MessageStore>> store = MessageStore::Open(Options());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  static v1::AppendEntry Entry(std::string body, absl::string_view key, std::string value) {
    v1::AppendEntry entry;
    entry.mutable_message()->set_topic(std::string(kTopic));
    entry.mutable_message()->set_body(body);
    auto& properties = *entry.mutable_message()->mutable_properties();
    properties["UNIQ_KEY"] = body;
    properties["TAGS"] = "TagA";
    if (!key.empty()) properties[std::string(key)] = std::move(value);
    entry.set_queue_id(2);
    entry.set_born_host("10.0.0.9:5555");
    entry.set_store_host("127.0.0.1:10911");
    return entry;
  }

  v1::AppendEntry Level(std::string body, int level) {
    return Entry(std::move(body), format::kPropertyDelayTimeLevel, absl::StrCat(level));
  }

  v1::AppendEntry At(std::string body, absl::Duration from_now) {
    return Entry(std::move(body), format::kPropertyTimerDeliverMs,
                 absl::StrCat(absl::ToUnixMillis(clock_.Now() + from_now)));
  }

  static void Append(MessageStore* store, std::vector<v1::AppendEntry> entries) {
    v1::AppendBatchRequest request;
    for (v1::AppendEntry& entry : entries) *request.add_entries() = std::move(entry);
    absl::StatusOr<v1::AppendBatchResponse> response = store->AppendBatch(request);
    ASSERT_TRUE(response.ok()) << response.status();
    for (const v1::AppendResult& result : response->results()) {
      ASSERT_EQ(result.status(), v1::PUT_OK) << result.error();
    }
    WaitDispatched(store);
  }

  static void WaitDispatched(MessageStore* store) {
    ASSERT_TRUE(testing::WaitUntil(
        [&] { return store->dispatched_offset() >= store->max_physical_offset(); }));
  }

  // Runs the schedule at the clock's time; the bodies in the real queue since
  // `*seen`.
  std::vector<std::string> Run(MessageStore* store, int64_t* seen) {
    store->schedule()->RunOnce();
    WaitDispatched(store);
    std::vector<std::string> bodies;
    for (const common::v1::MessageExt& m : Read(store, seen)) bodies.push_back(m.body());
    return bodies;
  }

  std::vector<common::v1::MessageExt> Read(MessageStore* store, int64_t* seen) {
    std::vector<common::v1::MessageExt> out;
    while (true) {
      v1::GetMessagesRequest request;
      request.set_topic(std::string(kTopic));
      request.set_queue_id(2);
      request.set_offset(*seen);
      request.set_max_count(1024);
      absl::StatusOr<v1::GetMessagesResponse> response = store->GetMessages(request);
      EXPECT_TRUE(response.ok()) << response.status();
      if (!response.ok() || response->messages_size() == 0) return out;
      for (const common::v1::MessageExt& m : response->messages()) out.push_back(m);
      *seen = response->next_begin_offset();
    }
  }

  std::string dir_ = testing::MakeTempDir();
  FakeClock clock_;
};

TEST_F(ScheduleServiceTest, DeliversLevelsAndTimesInDueOrderNeverEarly) {
  std::unique_ptr<MessageStore> store = Open();
  Append(store.get(),
         {Level("L3", 3), At("T2500", absl::Milliseconds(2500)), Level("L1", 1),
          At("T500", absl::Milliseconds(500)), Level("L2", 2), At("past", -absl::Seconds(1))});
  // A deliver time in the past is not scheduled at all: it comes first.
  std::vector<std::string> order;
  std::map<std::string, absl::Duration> delivered_at;
  absl::Time start = clock_.Now();
  int64_t offset = 0;
  for (int step = 0; step <= 40; ++step) {
    for (const std::string& body : Run(store.get(), &offset)) {
      order.push_back(body);
      delivered_at[body] = clock_.Now() - start;
    }
    clock_.Advance(absl::Milliseconds(100));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"past", "T500", "L1", "L2", "T2500", "L3"}));
  EXPECT_EQ(delivered_at["T500"], absl::Milliseconds(500));
  EXPECT_EQ(delivered_at["L1"], absl::Seconds(1));
  EXPECT_EQ(delivered_at["L2"], absl::Seconds(2));
  EXPECT_EQ(delivered_at["T2500"], absl::Milliseconds(2500));
  EXPECT_EQ(delivered_at["L3"], absl::Seconds(3));
  EXPECT_EQ(store->schedule()->delivered(), 5);
}

TEST_F(ScheduleServiceTest, DeliveredCopyHasItsRealTopicAndOriginalProperties) {
  std::unique_ptr<MessageStore> store = Open();
  Append(store.get(), {Level("m", 1), At("t", absl::Milliseconds(300))});
  clock_.Advance(absl::Seconds(1));
  store->schedule()->RunOnce();
  WaitDispatched(store.get());
  int64_t seen = 0;
  std::vector<common::v1::MessageExt> messages = Read(store.get(), &seen);
  ASSERT_EQ(messages.size(), 2u);
  for (const common::v1::MessageExt& m : messages) {
    EXPECT_EQ(m.topic(), kTopic);
    EXPECT_EQ(m.queue_id(), 2);
    const auto& p = m.properties();
    EXPECT_EQ(p.at("UNIQ_KEY"), m.body());
    EXPECT_EQ(p.at("TAGS"), "TagA");
    EXPECT_EQ(p.at(std::string(format::kPropertyRealTopic)), kTopic);
    EXPECT_EQ(p.at(std::string(format::kPropertyRealQueueId)), "2");
    EXPECT_EQ(p.count(std::string(format::kPropertyDelayTimeLevel)), 0u);
    EXPECT_EQ(p.count(std::string(format::kPropertyTimerDeliverMs)), 0u);
    EXPECT_EQ(p.count(std::string(format::kPropertyScheduleDueMs)), 0u);
    EXPECT_EQ(p.count(std::string(format::kPropertyScheduleSource)), 1u);
  }
}

TEST_F(ScheduleServiceTest, FarTimerRollsWithoutMemoryAndArrivesOnTime) {
  std::unique_ptr<MessageStore> store = Open();
  Append(store.get(), {At("far", absl::Minutes(17) + absl::Milliseconds(300))});
  absl::Time due = clock_.Now() + absl::Minutes(17) + absl::Milliseconds(300);
  int64_t seen = 0;
  absl::optional<absl::Time> arrived;
  int64_t max_in_memory_before_last_minute = 0;
  while (clock_.Now() < due + absl::Seconds(1) && !arrived.has_value()) {
    if (!Run(store.get(), &seen).empty()) arrived = clock_.Now();
    if (due - clock_.Now() > absl::Seconds(61)) {
      max_in_memory_before_last_minute =
          std::max(max_in_memory_before_last_minute, store->schedule()->timer_entries_in_memory());
    }
    clock_.Advance(absl::Milliseconds(100));
  }
  ASSERT_TRUE(arrived.has_value());
  EXPECT_EQ(*arrived, due);
  EXPECT_EQ(max_in_memory_before_last_minute, 0);
  // Hops: 16 min, then 1 min, then the final minute in memory.
  EXPECT_EQ(store->schedule()->delivered(), 3);
}

// A crash after delivering and before the checkpoint: recovery finds the
// delivered copies in the log and delivers each entry exactly once.
TEST_F(ScheduleServiceTest, CrashBetweenDeliveryAndCheckpointDeliversNothingTwice) {
  std::string stale_progress;
  {
    std::unique_ptr<MessageStore> store = Open();
    std::vector<v1::AppendEntry> entries;
    for (int i = 0; i < 300; ++i) {
      entries.push_back(i % 2 == 0 ? Level(absl::StrCat("m", i), 1 + i % 3)
                                   : At(absl::StrCat("m", i), absl::Milliseconds(10 * i)));
    }
    Append(store.get(), std::move(entries));
    ASSERT_TRUE(store->schedule()->Checkpoint().ok());
    v1::GetMetadataRequest get;
    get.set_key(std::string(kScheduleProgressKey));
    stale_progress = store->GetMetadata(get)->value();
    // Part of each queue is delivered, then the store "dies" with the
    // checkpoint taken before.
    clock_.Advance(absl::Milliseconds(1500));
    store->schedule()->RunOnce();
    WaitDispatched(store.get());
    EXPECT_GT(store->schedule()->delivered(), 100);
    EXPECT_LT(store->schedule()->delivered(), 300);
  }
  {
    absl::StatusOr<std::unique_ptr<MetadataStore>> metadata =
        MetadataStore::Open(dir_ + "/metadata");
    ASSERT_TRUE(metadata.ok()) << metadata.status();
    ASSERT_TRUE((*metadata)->Put({{std::string(kScheduleProgressKey), stale_progress}}).ok());
  }
  std::unique_ptr<MessageStore> store = Open();
  clock_.Advance(absl::Seconds(5));
  int64_t seen = 0;
  std::vector<std::string> bodies = Run(store.get(), &seen);
  std::map<std::string, int> count;
  for (const std::string& body : bodies) ++count[body];
  EXPECT_EQ(count.size(), 300u);
  for (const auto& [body, n] : count) EXPECT_EQ(n, 1) << body;
}

TEST_F(ScheduleServiceTest, ProgressRoundTrips) {
  ScheduleProgress progress;
  progress.scan_from = 12345;
  progress.low_marks[0] = 7;
  progress.low_marks[kTimerQueueId] = 99;
  absl::StatusOr<ScheduleProgress> back = ScheduleProgress::Decode(progress.Encode());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->scan_from, 12345);
  EXPECT_EQ(back->low_marks, progress.low_marks);
  EXPECT_FALSE(ScheduleProgress::Decode("x").ok());
  EXPECT_FALSE(ScheduleProgress::Decode("1 2").ok());
}

}  // namespace
}  // namespace mq::store
