#include "services/store/mapped_file.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/units.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace mq::store {
namespace {

constexpr int64_t kFileSize = 64_KiB;

int64_t SizeOnDisk(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

TEST(FileNameTest, OffsetRoundTrip) {
  EXPECT_EQ(OffsetToFileName(0), "00000000000000000000");
  EXPECT_EQ(OffsetToFileName(1073741824), "00000000001073741824");
  EXPECT_EQ(FileNameToOffset("00000000001073741824"), 1073741824);
  EXPECT_EQ(FileNameToOffset("1073741824"), absl::nullopt);
  EXPECT_EQ(FileNameToOffset("0000000000107374182x"), absl::nullopt);
  EXPECT_EQ(FileNameToOffset("00000000001073741824.tmp"), absl::nullopt);
}

TEST(MappedFileTest, CreateAppendRead) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 2 * kFileSize, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  MappedFile& f = **file;
  EXPECT_EQ(f.path(), absl::StrCat(dir, "/", OffsetToFileName(2 * kFileSize)));
  EXPECT_EQ(SizeOnDisk(f.path()), kFileSize);
  EXPECT_EQ(f.end_offset(), 3 * kFileSize);
  EXPECT_EQ(f.write_position(), 0);
  EXPECT_TRUE(f.Read(0, 10).empty());

  ASSERT_TRUE(f.Append(absl::MakeConstSpan("hello", 5)));
  EXPECT_EQ(f.write_position(), 5);
  EXPECT_EQ(f.Read(0, 100), "hello");
  EXPECT_EQ(f.Read(1, 3), "ell");
  EXPECT_TRUE(f.Read(5, 3).empty());

  absl::Span<char> tail = f.WritableTail();
  EXPECT_EQ(static_cast<int64_t>(tail.size()), kFileSize - 5);
  tail[0] = '!';
  f.AdvanceWritePosition(1);
  EXPECT_EQ(f.Read(0, 100), "hello!");
  EXPECT_FALSE(f.IsFull());
}

TEST(MappedFileTest, ReadIntoCopiesWrittenBytesOnly) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  MappedFile& f = **file;
  // Written through the mapping, read back with pread: one page cache.
  std::string data(3 * kOsPageSizeBytes + 5, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(f.Append(data));
  std::string out(data.size() - 7, '\0');
  ASSERT_TRUE(f.ReadInto(7, static_cast<int64_t>(out.size()), out.data()).ok());
  EXPECT_EQ(out, data.substr(7));

  // Past the write position (even by one byte) is refused, `out` untouched.
  std::string untouched(10, '-');
  EXPECT_EQ(f.ReadInto(static_cast<int64_t>(data.size()) - 9, 10, untouched.data()).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(f.ReadInto(-1, 2, untouched.data()).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(untouched, std::string(10, '-'));
  EXPECT_TRUE(f.ReadInto(static_cast<int64_t>(data.size()), 0, untouched.data()).ok());

  // A deleted file still reads: the object keeps it open.
  ASSERT_TRUE(f.Destroy().ok());
  std::string after(5, '\0');
  ASSERT_TRUE(f.ReadInto(0, 5, after.data()).ok());
  EXPECT_EQ(after, "abcde");
}

TEST(MappedFileTest, AppendRefusesWhatDoesNotFit) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  std::string big(kFileSize - 10, 'x');
  ASSERT_TRUE((*file)->Append(big));
  EXPECT_FALSE((*file)->Append(std::string(11, 'y')));
  EXPECT_EQ((*file)->write_position(), kFileSize - 10);
  EXPECT_TRUE((*file)->Append(std::string(10, 'y')));
  EXPECT_TRUE((*file)->IsFull());
  EXPECT_EQ((*file)->remaining(), 0);
}

TEST(MappedFileTest, WriteGoesThroughThePageCacheTheMappingShares) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  MappedFile& f = **file;
  ASSERT_TRUE(f.Append(absl::MakeConstSpan("map:", 4)));
  ASSERT_TRUE(f.Write("written").ok());
  EXPECT_EQ(f.write_position(), 11);
  // Read() (the mapping) sees what pwrite wrote, after what the mapping wrote.
  EXPECT_EQ(f.Read(0, 100), "map:written");

  std::string rest(kFileSize - 11 - 3, 'r');
  ASSERT_TRUE(f.Write(rest).ok());
  absl::Status too_big = f.Write("four");
  EXPECT_EQ(too_big.code(), absl::StatusCode::kOutOfRange) << too_big;
  EXPECT_EQ(f.write_position(), kFileSize - 3);
  ASSERT_TRUE(f.Write("end").ok());
  EXPECT_TRUE(f.IsFull());

  // Flushed and reopened, the bytes are in the file.
  ASSERT_TRUE(f.Flush().ok());
  file->reset();
  auto reopened = MappedFile::Open(dir, 0, kFileSize);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Read(0, 11), "map:written");
  EXPECT_EQ((*reopened)->Read(kFileSize - 3, 3), "end");
}

