#include "services/store/index_file.h"

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

constexpr int64_t kAnyTime = 0;
constexpr int64_t kForever = std::numeric_limits<int64_t>::max();

std::vector<int64_t> LookupAll(const IndexFile& file, uint32_t hash, int64_t begin_ms = kAnyTime,
                               int64_t end_ms = kForever) {
  std::vector<int64_t> offsets;
  file.Lookup(hash, begin_ms, end_ms, [&](int64_t offset) {
    offsets.push_back(offset);
    return true;
  });
  return offsets;
}

std::unique_ptr<IndexFile> CreateOrDie(const std::string& path, int32_t slots, int32_t entries) {
  auto file = IndexFile::Create(path, slots, entries);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *std::move(file) : nullptr;
}

TEST(IndexKeyHashTest, IsJavaStringHashCode) {
  EXPECT_EQ(IndexKeyHash(""), 0u);
  EXPECT_EQ(IndexKeyHash("hello"), 99162322u);
  // "Aa" and "BB" collide in Java, and so here.
  EXPECT_EQ(IndexKeyHash("Aa"), 2112u);
  EXPECT_EQ(IndexKeyHash("BB"), 2112u);
  // Wrapping arithmetic: Java's "TopicTest#KEY_123".hashCode() is negative.
  EXPECT_EQ(static_cast<int32_t>(IndexKeyHash("TopicTest#KEY_123")), -718'299'152);
}

