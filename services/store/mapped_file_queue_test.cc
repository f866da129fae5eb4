#include "services/store/mapped_file_queue.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/units.h"
#include "gtest/gtest.h"
#include "services/store/mapped_file_allocator.h"
#include "testing/mapped_files.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq::store {
namespace {

constexpr int64_t kFileSize = 64_KiB;

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string FilePath(const std::string& dir, int64_t offset) {
  return absl::StrCat(dir, "/", OffsetToFileName(offset));
}

MappedFileQueueOptions Options(const std::string& dir, MappedFileAllocator* allocator = nullptr) {
  MappedFileQueueOptions options;
  options.dir = dir;
  options.file_size = kFileSize;
  options.allocator = allocator;
  return options;
}

TEST(MappedFileQueueTest, EmptyQueue) {
  MappedFileQueue queue(Options(testing::MakeTempDir()));
  ASSERT_TRUE(queue.Load().ok());
  EXPECT_EQ(queue.FirstFile(), nullptr);
  EXPECT_EQ(queue.LastFile(), nullptr);
  EXPECT_EQ(queue.FindFileByOffset(0), nullptr);
  EXPECT_EQ(queue.MinOffset(), 0);
  EXPECT_EQ(queue.MaxOffset(), 0);
  auto flushed = queue.Flush(0);
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, 0);
}

TEST(MappedFileQueueTest, FirstFileStartsAtTheAlignedStartOffset) {
  std::string dir = testing::MakeTempDir();
  MappedFileQueue queue(Options(dir));
  ASSERT_TRUE(queue.Load().ok());
  auto file = queue.GetOrCreateLastFile(3 * kFileSize + 100);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->start_offset(), 3 * kFileSize);
  EXPECT_TRUE(Exists(FilePath(dir, 3 * kFileSize)));
  EXPECT_EQ(queue.MinOffset(), 3 * kFileSize);
  EXPECT_EQ(queue.MaxOffset(), 3 * kFileSize);
  // Flushing starts from the first file even though the flushed offset is 0.
  ASSERT_TRUE((*file)->Append(std::string("x")));
  auto flushed = queue.Flush(0);
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  EXPECT_EQ(*flushed, 3 * kFileSize + 1);
}

TEST(MappedFileQueueTest, RollsOverAndFindsFilesByOffset) {
  std::string dir = testing::MakeTempDir();
  MappedFileQueue queue(Options(dir));
  ASSERT_TRUE(queue.Load().ok());
  testing::AppendAcrossFiles(queue, 2 * kFileSize + 10, 'a');
  ASSERT_EQ(queue.Files().size(), 3u);
  EXPECT_EQ(queue.MaxOffset(), 2 * kFileSize + 10);
  EXPECT_EQ(queue.FindFileByOffset(0)->start_offset(), 0);
  EXPECT_EQ(queue.FindFileByOffset(kFileSize - 1)->start_offset(), 0);
  EXPECT_EQ(queue.FindFileByOffset(kFileSize)->start_offset(), kFileSize);
  EXPECT_EQ(queue.FindFileByOffset(2 * kFileSize + 500)->start_offset(), 2 * kFileSize);
  EXPECT_EQ(queue.FindFileByOffset(3 * kFileSize), nullptr);
  EXPECT_EQ(queue.FindFileByOffset(-1), nullptr);
  EXPECT_EQ(queue.LastFile()->start_offset(), 2 * kFileSize);
  // The last file has room, so it is returned as is.
  auto last = queue.GetOrCreateLastFile(0);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, queue.LastFile());
}

TEST(MappedFileQueueTest, FlushWalksFileByFile) {
  MappedFileQueue queue(Options(testing::MakeTempDir()));
  ASSERT_TRUE(queue.Load().ok());
  testing::AppendAcrossFiles(queue, kFileSize + 3 * kOsPageSizeBytes, 'f');
  // Least-pages does not hold back a full file.
  auto flushed = queue.Flush(4);
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  EXPECT_EQ(*flushed, kFileSize);
  // Only 3 dirty pages in the second file.
  flushed = queue.Flush(4);
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, kFileSize);
  flushed = queue.Flush(0);
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, kFileSize + 3 * kOsPageSizeBytes);
  EXPECT_EQ(queue.FlushedOffset(), *flushed);
}

