#include "services/store/consume_queue_table.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace mq::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

ConsumeQueueTableOptions Options(const std::string& root) {
  ConsumeQueueTableOptions options;
  options.dir = absl::StrCat(root, "/consumequeue");
  options.queue.units_per_file = 10;
  return options;
}

std::vector<std::pair<std::string, int32_t>> Ids(
    const std::vector<std::shared_ptr<ConsumeQueue>>& queues) {
  std::vector<std::pair<std::string, int32_t>> ids;
  for (const auto& queue : queues) ids.emplace_back(queue->topic(), queue->queue_id());
  return ids;
}

// Files `count` messages into topic/queue_id, at commit-log offsets base, base + 100, ...
void Fill(ConsumeQueueTable& table, const std::string& topic, int32_t queue_id, int count,
          int64_t base) {
  auto queue = table.FindOrCreate(topic, queue_id);
  ASSERT_TRUE(queue.ok()) << queue.status();
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(
        (*queue)->PutUnit((*queue)->MaxOffset(), PhysicalOffset(base + i * 100), 100, 0).ok());
  }
}

TEST(ConsumeQueueTableTest, CreatesOnDemand) {
  std::string root = testing::MakeTempDir();
  ConsumeQueueTable table(Options(root));
  ASSERT_TRUE(table.Load().ok());
  EXPECT_EQ(table.Find("T", 3), nullptr);
  auto created = table.FindOrCreate("T", 3);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(table.Find("T", 3), *created);
  EXPECT_EQ(*table.FindOrCreate("T", 3), *created);
  EXPECT_EQ((*created)->dir(), absl::StrCat(root, "/consumequeue/T/3"));
  EXPECT_TRUE(std::filesystem::is_directory((*created)->dir()));

  EXPECT_TRUE(absl::IsInvalidArgument(table.FindOrCreate("../etc", 0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(table.FindOrCreate("", 0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(table.FindOrCreate("T", -1).status()));
  EXPECT_THAT(Ids(table.All()), ElementsAre(Pair("T", 3)));
}

TEST(ConsumeQueueTableTest, LoadFindsQueuesOnDisk) {
  std::string root = testing::MakeTempDir();
  {
    ConsumeQueueTable table(Options(root));
    ASSERT_TRUE(table.Load().ok());
    Fill(table, "B", 1, 3, 0);
    Fill(table, "A", 0, 25, 1000);
    Fill(table, "B", 0, 1, 5000);
    ASSERT_TRUE(table.Flush(0).ok());
  }
  std::filesystem::create_directories(absl::StrCat(root, "/consumequeue/B/not-a-queue"));
  std::filesystem::create_directories(absl::StrCat(root, "/consumequeue/bad.topic/0"));
  std::ofstream(absl::StrCat(root, "/consumequeue/stray-file")).close();

  ConsumeQueueTable table(Options(root));
  ASSERT_TRUE(table.Load().ok());
  EXPECT_THAT(Ids(table.All()), ElementsAre(Pair("A", 0), Pair("B", 0), Pair("B", 1)));
  EXPECT_THAT(Ids(table.QueuesOf("B")), ElementsAre(Pair("B", 0), Pair("B", 1)));
  EXPECT_THAT(table.QueuesOf("C"), IsEmpty());
  EXPECT_EQ(table.Find("A", 0)->MaxOffset(), QueueOffset(25));
  EXPECT_EQ(table.Find("B", 1)->MaxOffset(), QueueOffset(3));
  EXPECT_EQ(table.MaxPhysicalOffset(), PhysicalOffset(5100));
}

TEST(ConsumeQueueTableTest, DeleteTopic) {
  std::string root = testing::MakeTempDir();
  ConsumeQueueTable table(Options(root));
  ASSERT_TRUE(table.Load().ok());
  Fill(table, "gone", 0, 12, 0);
  Fill(table, "gone", 1, 2, 0);
  Fill(table, "kept", 0, 2, 0);
  std::shared_ptr<ConsumeQueue> old = table.Find("gone", 0);
  ASSERT_TRUE(table.DeleteTopic("gone").ok());
  EXPECT_TRUE(table.DeleteTopic("never-existed").ok());
  EXPECT_FALSE(std::filesystem::exists(absl::StrCat(root, "/consumequeue/gone")));
  EXPECT_EQ(table.Find("gone", 0), nullptr);
  EXPECT_THAT(Ids(table.All()), ElementsAre(Pair("kept", 0)));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(old->PutUnit(QueueOffset(12), PhysicalOffset(5000), 10, 0)));

  // A topic of the same name starts afresh.
  Fill(table, "gone", 0, 1, 9000);
  EXPECT_EQ(table.Find("gone", 0)->MaxOffset(), QueueOffset(1));
  EXPECT_EQ(table.Find("gone", 0)->GetUnit(QueueOffset(0))->commit_log_offset,
            PhysicalOffset(9000));
}

TEST(ConsumeQueueTableTest, TruncateAndRetentionApplyToEveryQueue) {
  std::string root = testing::MakeTempDir();
  ConsumeQueueTable table(Options(root));
  ASSERT_TRUE(table.Load().ok());
  Fill(table, "A", 0, 25, 0);     // 0 .. 2400
  Fill(table, "B", 0, 15, 1050);  // 1050 .. 2450
  EXPECT_EQ(table.MaxPhysicalOffset(), PhysicalOffset(2550));

  EXPECT_EQ(table.DeleteFilesBelowPhysicalOffset(PhysicalOffset(1100)), 1);
  EXPECT_EQ(table.Find("A", 0)->MinOffset(), QueueOffset(11));
  EXPECT_EQ(table.Find("B", 0)->MinOffset(), QueueOffset(1));

  ASSERT_TRUE(table.TruncateByPhysicalOffset(PhysicalOffset(2000)).ok());
  EXPECT_EQ(table.Find("A", 0)->MaxOffset(), QueueOffset(20));
  EXPECT_EQ(table.Find("B", 0)->MaxOffset(), QueueOffset(10));
  EXPECT_EQ(table.MaxPhysicalOffset(), PhysicalOffset(1950 + 100));
}

}  // namespace
}  // namespace mq::store
