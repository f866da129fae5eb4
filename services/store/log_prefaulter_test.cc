#include "services/store/log_prefaulter.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "testing/mapped_files.h"
#include "testing/temp_dir.h"

namespace mq::store {
namespace {

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kFileSize = 64 * kMiB;
constexpr int64_t kAhead = 8 * kMiB;

// Whether the page cache holds each page of [pos, pos + len) of the file
// starting at log offset `start` (mincore on a mapping of our own).
std::vector<bool> Resident(const std::string& dir, int64_t start, int64_t pos, int64_t len) {
  std::string path = absl::StrCat(dir, "/", OffsetToFileName(start));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  void* map = ::mmap(nullptr, kFileSize, PROT_READ, MAP_SHARED, fd, 0);
  EXPECT_NE(map, MAP_FAILED);
  std::vector<unsigned char> pages(len / kOsPageSizeBytes);
  EXPECT_EQ(::mincore(static_cast<char*>(map) + pos, len, pages.data()), 0);
  ::munmap(map, kFileSize);
  ::close(fd);
  std::vector<bool> resident;
  for (unsigned char page : pages) resident.push_back(page & 1);
  return resident;
}

bool AllResident(const std::vector<bool>& pages) {
  return std::all_of(pages.begin(), pages.end(), [](bool r) { return r; });
}

// Bytes of the file at `path` mapped into this process (Rss in smaps).
int64_t MappedRssBytes(const std::string& path) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_file = false;
  int64_t rss_kib = 0;
  while (std::getline(smaps, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find('-') != std::string::npos && line.find(' ') > line.find('-')) {
      in_file = line.size() >= path.size() &&
                line.compare(line.size() - path.size(), path.size(), path) == 0;
      continue;
    }
    int64_t kib = 0;
    if (in_file && std::sscanf(line.c_str(), "Rss: %" SCNd64 " kB", &kib) == 1) rss_kib += kib;
  }
  return rss_kib * 1024;
}

class LogPrefaulterTest : public ::testing::TestWithParam<LogPrefaulter::Mode> {
 protected:
  LogPrefaulterTest() : dir_(testing::MakeTempDir()), queue_(Options(dir_)) {}
  void SetUp() override { ASSERT_TRUE(queue_.Load().ok()); }

  static MappedFileQueueOptions Options(const std::string& dir) {
    MappedFileQueueOptions options;
    options.dir = dir;
    options.file_size = kFileSize;
    return options;
  }

  void Write(int64_t bytes, char c) { testing::AppendAcrossFiles(queue_, bytes, c); }