TEST(MappedFileQueueTest, PeriodicFlushLeavesTheTailPageToTheNextFlush) {
  MappedFileQueue queue(Options(testing::MakeTempDir()));
  ASSERT_TRUE(queue.Load().ok());
  testing::AppendAcrossFiles(queue, 4 * kOsPageSizeBytes + 100, 'p');
  queue.LastFile()->set_store_timestamp_ms(1000);
  auto flushed = queue.Flush(4);
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  EXPECT_EQ(*flushed, 4 * kOsPageSizeBytes);
  // The newest record is not all on disk: its timestamp is not claimed.
  EXPECT_EQ(queue.FlushedStoreTimestamp(), 0);
  // The writer moves on; the tail page goes out with the next whole pages.
  testing::AppendAcrossFiles(queue, 4 * kOsPageSizeBytes, 'q');
  flushed = queue.Flush(4);
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, 8 * kOsPageSizeBytes);
  // A thorough flush takes everything and the timestamp with it.
  flushed = queue.Flush(0);
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, 8 * kOsPageSizeBytes + 100);
  EXPECT_EQ(queue.FlushedStoreTimestamp(), 1000);
}

TEST(MappedFileQueueTest, FlushCapturesTheStoreTimestamp) {
  MappedFileQueue queue(Options(testing::MakeTempDir()));
  ASSERT_TRUE(queue.Load().ok());
  testing::AppendAcrossFiles(queue, 10, 'a');
  queue.LastFile()->set_store_timestamp_ms(1000);
  ASSERT_TRUE(queue.Flush(0).ok());
  EXPECT_EQ(queue.FlushedStoreTimestamp(), 1000);
  // Nothing dirty: no flush, the timestamp stays.
  queue.LastFile()->set_store_timestamp_ms(2000);
  ASSERT_TRUE(queue.Flush(0).ok());
  EXPECT_EQ(queue.FlushedStoreTimestamp(), 1000);
}

TEST(MappedFileQueueTest, ReloadsAfterReopen) {
  std::string dir = testing::MakeTempDir();
  {
    MappedFileQueue queue(Options(dir));
    ASSERT_TRUE(queue.Load().ok());
    testing::AppendAcrossFiles(queue, kFileSize, 'a');
    testing::AppendAcrossFiles(queue, kFileSize, 'b');
    testing::AppendAcrossFiles(queue, 100, 'c');
    ASSERT_TRUE(queue.Flush(0).ok());
  }
  MappedFileQueue queue(Options(dir));
  ASSERT_TRUE(queue.Load().ok());
  ASSERT_EQ(queue.Files().size(), 3u);
  EXPECT_EQ(queue.MinOffset(), 0);
  // Loaded files count as full until recovery truncates.
  EXPECT_EQ(queue.MaxOffset(), 3 * kFileSize);
  EXPECT_EQ(queue.FindFileByOffset(kFileSize)->Read(0, 3), "bbb");
  EXPECT_EQ(queue.FindFileByOffset(2 * kFileSize)->Read(0, 101), std::string(100, 'c') + '\0');
  ASSERT_TRUE(queue.TruncateDirtyFiles(2 * kFileSize + 100).ok());
  EXPECT_EQ(queue.MaxOffset(), 2 * kFileSize + 100);
  EXPECT_EQ(queue.FlushedOffset(), 2 * kFileSize + 100);
  testing::AppendAcrossFiles(queue, 5, 'd');
  EXPECT_EQ(queue.FindFileByOffset(2 * kFileSize)->Read(98, 7), "ccddddd");
}

TEST(MappedFileQueueTest, TruncateDeletesFilesPastTheOffset) {
  std::string dir = testing::MakeTempDir();
  MappedFileQueue queue(Options(dir));
  ASSERT_TRUE(queue.Load().ok());
  testing::AppendAcrossFiles(queue, 3 * kFileSize + 50, 't');
  ASSERT_TRUE(queue.Flush(0).ok());
  ASSERT_TRUE(queue.Flush(0).ok());
  ASSERT_EQ(queue.Files().size(), 4u);

  ASSERT_TRUE(queue.TruncateDirtyFiles(kFileSize + 7).ok());
  EXPECT_EQ(queue.Files().size(), 2u);
  EXPECT_EQ(queue.MaxOffset(), kFileSize + 7);
  EXPECT_LE(queue.FlushedOffset(), kFileSize + 7);
  EXPECT_FALSE(Exists(FilePath(dir, 2 * kFileSize)));
  EXPECT_FALSE(Exists(FilePath(dir, 3 * kFileSize)));
  EXPECT_TRUE(Exists(FilePath(dir, kFileSize)));
  // The log continues from the truncation point.
  testing::AppendAcrossFiles(queue, kFileSize, 'n');
  EXPECT_EQ(queue.MaxOffset(), 2 * kFileSize + 7);
  EXPECT_EQ(queue.FindFileByOffset(kFileSize)->Read(6, 2), "tn");

  // Truncating at a file boundary keeps the file starting there, empty.
  ASSERT_TRUE(queue.TruncateDirtyFiles(2 * kFileSize).ok());
  EXPECT_EQ(queue.LastFile()->start_offset(), 2 * kFileSize);
  EXPECT_EQ(queue.LastFile()->write_position(), 0);
}