TEST(MappedFileTest, CreateRefusesExistingFile) {
  std::string dir = testing::MakeTempDir();
  ASSERT_TRUE(MappedFile::Create(dir, 0, kFileSize).ok());
  auto again = MappedFile::Create(dir, 0, kFileSize);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
}

TEST(MappedFileTest, FlushTracksDirtyPages) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  MappedFile& f = **file;
  EXPECT_FALSE(f.IsFlushable(0));
  ASSERT_TRUE(f.Append(std::string(100, 'a')));
  EXPECT_TRUE(f.IsFlushable(0));
  EXPECT_FALSE(f.IsFlushable(1));
  ASSERT_TRUE(f.Append(std::string(4 * kOsPageSizeBytes, 'b')));
  EXPECT_TRUE(f.IsFlushable(4));
  EXPECT_FALSE(f.IsFlushable(5));
  auto flushed = f.Flush();
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  EXPECT_EQ(*flushed, 100 + 4 * kOsPageSizeBytes);
  EXPECT_EQ(f.flushed_position(), *flushed);
  EXPECT_FALSE(f.IsFlushable(0));
}

TEST(MappedFileTest, WholePageFlushLeavesThePageBeingFilled) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  MappedFile& f = **file;
  ASSERT_TRUE(f.Append(std::string(2 * kOsPageSizeBytes + 100, 'a')));
  auto flushed = f.Flush(MappedFile::FlushExtent::kWholePages);
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  EXPECT_EQ(*flushed, 2 * kOsPageSizeBytes);
  EXPECT_EQ(f.flushed_position(), 2 * kOsPageSizeBytes);
  // Less than a whole page more: nothing to do.
  flushed = f.Flush(MappedFile::FlushExtent::kWholePages);
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, 2 * kOsPageSizeBytes);
  EXPECT_TRUE(f.IsFlushable(0));
  flushed = f.Flush(MappedFile::FlushExtent::kAll);
  ASSERT_TRUE(flushed.ok());
  EXPECT_EQ(*flushed, 2 * kOsPageSizeBytes + 100);
  EXPECT_FALSE(f.IsFlushable(0));
}

TEST(MappedFileTest, WholePageFlushTakesAllOfAFullFile) {
  std::string dir = testing::MakeTempDir();
  // A size that is not a whole number of pages.
  constexpr int64_t kOddSize = 3 * kOsPageSizeBytes + 10;
  auto file = MappedFile::Create(dir, 0, kOddSize);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append(std::string(kOddSize, 'a')));
  auto flushed = (*file)->Flush(MappedFile::FlushExtent::kWholePages);
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  EXPECT_EQ(*flushed, kOddSize);
}

TEST(MappedFileTest, FullFileIsAlwaysFlushable) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append(std::string(kFileSize - 1, 'a')));
  ASSERT_TRUE((*file)->Flush().ok());
  ASSERT_TRUE((*file)->Append(std::string(1, 'b')));
  EXPECT_TRUE((*file)->IsFlushable(4));
}

TEST(MappedFileTest, DataSurvivesReopen) {
  std::string dir = testing::MakeTempDir();
  {
    auto file = MappedFile::Create(dir, kFileSize, kFileSize);
    ASSERT_TRUE(file.ok()) << file.status();
    ASSERT_TRUE((*file)->Append(std::string("persisted")));
    ASSERT_TRUE((*file)->Flush().ok());
  }
  auto file = MappedFile::Open(dir, kFileSize, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->IsFull());
  EXPECT_EQ((*file)->flushed_position(), kFileSize);
  EXPECT_EQ((*file)->Read(0, 9), "persisted");
}