TEST(IndexFileTest, CreateHasRequestedGeometry) {
  std::string path = absl::StrCat(testing::MakeTempDir(), "/00000000000000000000");
  auto file = CreateOrDie(path, 16, 10);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(std::filesystem::file_size(path), static_cast<uintmax_t>(40 + 16 * 4 + 10 * 20));
  EXPECT_EQ(IndexFile::FileSize(5'000'000, 20'000'000), 420'000'040);
  EXPECT_TRUE(file->empty());
  EXPECT_EQ(file->free_entries(), 10);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_TRUE(absl::IsAlreadyExists(IndexFile::Create(path, 16, 10).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(IndexFile::Create(path + "x", 0, 10).status()));
}

TEST(IndexFileTest, LookupReturnsNewestFirst) {
  auto file = CreateOrDie(absl::StrCat(testing::MakeTempDir(), "/idx"), 16, 10);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->Add(7, 100, 5'000).ok());
  ASSERT_TRUE(file->Add(8, 200, 6'000).ok());
  ASSERT_TRUE(file->Add(7, 300, 7'000).ok());
  EXPECT_THAT(LookupAll(*file, 7), ElementsAre(300, 100));
  EXPECT_THAT(LookupAll(*file, 8), ElementsAre(200));
  EXPECT_THAT(LookupAll(*file, 9), IsEmpty());
  EXPECT_EQ(file->entry_count(), 3);
  EXPECT_EQ(file->begin_physical_offset(), 100);
  EXPECT_EQ(file->end_physical_offset(), 300);
  EXPECT_EQ(file->begin_timestamp_ms(), 5'000);
  EXPECT_EQ(file->end_timestamp_ms(), 7'000);

  int visited = 0;
  file->Lookup(7, kAnyTime, kForever, [&](int64_t) { return ++visited < 1; });
  EXPECT_EQ(visited, 1);
}

TEST(IndexFileTest, OneSlotChainsEveryHash) {
  auto file = CreateOrDie(absl::StrCat(testing::MakeTempDir(), "/idx"), 1, 100);
  ASSERT_NE(file, nullptr);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(file->Add(1000 + i % 10, i * 10, 1).ok());
  for (int h = 0; h < 10; ++h) {
    std::vector<int64_t> offsets = LookupAll(*file, 1000 + h);
    ASSERT_EQ(offsets.size(), 10u) << h;
    for (size_t j = 0; j < offsets.size(); ++j) {
      EXPECT_EQ(offsets[j], (90 - 10 * static_cast<int64_t>(j) + h) * 10);
    }
  }
}

TEST(IndexFileTest, RefusesWhenFullOrOutOfOrder) {
  auto file = CreateOrDie(absl::StrCat(testing::MakeTempDir(), "/idx"), 4, 2);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->Add(1, 100, 1).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(file->Add(1, 99, 1)));
  ASSERT_TRUE(file->Add(1, 100, 1).ok());
  EXPECT_EQ(file->free_entries(), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(file->Add(1, 200, 1)));
  EXPECT_THAT(LookupAll(*file, 1), ElementsAre(100, 100));
}

TEST(IndexFileTest, ReopenKeepsEntriesAndHeader) {
  std::string path = absl::StrCat(testing::MakeTempDir(), "/idx");
  {
    auto file = CreateOrDie(path, 8, 20);
    ASSERT_NE(file, nullptr);
    for (int i = 0; i < 12; ++i) ASSERT_TRUE(file->Add(i % 4, 1000 + i, 50'000 + i * 1000).ok());
    ASSERT_TRUE(file->Flush().ok());
  }
  auto file = IndexFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->slot_count(), 8);
  EXPECT_EQ((*file)->max_entries(), 20);
  EXPECT_EQ((*file)->entry_count(), 12);
  EXPECT_EQ((*file)->begin_timestamp_ms(), 50'000);
  EXPECT_EQ((*file)->end_timestamp_ms(), 61'000);
  EXPECT_EQ((*file)->begin_physical_offset(), 1000);
  EXPECT_EQ((*file)->end_physical_offset(), 1011);
  EXPECT_THAT(LookupAll(**file, 3), ElementsAre(1011, 1007, 1003));
  ASSERT_TRUE((*file)->Add(3, 2000, 70'000).ok());
  EXPECT_THAT(LookupAll(**file, 3), ElementsAre(2000, 1011, 1007, 1003));
}

TEST(IndexFileTest, TimeWindowAtSecondGranularity) {
  auto file = CreateOrDie(absl::StrCat(testing::MakeTempDir(), "/idx"), 8, 20);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->Add(5, 1, 10'000).ok());
  ASSERT_TRUE(file->Add(5, 2, 12'500).ok());
  ASSERT_TRUE(file->Add(5, 3, 15'000).ok());
  EXPECT_THAT(LookupAll(*file, 5, 12'000, 13'000), ElementsAre(2));
  EXPECT_THAT(LookupAll(*file, 5, 12'400, 12'600), ElementsAre(2));
  EXPECT_THAT(LookupAll(*file, 5, 13'000, 14'000), IsEmpty());
  EXPECT_THAT(LookupAll(*file, 5, 0, 10'000), ElementsAre(1));
  EXPECT_THAT(LookupAll(*file, 5, 14'000, kForever), ElementsAre(3));
  EXPECT_THAT(LookupAll(*file, 5, 20'000, kForever), IsEmpty());
}

TEST(IndexFileTest, TruncateDropsNewerEntriesAndRebuildsChains) {
  std::string path = absl::StrCat(testing::MakeTempDir(), "/idx");
  auto file = CreateOrDie(path, 2, 20);
  ASSERT_NE(file, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(file->Add(i % 3, i * 100, 1'000 + i * 1000).ok());
  file->TruncateByPhysicalOffset(450);
  EXPECT_EQ(file->entry_count(), 5);
  EXPECT_EQ(file->end_physical_offset(), 400);
  EXPECT_EQ(file->end_timestamp_ms(), 5'000);
  EXPECT_THAT(LookupAll(*file, 0), ElementsAre(300, 0));
  EXPECT_THAT(LookupAll(*file, 1), ElementsAre(400, 100));
  EXPECT_THAT(LookupAll(*file, 2), ElementsAre(200));
  // Re-dispatch continues after the cut.
  ASSERT_TRUE(file->Add(2, 500, 6'000).ok());
  EXPECT_THAT(LookupAll(*file, 2), ElementsAre(500, 200));
  file.reset();

  auto reopened = IndexFile::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->entry_count(), 6);
  EXPECT_THAT(LookupAll(**reopened, 0), ElementsAre(300, 0));
  (*reopened)->TruncateByPhysicalOffset(0);
  EXPECT_TRUE((*reopened)->empty());
  EXPECT_THAT(LookupAll(**reopened, 0), IsEmpty());
  EXPECT_EQ((*reopened)->end_physical_offset(), 0);
}

TEST(IndexFileTest, CorruptHeaderIsDataLoss) {
  std::string path = absl::StrCat(testing::MakeTempDir(), "/idx");
  ASSERT_NE(CreateOrDie(path, 8, 20), nullptr);
  {
    std::fstream stream(path, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekp(36);
    const char huge_count[4] = {0x10, 0, 0, 0};
    stream.write(huge_count, 4);
  }
  EXPECT_TRUE(absl::IsDataLoss(IndexFile::Open(path).status()));
  std::filesystem::resize_file(path, 41);
  EXPECT_TRUE(absl::IsDataLoss(IndexFile::Open(path).status()));
}

TEST(IndexFileTest, CorruptChainIsCutShort) {
  std::string path = absl::StrCat(testing::MakeTempDir(), "/idx");
  {
    auto file = CreateOrDie(path, 1, 4);
    ASSERT_NE(file, nullptr);
    ASSERT_TRUE(file->Add(1, 10, 1).ok());
    ASSERT_TRUE(file->Add(1, 20, 1).ok());
  }
  {
    // Entry 2's previous-entry link (header 40 + one slot 4 + entry 1 20 +
    // offset 16) now points at itself.
    std::fstream stream(path, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekp(40 + 4 + 20 + 16);
    const char self[4] = {0, 0, 0, 2};
    stream.write(self, 4);
  }
  auto file = IndexFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(LookupAll(**file, 1), ElementsAre(20));
}

TEST(IndexFileTest, DestroyUnlinks) {
  std::string path = absl::StrCat(testing::MakeTempDir(), "/idx");
  auto file = CreateOrDie(path, 8, 20);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->Add(1, 10, 1).ok());
  ASSERT_TRUE(file->Destroy().ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_THAT(LookupAll(*file, 1), ElementsAre(10));
}

}  // namespace
}  // namespace mq::store
