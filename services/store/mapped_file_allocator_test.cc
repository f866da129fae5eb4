#include "services/store/mapped_file_allocator.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/units.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq::store {
namespace {

constexpr int64_t kFileSize = 64_KiB;

bool Exists(const std::string& dir, int64_t offset) {
  return ::access(absl::StrCat(dir, "/", OffsetToFileName(offset)).c_str(), F_OK) == 0;
}

TEST(MappedFileAllocatorTest, TakeWithoutPrepareCreatesSynchronously) {
  std::string dir = testing::MakeTempDir();
  MappedFileAllocator allocator;
  auto file = allocator.Take(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->start_offset(), 0);
  EXPECT_EQ((*file)->file_size(), kFileSize);
  EXPECT_EQ(allocator.stats().created_synchronously, 1);
  EXPECT_EQ(allocator.stats().taken_prepared, 0);
}

TEST(MappedFileAllocatorTest, PreparedFileIsHandedOver) {
  std::string dir = testing::MakeTempDir();
  MappedFileAllocator allocator;
  allocator.Prepare(dir, kFileSize, kFileSize);
  allocator.Prepare(dir, kFileSize, kFileSize);  // a repeat is ignored
  ASSERT_TRUE(testing::WaitUntil([&] { return allocator.stats().prepared == 1; }));
  EXPECT_TRUE(Exists(dir, kFileSize));
  auto file = allocator.Take(dir, kFileSize, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->start_offset(), kFileSize);
  EXPECT_EQ((*file)->write_position(), 0);
  EXPECT_EQ(allocator.stats().taken_prepared, 1);
  EXPECT_EQ(allocator.stats().created_synchronously, 0);
}

TEST(MappedFileAllocatorTest, MisSizedPreparedFileIsReplaced) {
  std::string dir = testing::MakeTempDir();
  MappedFileAllocator allocator;
  allocator.Prepare(dir, 0, kFileSize);
  ASSERT_TRUE(testing::WaitUntil([&] { return allocator.stats().prepared == 1; }));
  auto file = allocator.Take(dir, 0, 2 * kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->file_size(), 2 * kFileSize);
  EXPECT_EQ(allocator.stats().created_synchronously, 1);
}

TEST(MappedFileAllocatorTest, FailedPreparationFallsBackToSynchronousError) {
  MappedFileAllocator allocator;
  allocator.Prepare("/nonexistent/dir", 0, kFileSize);
  auto file = allocator.Take("/nonexistent/dir", 0, kFileSize);
  EXPECT_FALSE(file.ok());
}

TEST(MappedFileAllocatorTest, UntakenFilesAreRemovedOnDestruction) {
  std::string dir = testing::MakeTempDir();
  {
    MappedFileAllocator allocator;
    allocator.Prepare(dir, 0, kFileSize);
    allocator.Prepare(dir, kFileSize, kFileSize);
    ASSERT_TRUE(testing::WaitUntil([&] { return allocator.stats().prepared == 2; }));
    ASSERT_TRUE(allocator.Take(dir, 0, kFileSize).ok());
  }
  EXPECT_TRUE(Exists(dir, 0));
  EXPECT_FALSE(Exists(dir, kFileSize));
}

}  // namespace
}  // namespace mq::store