TEST(MappedFileTest, OpenRejectsWrongSize) {
  std::string dir = testing::MakeTempDir();
  ASSERT_TRUE(MappedFile::Create(dir, 0, kFileSize).ok());
  auto file = MappedFile::Open(dir, 0, 2 * kFileSize);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(file.status().message().find(OffsetToFileName(0)), std::string::npos) << file.status();
}

TEST(MappedFileTest, OpenMissingFileIsNotFound) {
  std::string dir = testing::MakeTempDir();
  EXPECT_EQ(MappedFile::Open(dir, 0, kFileSize).status().code(), absl::StatusCode::kNotFound);
}

TEST(MappedFileTest, TruncateZeroesTheTail) {
  std::string dir = testing::MakeTempDir();
  {
    auto file = MappedFile::Create(dir, 0, kFileSize);
    ASSERT_TRUE(file.ok()) << file.status();
    ASSERT_TRUE((*file)->Append(std::string(kFileSize, 'z')));
    ASSERT_TRUE((*file)->Flush().ok());
  }
  auto file = MappedFile::Open(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  constexpr int64_t kKeep = 5000;  // not page aligned
  ASSERT_TRUE((*file)->TruncateTo(kKeep).ok());
  EXPECT_EQ((*file)->write_position(), kKeep);
  EXPECT_EQ((*file)->flushed_position(), kKeep);
  EXPECT_EQ((*file)->Read(0, kFileSize), std::string(kKeep, 'z'));
  // Everything past the cut reads as zeros, through the map and on disk.
  (*file)->AdvanceWritePosition(kFileSize - kKeep);
  EXPECT_EQ((*file)->Read(kKeep, kFileSize), std::string(kFileSize - kKeep, '\0'));
  std::ifstream in((*file)->path(), std::ios::binary);
  std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, std::string(kKeep, 'z') + std::string(kFileSize - kKeep, '\0'));
  EXPECT_FALSE((*file)->TruncateTo(kFileSize + 1).ok());
}

TEST(MappedFileTest, WarmKeepsContent) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append(std::string("abc")));
  ASSERT_TRUE((*file)->Warm().ok());
  EXPECT_EQ((*file)->Read(0, 3), "abc");
  EXPECT_EQ((*file)->write_position(), 3);
}

TEST(MappedFileTest, CacheAheadReadsInPagesPastTheWriterWithoutChangingThem) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Write("abc").ok());
  ASSERT_TRUE((*file)->CacheAhead(0, kFileSize).ok());
  // Clipped to the file; nothing left past it.
  EXPECT_TRUE((*file)->CacheAhead(kFileSize, 2 * kFileSize).ok());
  std::vector<unsigned char> pages(kFileSize / kOsPageSizeBytes);
  ASSERT_EQ(::mincore(const_cast<char*>((*file)->Read(0, 1).data()), kFileSize, pages.data()), 0);
  for (size_t i = 0; i < pages.size(); ++i) EXPECT_TRUE(pages[i] & 1) << "page " << i;
  EXPECT_EQ((*file)->Read(0, 3), "abc");
  EXPECT_EQ((*file)->write_position(), 3);
  ASSERT_TRUE((*file)->Write("def").ok());
  (*file)->AdvanceWritePosition(kFileSize - 6);
  EXPECT_EQ((*file)->Read(0, kFileSize), "abcdef" + std::string(kFileSize - 6, '\0'));
}

TEST(MappedFileTest, DestroyUnlinksButKeepsMappingReadable) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append(std::string("still here")));
  ASSERT_TRUE((*file)->Destroy().ok());
  EXPECT_TRUE((*file)->destroyed());
  EXPECT_NE(::access((*file)->path().c_str(), F_OK), 0);
  EXPECT_EQ((*file)->Read(0, 10), "still here");
}

TEST(MappedFileTest, LastModifiedTimeIsRecent) {
  std::string dir = testing::MakeTempDir();
  auto file = MappedFile::Create(dir, 0, kFileSize);
  ASSERT_TRUE(file.ok()) << file.status();
  auto modified = (*file)->LastModifiedTime();
  ASSERT_TRUE(modified.ok()) << modified.status();
  EXPECT_LT(absl::AbsDuration(absl::Now() - *modified), absl::Minutes(1));
}

}  // namespace
}  // namespace mq::store
