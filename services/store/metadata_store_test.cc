#include "services/store/metadata_store.h"

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
using ::testing::HasSubstr;
using ::testing::Optional;

MATCHER_P2(IsEntry, key, value, "") { return arg.key == key && arg.value == value; }

std::unique_ptr<MetadataStore> OpenOrDie(const std::string& dir) {
  auto store = MetadataStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

void FlipByte(const std::string& path, std::streamoff position) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file.is_open()) << path;
  file.seekg(position);
  char byte = 0;
  file.read(&byte, 1);
  byte ^= 0x5a;
  file.seekp(position);
  file.write(&byte, 1);
}

TEST(MetadataStoreTest, EmptyDirectoryOpensEmpty) {
  std::string dir = absl::StrCat(testing::MakeTempDir(), "/config");
  auto store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->size(), 0u);
  EXPECT_EQ(store->Get("anything"), absl::nullopt);
  EXPECT_TRUE(std::filesystem::is_directory(dir));
}

TEST(MetadataStoreTest, RoundTripGetListDelete) {
  auto store = OpenOrDie(testing::MakeTempDir());
  ASSERT_NE(store, nullptr);
  std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(store
                  ->Put({{"topic/A", "config-a"},
                         {"topic/B", "config-b"},
                         {"offset/A@g", binary},
                         {"topicX", "not under topic/"}})
                  .ok());
  EXPECT_THAT(store->Get("topic/A"), Optional(std::string("config-a")));
  EXPECT_THAT(store->Get("offset/A@g"), Optional(binary));
  EXPECT_THAT(store->List("topic/"),
              ElementsAre(IsEntry("topic/A", "config-a"), IsEntry("topic/B", "config-b")));
  EXPECT_EQ(store->List("").size(), 4u);
  EXPECT_TRUE(store->List("zzz").empty());

  ASSERT_TRUE(store->Put({{"topic/A", "", true}, {"missing", "", true}}).ok());
  EXPECT_EQ(store->Get("topic/A"), absl::nullopt);
  EXPECT_EQ(store->size(), 3u);
}

TEST(MetadataStoreTest, LaterMutationInBatchWins) {
  auto store = OpenOrDie(testing::MakeTempDir());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put({{"k", "1"}, {"k", "", true}, {"k", "3"}}).ok());
  EXPECT_THAT(store->Get("k"), Optional(std::string("3")));
}

TEST(MetadataStoreTest, InvalidBatchChangesNothing) {
  std::string dir = testing::MakeTempDir();
  auto store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put({{"keep", "v1"}}).ok());
  absl::Status status = store->Put({{"keep", "v2"}, {"new", "x"}, {"", "empty key"}});
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(store->Get("keep"), Optional(std::string("v1")));
  EXPECT_EQ(store->Get("new"), absl::nullopt);
  store.reset();
  store = OpenOrDie(dir);
  EXPECT_THAT(store->Get("keep"), Optional(std::string("v1")));
  EXPECT_EQ(store->Get("new"), absl::nullopt);
}

// Keys are names, and a batch is bounded: the table is rewritten on every Put.
TEST(MetadataStoreTest, BadKeysAndOversizedBatchesAreRefused) {
  std::string dir = testing::MakeTempDir();
  auto store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  for (const std::string& key : {std::string(256, 'k'), std::string("a b"), std::string("nu\0l", 4),
                                 std::string("caf\xc3\xa9"), std::string("line\n")}) {
    absl::Status status = store->Put({{key, "v"}});
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    EXPECT_LT(status.message().size(), 200u);
  }
  EXPECT_TRUE(
      absl::IsInvalidArgument(store->Put({{"big", std::string(kMaxMetadataBatchBytes, 'v')}})));
  EXPECT_EQ(store->size(), 0u);
  EXPECT_TRUE(
      store->Put({{"topics", "v"}, {"consumer_offsets", "v"}, {"a/b:c.d%e|f-g_h", "v"}}).ok());
}

TEST(MetadataStoreTest, FailedWriteChangesNothing) {
  std::string dir = testing::MakeTempDir();
  auto store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put({{"keep", "v1"}}).ok());
  // A directory where the temp file should go makes the write fail.
  std::filesystem::create_directory(absl::StrCat(dir, "/", MetadataStore::kTempFileName));
  absl::Status status = store->Put({{"keep", "v2"}, {"new", "x"}});
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(store->Get("keep"), Optional(std::string("v1")));
  EXPECT_EQ(store->Get("new"), absl::nullopt);
}