// Only the last file may have been cut short while it was written: it is
// restored to its size (recovery then finds where its data ends). A short
// file before it, a longer one, or a gap cannot be repaired here.
TEST(MappedFileQueueTest, LoadRestoresAShortLastFileAndRefusesOtherDamage) {
  std::string dir = testing::MakeTempDir();
  {
    MappedFileQueue queue(Options(dir));
    ASSERT_TRUE(queue.Load().ok());
    testing::AppendAcrossFiles(queue, 2 * kFileSize + 1, 'a');
  }
  ASSERT_EQ(::truncate(FilePath(dir, 2 * kFileSize).c_str(), 10), 0);
  {
    MappedFileQueue queue(Options(dir));
    ASSERT_TRUE(queue.Load().ok());
    EXPECT_EQ(std::filesystem::file_size(FilePath(dir, 2 * kFileSize)), kFileSize);
    EXPECT_EQ(queue.Files().size(), 3u);
  }
  // A short file that is not the last: refused, naming it and what to do.
  ASSERT_EQ(::truncate(FilePath(dir, kFileSize).c_str(), kFileSize / 2), 0);
  absl::Status status = MappedFileQueue(Options(dir)).Load();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find(FilePath(dir, kFileSize)), std::string::npos) << status;
  EXPECT_NE(status.message().find("not the last file"), std::string::npos) << status;
  // A longer last file: another file size was configured.
  ASSERT_EQ(::truncate(FilePath(dir, kFileSize).c_str(), kFileSize), 0);
  ASSERT_EQ(::truncate(FilePath(dir, 2 * kFileSize).c_str(), 2 * kFileSize), 0);
  EXPECT_EQ(MappedFileQueue(Options(dir)).Load().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(::truncate(FilePath(dir, 2 * kFileSize).c_str(), kFileSize), 0);
  // A gap: logged for queues that allow it, refused where gaps lose records.
  ASSERT_TRUE(std::filesystem::remove(FilePath(dir, kFileSize)));
  EXPECT_TRUE(MappedFileQueue(Options(dir)).Load().ok());
  MappedFileQueueOptions strict = Options(dir);
  strict.refuse_gaps = true;
  status = MappedFileQueue(strict).Load();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find("are missing"), std::string::npos) << status;
}