  const std::string dir_;
  MappedFileQueue queue_;
};

TEST_P(LogPrefaulterTest, MapsThePagesAheadOfTheWriter) {
  // The writer's own fault reads ahead (read_ahead_kb, 8 MiB on some disks),
  // so a window past that shows the prefaulter at work.
  constexpr int64_t kFar = 4 * kAhead;
  LogPrefaulter prefaulter(&queue_, kFar, GetParam());
  prefaulter.KeepAhead();  // No file yet: nothing to do.
  EXPECT_EQ(prefaulter.prefaulted_offset(), 0);

  Write(100, 'a');
  ASSERT_FALSE(AllResident(Resident(dir_, 0, kFar - kAhead, kAhead)));
  prefaulter.KeepAhead();
  EXPECT_EQ(prefaulter.prefaulted_offset(), 100 + kFar);
  EXPECT_TRUE(AllResident(Resident(dir_, 0, kOsPageSizeBytes, kFar)));
}

TEST_P(LogPrefaulterTest, ChangesNoByte) {
  LogPrefaulter prefaulter(&queue_, kAhead, GetParam());
  Write(100, 'a');
  prefaulter.KeepAhead();
  ASSERT_EQ(prefaulter.prefaulted_offset(), 100 + kAhead);
  std::shared_ptr<MappedFile> file = queue_.LastFile();
  EXPECT_EQ(file->write_position(), 100);
  EXPECT_EQ(file->Read(0, 100), std::string(100, 'a'));
  Write(kAhead, 'b');
  EXPECT_EQ(file->Read(100, kAhead), std::string(kAhead, 'b'));
  // Past the data the file still reads as zeros.
  int fd = ::open(file->path().c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::string rest(kMiB, 'z');
  ASSERT_EQ(::pread(fd, rest.data(), rest.size(), kAhead + 100), kMiB);
  ::close(fd);
  EXPECT_EQ(rest, std::string(kMiB, '\0'));
}

TEST_P(LogPrefaulterTest, WaitsUntilHalfTheWindowIsUsedAndFollowsNewFiles) {
  LogPrefaulter prefaulter(&queue_, kAhead, GetParam());
  Write(100, 'a');
  prefaulter.KeepAhead();
  ASSERT_EQ(prefaulter.prefaulted_offset(), 100 + kAhead);
  // More than half the window still mapped ahead: no call.
  Write(3 * kMiB, 'b');
  prefaulter.KeepAhead();
  EXPECT_EQ(prefaulter.prefaulted_offset(), 100 + kAhead);
  Write(2 * kMiB, 'c');
  prefaulter.KeepAhead();
  EXPECT_EQ(prefaulter.prefaulted_offset(), 100 + 5 * kMiB + kAhead);
  // Near the end of a file the window stops at the end.
  Write(kFileSize - 100 - 5 * kMiB - kMiB, 'd');
  prefaulter.KeepAhead();
  EXPECT_EQ(prefaulter.prefaulted_offset(), kFileSize);
  // The writer rolls over: the new file is prefaulted.
  Write(kMiB + 10, 'e');
  prefaulter.KeepAhead();
  EXPECT_EQ(prefaulter.prefaulted_offset(), kFileSize + 10 + kAhead);
  EXPECT_TRUE(AllResident(Resident(dir_, kFileSize, kOsPageSizeBytes, kAhead)));
}

TEST_P(LogPrefaulterTest, AWriterAppendingMeanwhileLosesNothing) {
  Write(1, 'x');
  LogPrefaulter prefaulter(&queue_, kAhead, GetParam());
  constexpr int64_t kChunk = 1000;
  constexpr int kChunks = 40'000;  // 40 MB, into the second file.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kChunks; ++i) Write(kChunk, static_cast<char>('a' + i % 26));
    done = true;
  });
  while (!done) prefaulter.KeepAhead();
  writer.join();
  ASSERT_EQ(queue_.MaxOffset(), 1 + kChunk * kChunks);
  for (int64_t i = 0; i < kChunks; ++i) {
    int64_t offset = 1 + i * kChunk;
    std::shared_ptr<MappedFile> file = queue_.FindFileByOffset(offset);
    ASSERT_NE(file, nullptr);
    int64_t pos = offset - file->start_offset();
    int64_t n = std::min(kChunk, file->file_size() - pos);
    ASSERT_EQ(file->Read(pos, n), std::string(n, static_cast<char>('a' + i % 26))) << "chunk " << i;
  }
}

TEST_P(LogPrefaulterTest, MapsPagesOnlyInMapWritableMode) {
  LogPrefaulter prefaulter(&queue_, kAhead, GetParam());
  Write(100, 'a');
  prefaulter.KeepAhead();
  ASSERT_TRUE(AllResident(Resident(dir_, 0, kOsPageSizeBytes, kAhead - kOsPageSizeBytes)));
  const int64_t mapped = MappedRssBytes(queue_.LastFile()->path());
  if (GetParam() == LogPrefaulter::Mode::kMapWritable) {
    EXPECT_GE(mapped, kAhead);
  } else {
    // At most what the write itself touched (a large folio at most).
    EXPECT_LT(mapped, kAhead / 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, LogPrefaulterTest,
                         ::testing::Values(LogPrefaulter::Mode::kMapWritable,
                                           LogPrefaulter::Mode::kPageCache),
                         [](const ::testing::TestParamInfo<LogPrefaulter::Mode>& info) {
                           return info.param == LogPrefaulter::Mode::kMapWritable ? "MapWritable"
                                                                                  : "PageCache";
                         });

}  // namespace
}  // namespace mq::store
