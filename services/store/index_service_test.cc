#include "services/store/index_service.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace mq::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::unique_ptr<IndexService> OpenOrDie(const std::string& dir, int32_t slots = 64,
                                        int32_t entries = 1000) {
  IndexServiceOptions options;
  options.dir = dir;
  options.slot_count = slots;
  options.max_entries = entries;
  auto service = IndexService::Open(options);
  EXPECT_TRUE(service.ok()) << service.status();
  return service.ok() ? *std::move(service) : nullptr;
}

std::vector<std::string> FileNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(IndexServiceTest, FindsByKeyAndByUniqueId) {
  auto index = OpenOrDie(absl::StrCat(testing::MakeTempDir(), "/index"));
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(index->Put("T", "k1 k2", "U1", 0, 1'000).ok());
  ASSERT_TRUE(index->Put("T", "  k2  ", "U2", 100, 2'000).ok());
  ASSERT_TRUE(index->Put("Other", "k2", "", 200, 3'000).ok());
  ASSERT_TRUE(index->Put("T", "", "", 300, 4'000).ok());

  EXPECT_THAT(index->Query("T", "k2", 10), ElementsAre(100, 0));
  EXPECT_THAT(index->Query("T", "k1", 10), ElementsAre(0));
  EXPECT_THAT(index->Query("T", "U1", 10), ElementsAre(0));
  EXPECT_THAT(index->Query("T", "U2", 10), ElementsAre(100));
  EXPECT_THAT(index->Query("Other", "k2", 10), ElementsAre(200));
  EXPECT_THAT(index->Query("T", "k2", 1), ElementsAre(100));
  EXPECT_THAT(index->Query("T", "k3", 10), IsEmpty());
  EXPECT_THAT(index->Query("T", "k2", 0), IsEmpty());
  EXPECT_EQ(index->LastIndexedPhysicalOffset(), 200);
}

TEST(IndexServiceTest, SkipsAlreadyIndexedAndDropsDuplicates) {
  auto index = OpenOrDie(absl::StrCat(testing::MakeTempDir(), "/index"));
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(index->Put("T", "a", "", 100, 1'000).ok());
  ASSERT_TRUE(index->Put("T", "a b", "", 200, 1'000).ok());
  // Re-dispatch after a restart: older records are skipped, the last one is
  // filed again but reported once.
  ASSERT_TRUE(index->Put("T", "a", "", 100, 1'000).ok());
  ASSERT_TRUE(index->Put("T", "a b a", "", 200, 1'000).ok());
  EXPECT_THAT(index->Query("T", "a", 10), ElementsAre(200, 100));
  EXPECT_THAT(index->Query("T", "b", 10), ElementsAre(200));
}

TEST(IndexServiceTest, HashCollisionsAreCandidates) {
  // One slot: every key shares a chain.
  auto index = OpenOrDie(absl::StrCat(testing::MakeTempDir(), "/index"), 1, 1000);
  ASSERT_NE(index, nullptr);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(index->Put("T", absl::StrCat("key-", i % 100), "", i * 10, 1'000).ok());
  }
  for (int k = 0; k < 100; ++k) {
    EXPECT_THAT(index->Query("T", absl::StrCat("key-", k), 10),
                ElementsAre((200 + k) * 10, (100 + k) * 10, k * 10))
        << k;
  }
  // "Aa" and "BB" have the same 32-bit hash: both come back for either key,
  // and the caller checks the record.
  ASSERT_TRUE(index->Put("T", "Aa", "", 5'000, 2'000).ok());
  ASSERT_TRUE(index->Put("T", "BB", "", 5'100, 2'000).ok());
  EXPECT_THAT(index->Query("T", "Aa", 10), ElementsAre(5'100, 5'000));
}

TEST(IndexServiceTest, RollsOverToNewFilesNamedByFirstOffset) {
  std::string dir = absl::StrCat(testing::MakeTempDir(), "/index");
  auto index = OpenOrDie(dir, 4, 5);
  ASSERT_NE(index, nullptr);
  // Two keys per message: two messages fill four of five entries; the third
  // message does not fit in the one left and starts a new file.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(index->Put("T", "shared", absl::StrCat("u", i), 1000 + i * 100, 10'000).ok());
  }
  EXPECT_EQ(index->file_count(), 3);
  EXPECT_THAT(FileNames(dir),
              ElementsAre("00000000000000001000", "00000000000000001200", "00000000000000001400"));
  EXPECT_THAT(index->Query("T", "shared", 100), ElementsAre(1500, 1400, 1300, 1200, 1100, 1000));
  EXPECT_THAT(index->Query("T", "shared", 3), ElementsAre(1500, 1400, 1300));
  EXPECT_THAT(index->Query("T", "u0", 10), ElementsAre(1000));
  EXPECT_THAT(index->Query("T", "u5", 10), ElementsAre(1500));

  // More keys than a file holds: the first five are filed, in a file of its own.
  ASSERT_TRUE(index->Put("T", "a b c d e f g", "", 2000, 10'000).ok());
  EXPECT_EQ(index->file_count(), 4);
  EXPECT_THAT(index->Query("T", "e", 10), ElementsAre(2000));
  EXPECT_THAT(index->Query("T", "f", 10), IsEmpty());
}

TEST(IndexServiceTest, ReopenKeepsEverything) {
  std::string dir = absl::StrCat(testing::MakeTempDir(), "/index");
  {
    auto index = OpenOrDie(dir, 4, 5);
    ASSERT_NE(index, nullptr);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(index->Put("T", absl::StrCat("k", i % 2), "", i * 10, 1'000 + i).ok());
    }
    EXPECT_EQ(index->FlushedPhysicalOffset(), -1);
    ASSERT_TRUE(index->Flush().ok());
    EXPECT_EQ(index->FlushedPhysicalOffset(), 90);
    EXPECT_EQ(index->FlushedTimestampMs(), 1'009);
  }
  // Other options do not matter for files already written.
  auto index = OpenOrDie(dir, 1000, 1000);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->file_count(), 2);
  EXPECT_EQ(index->LastIndexedPhysicalOffset(), 90);
  EXPECT_THAT(index->Query("T", "k1", 100), ElementsAre(90, 70, 50, 30, 10));
  ASSERT_TRUE(index->Put("T", "k1", "", 100, 2'000).ok());
  EXPECT_THAT(index->Query("T", "k1", 2), ElementsAre(100, 90));
}

TEST(IndexServiceTest, TimeWindow) {
  auto index = OpenOrDie(absl::StrCat(testing::MakeTempDir(), "/index"), 8, 4);
  ASSERT_NE(index, nullptr);
  // Store times 100 s apart, across several files.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(index->Put("T", "k", "", i * 10, 1'000'000 + i * 100'000).ok());
  }
  EXPECT_THAT(index->Query("T", "k", 100, 1'250'000, 1'650'000), ElementsAre(60, 50, 40, 30));
  EXPECT_THAT(index->Query("T", "k", 100, 1'300'000, 1'300'000), ElementsAre(30));
  EXPECT_THAT(index->Query("T", "k", 100, 0, 999'000), IsEmpty());
  EXPECT_THAT(index->Query("T", "k", 100, 1'900'000), ElementsAre(90));
  EXPECT_THAT(index->Query("T", "k", 100, 2'000'000, 1'000'000), IsEmpty());
}

TEST(IndexServiceTest, TruncateForgetsNewerMessagesForRedispatch) {
  std::string dir = absl::StrCat(testing::MakeTempDir(), "/index");
  auto index = OpenOrDie(dir, 4, 4);
  ASSERT_NE(index, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(index->Put("T", "k", "", i * 100, 1'000).ok());
  EXPECT_EQ(index->file_count(), 3);
  ASSERT_TRUE(index->Flush().ok());

  ASSERT_TRUE(index->TruncateByPhysicalOffset(550).ok());
  EXPECT_EQ(index->file_count(), 2);
  EXPECT_EQ(index->LastIndexedPhysicalOffset(), 500);
  EXPECT_EQ(index->FlushedPhysicalOffset(), 500);
  EXPECT_EQ(index->FlushedTimestampMs(), 1'000);
  EXPECT_THAT(index->Query("T", "k", 100), ElementsAre(500, 400, 300, 200, 100, 0));

  // The commit log now holds different records from 550 on.
  ASSERT_TRUE(index->Put("T", "new", "", 550, 2'000).ok());
  ASSERT_TRUE(index->Put("T", "new", "", 650, 2'000).ok());
  EXPECT_THAT(index->Query("T", "new", 100), ElementsAre(650, 550));
  EXPECT_THAT(index->Query("T", "k", 100), ElementsAre(500, 400, 300, 200, 100, 0));

  ASSERT_TRUE(index->TruncateByPhysicalOffset(0).ok());
  EXPECT_EQ(index->file_count(), 0);
  EXPECT_EQ(index->LastIndexedPhysicalOffset(), -1);
  EXPECT_TRUE(FileNames(dir).empty());
}

TEST(IndexServiceTest, RetentionDeletesFilesBelowOffsetButNotTheNewest) {
  std::string dir = absl::StrCat(testing::MakeTempDir(), "/index");
  auto index = OpenOrDie(dir, 4, 2);
  ASSERT_NE(index, nullptr);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(index->Put("T", "k", "", i * 100, 1'000).ok());
  ASSERT_EQ(index->file_count(), 4);  // [0,100] [200,300] [400,500] [600,700]
  EXPECT_EQ(index->DeleteFilesBelowPhysicalOffset(300), 1);
  EXPECT_EQ(index->DeleteFilesBelowPhysicalOffset(301), 1);
  EXPECT_THAT(index->Query("T", "k", 100), ElementsAre(700, 600, 500, 400));
  EXPECT_EQ(index->DeleteFilesBelowPhysicalOffset(10'000), 1);
  EXPECT_EQ(index->file_count(), 1);
  EXPECT_THAT(FileNames(dir), ElementsAre("00000000000000000600"));
}

TEST(IndexServiceTest, UnreadableFileIsDroppedAtOpen) {
  std::string dir = absl::StrCat(testing::MakeTempDir(), "/index");
  {
    auto index = OpenOrDie(dir, 4, 2);
    ASSERT_NE(index, nullptr);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(index->Put("T", "k", "", i * 100, 1'000).ok());
  }
  std::filesystem::resize_file(absl::StrCat(dir, "/00000000000000000000"), 20);
  std::ofstream(absl::StrCat(dir, "/README")) << "not an index file";
  auto index = OpenOrDie(dir, 4, 2);
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->file_count(), 1);
  EXPECT_THAT(index->Query("T", "k", 100), ElementsAre(300, 200));
}

TEST(IndexServiceTest, QueriesRunConcurrentlyWithPuts) {
  auto index = OpenOrDie(absl::StrCat(testing::MakeTempDir(), "/index"), 16, 50);
  ASSERT_NE(index, nullptr);
  constexpr int kMessages = 2000;
  std::atomic<int> indexed{0};
  std::thread writer([&] {
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_TRUE(index->Put("T", absl::StrCat("k", i % 7), absl::StrCat("u", i), i, 1'000).ok());
      indexed.store(i + 1, std::memory_order_release);
    }
  });
  std::thread reader([&] {
    while (indexed.load(std::memory_order_acquire) < kMessages) {
      int done = indexed.load(std::memory_order_acquire);
      if (done == 0) continue;
      int probe = done - 1;
      EXPECT_THAT(index->Query("T", absl::StrCat("u", probe), 5), ElementsAre(probe));
      std::vector<int64_t> recent = index->Query("T", absl::StrCat("k", probe % 7), 2);
      ASSERT_FALSE(recent.empty());
      EXPECT_GE(recent.front(), probe);
    }
  });
  writer.join();
  reader.join();
  EXPECT_THAT(index->Query("T", "u1234", 5), UnorderedElementsAre(1234));
  EXPECT_EQ(index->file_count(), kMessages / 25);
}

}  // namespace
}  // namespace mq::store