TEST(MappedFileQueueTest, LoadRejectsStrayOrMisalignedNames) {
  std::string dir = testing::MakeTempDir();
  std::ofstream(absl::StrCat(dir, "/notes.txt")) << "x";
  EXPECT_EQ(MappedFileQueue(Options(dir)).Load().code(), absl::StatusCode::kFailedPrecondition);

  std::string dir2 = testing::MakeTempDir();
  std::ofstream(FilePath(dir2, 100)) << "x";
  EXPECT_EQ(MappedFileQueue(Options(dir2)).Load().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(MappedFileQueueTest, LoadRemovesInterruptedCreation) {
  std::string dir = testing::MakeTempDir();
  std::string tmp = FilePath(dir, 0) + ".tmp";
  std::ofstream(tmp) << "half";
  MappedFileQueue queue(Options(dir));
  ASSERT_TRUE(queue.Load().ok());
  EXPECT_FALSE(Exists(tmp));
  EXPECT_TRUE(queue.Files().empty());
}

TEST(MappedFileQueueTest, PreparesTheNextFileAhead) {
  std::string dir = testing::MakeTempDir();
  MappedFileAllocator allocator;
  MappedFileQueue queue(Options(dir, &allocator));
  ASSERT_TRUE(queue.Load().ok());
  testing::AppendAcrossFiles(queue, 10, 'a');
  // The file after the last one appears on disk before the log needs it.
  ASSERT_TRUE(testing::WaitUntil([&] { return allocator.stats().prepared >= 1; }));
  EXPECT_TRUE(Exists(FilePath(dir, kFileSize)));
  EXPECT_EQ(queue.Files().size(), 1u);

  testing::AppendAcrossFiles(queue, kFileSize, 'b');
  ASSERT_EQ(queue.Files().size(), 2u);
  MappedFileAllocator::Stats stats = allocator.stats();
  EXPECT_EQ(stats.taken_prepared, 1);
  // Only the very first file was created synchronously.
  EXPECT_EQ(stats.created_synchronously, 1);
  ASSERT_TRUE(testing::WaitUntil([&] { return Exists(FilePath(dir, 2 * kFileSize)); }));
}

TEST(MappedFileQueueTest, PreparesSeveralFilesAhead) {
  std::string dir = testing::MakeTempDir();
  MappedFileAllocatorOptions allocator_options;
  allocator_options.warm_files = true;
  MappedFileAllocator allocator(allocator_options);
  MappedFileQueueOptions options = Options(dir, &allocator);
  options.prepare_ahead_files = 2;
  MappedFileQueue queue(options);
  ASSERT_TRUE(queue.Load().ok());
  testing::AppendAcrossFiles(queue, 1, 'a');
  ASSERT_TRUE(testing::WaitUntil([&] { return allocator.stats().prepared >= 2; }));
  EXPECT_TRUE(Exists(FilePath(dir, kFileSize)));
  EXPECT_TRUE(Exists(FilePath(dir, 2 * kFileSize)));
  testing::AppendAcrossFiles(queue, 2 * kFileSize, 'b');
  EXPECT_EQ(allocator.stats().taken_prepared, 2);
}

TEST(MappedFileQueueTest, AllocatorRemovesUntakenFiles) {
  std::string dir = testing::MakeTempDir();
  {
    MappedFileAllocator allocator;
    MappedFileQueue queue(Options(dir, &allocator));
    ASSERT_TRUE(queue.Load().ok());
    testing::AppendAcrossFiles(queue, 1, 'a');
    ASSERT_TRUE(testing::WaitUntil([&] { return allocator.stats().prepared >= 1; }));
    ASSERT_TRUE(Exists(FilePath(dir, kFileSize)));
  }
  EXPECT_FALSE(Exists(FilePath(dir, kFileSize)));
  EXPECT_TRUE(Exists(FilePath(dir, 0)));
}

TEST(MappedFileQueueTest, DeletesFilesWhileExpiredUpToALimitNeverTheLast) {
  std::string dir = testing::MakeTempDir();
  MappedFileQueue queue(Options(dir));
  ASSERT_TRUE(queue.Load().ok());
  testing::AppendAcrossFiles(queue, 3 * kFileSize + 1, 'o');
  // Stops at the first file not expired.
  EXPECT_EQ(queue.DeleteFilesWhile(testing::EndsBy(kFileSize + 10), 10), 1);
  EXPECT_EQ(queue.MinOffset(), kFileSize);
  EXPECT_FALSE(Exists(FilePath(dir, 0)));
  EXPECT_EQ(queue.DeleteFilesWhile([](const MappedFile&) { return false; }, 10), 0);
  // At most `max_files` per call.
  EXPECT_EQ(queue.DeleteFilesWhile([](const MappedFile&) { return true; }, 1), 1);
  EXPECT_EQ(queue.MinOffset(), 2 * kFileSize);
  // Never the last file, even when it counts as expired.
  EXPECT_EQ(queue.DeleteFilesWhile([](const MappedFile&) { return true; }, 10), 1);
  ASSERT_EQ(queue.Files().size(), 1u);
  EXPECT_EQ(queue.MinOffset(), 3 * kFileSize);
  EXPECT_EQ(queue.FindFileByOffset(0), nullptr);
}

TEST(MappedFileQueueTest, DestroyRemovesEverything) {
  std::string dir = testing::MakeTempDir();
  MappedFileQueue queue(Options(dir));
  ASSERT_TRUE(queue.Load().ok());
  testing::AppendAcrossFiles(queue, kFileSize + 1, 'x');
  ASSERT_TRUE(queue.Destroy().ok());
  EXPECT_TRUE(queue.Files().empty());
  EXPECT_FALSE(Exists(FilePath(dir, 0)));
  EXPECT_FALSE(Exists(FilePath(dir, kFileSize)));
}

}  // namespace
}  // namespace mq::store