TEST(MetadataStoreTest, ReopenKeepsData) {
  std::string dir = testing::MakeTempDir();
  {
    auto store = OpenOrDie(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put({{"a", "1"}, {"b", "2"}}).ok());
    ASSERT_TRUE(store->Put({{"a", "", true}, {"c", "3"}}).ok());
  }
  auto store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->List(""), ElementsAre(IsEntry("b", "2"), IsEntry("c", "3")));
}

TEST(MetadataStoreTest, CorruptFileFallsBackToBackup) {
  std::string dir = testing::MakeTempDir();
  {
    auto store = OpenOrDie(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put({{"a", "old"}}).ok());
    ASSERT_TRUE(store->Put({{"a", "new"}}).ok());
  }
  const std::string main_path = absl::StrCat(dir, "/", MetadataStore::kFileName);
  const std::string backup_path = absl::StrCat(dir, "/", MetadataStore::kBackupFileName);
  FlipByte(main_path, static_cast<std::streamoff>(std::filesystem::file_size(main_path) - 1));
  {
    auto store = OpenOrDie(dir);
    ASSERT_NE(store, nullptr);
    EXPECT_THAT(store->Get("a"), Optional(std::string("old")));
    // The next write must not turn the damaged file into the backup.
    ASSERT_TRUE(store->Put({{"b", "2"}}).ok());
  }
  // Both files are good again: damage the new main file, the backup still holds {a=old}.
  FlipByte(main_path, 0);
  auto store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->List(""), ElementsAre(IsEntry("a", "old")));
  EXPECT_TRUE(std::filesystem::exists(backup_path));
}

TEST(MetadataStoreTest, MissingMainFileUsesBackup) {
  std::string dir = testing::MakeTempDir();
  {
    auto store = OpenOrDie(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put({{"a", "1"}}).ok());
    ASSERT_TRUE(store->Put({{"a", "2"}}).ok());
  }
  // The state a crash between the two renames leaves behind.
  std::filesystem::remove(absl::StrCat(dir, "/", MetadataStore::kFileName));
  auto store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->Get("a"), Optional(std::string("1")));
}

TEST(MetadataStoreTest, BothCorruptIsAnError) {
  std::string dir = testing::MakeTempDir();
  {
    auto store = OpenOrDie(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put({{"a", "1"}}).ok());
    ASSERT_TRUE(store->Put({{"a", "2"}}).ok());
  }
  FlipByte(absl::StrCat(dir, "/", MetadataStore::kFileName), 25);
  FlipByte(absl::StrCat(dir, "/", MetadataStore::kBackupFileName), 25);
  auto store = MetadataStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsDataLoss(store.status())) << store.status();
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("backup"));
}

TEST(MetadataStoreTest, CorruptWithoutBackupIsAnError) {
  std::string dir = testing::MakeTempDir();
  {
    auto store = OpenOrDie(dir);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Put({{"a", "1"}}).ok());
  }
  std::filesystem::resize_file(absl::StrCat(dir, "/", MetadataStore::kFileName), 10);
  auto store = MetadataStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsDataLoss(store.status())) << store.status();
}

TEST(MetadataStoreTest, ConcurrentPutsAndReads) {
  std::string dir = testing::MakeTempDir();
  auto store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPutsPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kPutsPerThread; ++i) {
        std::string key = absl::StrCat("t", t, "/", i);
        // Both keys of a batch appear together or not at all.
        ASSERT_TRUE(store->Put({{key + "/x", "v"}, {key + "/y", "v"}}).ok());
        for (const auto& entry : store->List(absl::StrCat("t", t, "/"))) {
          EXPECT_EQ(entry.value, "v");
        }
        EXPECT_EQ(store->List("").size() % 2, 0u);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store->size(), static_cast<size_t>(2 * kThreads * kPutsPerThread));
  store.reset();
  store = OpenOrDie(dir);
  EXPECT_EQ(store->size(), static_cast<size_t>(2 * kThreads * kPutsPerThread));
}

}  // namespace
}  // namespace mq::store
