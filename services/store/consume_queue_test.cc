#include "services/store/consume_queue.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace mq::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kUnitsPerFile = 10;
constexpr int64_t kFileBytes = kUnitsPerFile * 20;

std::unique_ptr<ConsumeQueue> OpenQueue(const std::string& dir) {
  ConsumeQueueOptions options;
  options.units_per_file = kUnitsPerFile;
  auto queue = std::make_unique<ConsumeQueue>("T", 0, dir, options);
  absl::Status status = queue->Load();
  EXPECT_TRUE(status.ok()) << status;
  return queue;
}

// Message q of a test queue: at commit-log offset 100 q, 50 + q bytes, tag 7 q.
absl::Status PutMessage(ConsumeQueue& queue, int64_t q) {
  return queue.PutUnit(QueueOffset(q), PhysicalOffset(q * 100), static_cast<int32_t>(50 + q),
                       q * 7);
}

void PutMessages(ConsumeQueue& queue, int64_t from, int64_t to) {
  for (int64_t q = from; q < to; ++q) ASSERT_TRUE(PutMessage(queue, q).ok()) << q;
}

std::vector<std::string> FileNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<int64_t> Offsets(const std::vector<ConsumeQueueUnit>& units) {
  std::vector<int64_t> offsets;
  for (const auto& unit : units) offsets.push_back(unit.queue_offset.value());
  return offsets;
}

TEST(ConsumeQueueTest, PutAndReadAcrossFiles) {
  std::string dir = testing::MakeTempDir();
  auto queue = OpenQueue(dir);
  EXPECT_EQ(queue->MinOffset(), QueueOffset(0));
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(0));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(0));
  PutMessages(*queue, 0, 25);
  EXPECT_EQ(queue->MinOffset(), QueueOffset(0));
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(25));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(2400 + 74));
  EXPECT_THAT(FileNames(dir),
              ElementsAre("00000000000000000000", "00000000000000000200", "00000000000000000400"));
  for (int64_t q = 0; q < 25; ++q) {
    absl::optional<ConsumeQueueUnit> unit = queue->GetUnit(QueueOffset(q));
    ASSERT_TRUE(unit.has_value()) << q;
    EXPECT_EQ(unit->queue_offset, QueueOffset(q));
    EXPECT_EQ(unit->commit_log_offset, PhysicalOffset(q * 100));
    EXPECT_EQ(unit->size, 50 + q);
    EXPECT_EQ(unit->tag_code, q * 7);
    EXPECT_FALSE(unit->is_blank());
  }
  EXPECT_FALSE(queue->GetUnit(QueueOffset(25)).has_value());
  EXPECT_FALSE(queue->GetUnit(QueueOffset(-1)).has_value());
  EXPECT_THAT(Offsets(queue->GetUnits(QueueOffset(5), 10)),
              ElementsAre(5, 6, 7, 8, 9, 10, 11, 12, 13, 14));
  EXPECT_THAT(Offsets(queue->GetUnits(QueueOffset(22), 10)), ElementsAre(22, 23, 24));
  EXPECT_THAT(queue->GetUnits(QueueOffset(25), 10), IsEmpty());
  EXPECT_THAT(queue->GetUnits(QueueOffset(3), 0), IsEmpty());
}

TEST(ConsumeQueueTest, UnitsAreBigEndianOnDisk) {
  std::string dir = testing::MakeTempDir();
  auto queue = OpenQueue(dir);
  ASSERT_TRUE(
      queue->PutUnit(QueueOffset(0), PhysicalOffset(0x0102030405060708), 0x0a0b0c0d, -2).ok());
  ASSERT_TRUE(queue->Flush(0).ok());
  std::ifstream file(absl::StrCat(dir, "/00000000000000000000"), std::ios::binary);
  std::string bytes(20, '\0');
  file.read(bytes.data(), 20);
  EXPECT_EQ(bytes, std::string("\x01\x02\x03\x04\x05\x06\x07\x08"
                               "\x0a\x0b\x0c\x0d"
                               "\xff\xff\xff\xff\xff\xff\xff\xfe",
                               20));
  EXPECT_EQ(std::filesystem::file_size(absl::StrCat(dir, "/00000000000000000000")),
            static_cast<uintmax_t>(kFileBytes));
}

TEST(ConsumeQueueTest, RejectsBadUnits) {
  auto queue = OpenQueue(testing::MakeTempDir());
  EXPECT_TRUE(absl::IsInvalidArgument(queue->PutUnit(QueueOffset(-1), PhysicalOffset(0), 10, 0)));
  EXPECT_TRUE(absl::IsInvalidArgument(queue->PutUnit(QueueOffset(0), PhysicalOffset(-5), 10, 0)));
  EXPECT_TRUE(absl::IsInvalidArgument(queue->PutUnit(QueueOffset(0), PhysicalOffset(0), 0, 0)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      queue->PutUnit(QueueOffset(0), PhysicalOffset(0), ConsumeQueueUnit::kBlankSize, 0)));
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(0));
}

TEST(ConsumeQueueTest, SkipsUnitsAlreadyWritten) {
  auto queue = OpenQueue(testing::MakeTempDir());
  PutMessages(*queue, 0, 5);
  ASSERT_TRUE(PutMessage(*queue, 3).ok());
  ASSERT_TRUE(queue->PutUnit(QueueOffset(2), PhysicalOffset(999'999), 10, 1).ok());
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(5));
  EXPECT_EQ(queue->GetUnit(QueueOffset(2))->commit_log_offset, PhysicalOffset(200));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(400 + 54));
}

TEST(ConsumeQueueTest, GapIsFilledWithBlankUnits) {
  auto queue = OpenQueue(testing::MakeTempDir());
  PutMessages(*queue, 0, 2);
  ASSERT_TRUE(PutMessage(*queue, 13).ok());
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(14));
  EXPECT_EQ(queue->MinOffset(), QueueOffset(0));
  for (int64_t q = 2; q < 13; ++q) EXPECT_TRUE(queue->GetUnit(QueueOffset(q))->is_blank()) << q;
  EXPECT_EQ(queue->GetUnit(QueueOffset(13))->commit_log_offset, PhysicalOffset(1300));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(1300 + 63));
}

TEST(ConsumeQueueTest, QueueMayStartPastZero) {
  std::string dir = testing::MakeTempDir();
  {
    auto queue = OpenQueue(dir);
    PutMessages(*queue, 23, 26);
    EXPECT_EQ(queue->MinOffset(), QueueOffset(23));
    EXPECT_EQ(queue->MaxOffset(), QueueOffset(26));
    EXPECT_FALSE(queue->GetUnit(QueueOffset(22)).has_value());
    EXPECT_THAT(Offsets(queue->GetUnits(QueueOffset(23), 100)), ElementsAre(23, 24, 25));
    EXPECT_THAT(FileNames(dir), ElementsAre("00000000000000000400"));
  }
  auto queue = OpenQueue(dir);
  EXPECT_EQ(queue->MinOffset(), QueueOffset(23));
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(26));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(2500 + 75));
}

TEST(ConsumeQueueTest, EmptyQueueRestartsWhereTheFirstMessageIs) {
  std::string dir = testing::MakeTempDir();
  auto queue = OpenQueue(dir);
  PutMessages(*queue, 0, 5);
  // Retention moved past every message: the queue holds nothing readable.
  EXPECT_EQ(queue->DeleteFilesBelowPhysicalOffset(PhysicalOffset(1'000'000)), 0);
  EXPECT_EQ(queue->MinOffset(), QueueOffset(5));
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(5));
  ASSERT_TRUE(PutMessage(*queue, 42).ok());
  EXPECT_EQ(queue->MinOffset(), QueueOffset(42));
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(43));
  EXPECT_THAT(FileNames(dir), ElementsAre("00000000000000000800"));
}

TEST(ConsumeQueueTest, ReopenFindsTheEnd) {
  std::string dir = testing::MakeTempDir();
  {
    auto queue = OpenQueue(dir);
    PutMessages(*queue, 0, 15);
    ASSERT_TRUE(queue->Flush(0).ok());
  }
  auto queue = OpenQueue(dir);
  EXPECT_EQ(queue->MinOffset(), QueueOffset(0));
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(15));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(1400 + 64));
  PutMessages(*queue, 15, 22);
  EXPECT_EQ(queue->GetUnit(QueueOffset(21))->commit_log_offset, PhysicalOffset(2100));
}

TEST(ConsumeQueueTest, RecoverCutsTornUnitsAndFilesPastThem) {
  std::string dir = testing::MakeTempDir();
  {
    auto queue = OpenQueue(dir);
    PutMessages(*queue, 0, 15);
  }
  {
    // Units 12.. never reached the disk: zeros, as the files were created.
    std::fstream file(absl::StrCat(dir, "/00000000000000000200"),
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(2 * 20);
    std::string zeros(3 * 20, '\0');
    file.write(zeros.data(), zeros.size());
  }
  // A pre-allocated next file left empty by the crash.
  const std::string next_file = absl::StrCat(dir, "/00000000000000000400");
  std::ofstream(next_file).close();
  std::filesystem::resize_file(next_file, kFileBytes);
  auto queue = OpenQueue(dir);
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(12));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(1100 + 61));
  EXPECT_THAT(FileNames(dir), ElementsAre("00000000000000000000", "00000000000000000200"));
  PutMessages(*queue, 12, 25);
  EXPECT_EQ(queue->GetUnit(QueueOffset(24))->commit_log_offset, PhysicalOffset(2400));
}

TEST(ConsumeQueueTest, TruncateByPhysicalOffset) {
  std::string dir = testing::MakeTempDir();
  auto queue = OpenQueue(dir);
  PutMessages(*queue, 0, 25);
  ASSERT_TRUE(queue->TruncateByPhysicalOffset(PhysicalOffset(1250)).ok());
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(13));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(1200 + 62));
  EXPECT_THAT(FileNames(dir), ElementsAre("00000000000000000000", "00000000000000000200"));
  // Nothing at or past the cut: no change.
  ASSERT_TRUE(queue->TruncateByPhysicalOffset(PhysicalOffset(5000)).ok());
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(13));
  // The commit log holds other records from the cut on; re-dispatch refiles.
  ASSERT_TRUE(queue->PutUnit(QueueOffset(13), PhysicalOffset(1262), 10, 0).ok());
  EXPECT_EQ(queue->GetUnit(QueueOffset(13))->commit_log_offset, PhysicalOffset(1262));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(1272));

  ASSERT_TRUE(queue->TruncateByPhysicalOffset(PhysicalOffset(0)).ok());
  EXPECT_EQ(queue->MinOffset(), QueueOffset(0));
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(0));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(0));
}

TEST(ConsumeQueueTest, TruncateKeepsBlanksBeforeTheFirstDroppedMessage) {
  auto queue = OpenQueue(testing::MakeTempDir());
  PutMessages(*queue, 0, 2);
  PutMessages(*queue, 5, 8);  // offsets 2..4 are blank
  ASSERT_TRUE(queue->TruncateByPhysicalOffset(PhysicalOffset(500)).ok());
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(5));
  EXPECT_EQ(queue->MaxPhysicalOffset(), PhysicalOffset(100 + 51));
  ASSERT_TRUE(PutMessage(*queue, 5).ok());
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(6));
}

TEST(ConsumeQueueTest, DeleteFilesBelowPhysicalOffsetMovesMinOffset) {
  std::string dir = testing::MakeTempDir();
  auto queue = OpenQueue(dir);
  PutMessages(*queue, 0, 25);
  EXPECT_EQ(queue->DeleteFilesBelowPhysicalOffset(PhysicalOffset(900)), 0);
  EXPECT_EQ(queue->MinOffset(), QueueOffset(9));
  EXPECT_EQ(queue->DeleteFilesBelowPhysicalOffset(PhysicalOffset(1000)), 1);
  EXPECT_EQ(queue->MinOffset(), QueueOffset(10));
  EXPECT_FALSE(queue->GetUnit(QueueOffset(9)).has_value());
  EXPECT_EQ(queue->DeleteFilesBelowPhysicalOffset(PhysicalOffset(1250)), 0);
  EXPECT_EQ(queue->MinOffset(), QueueOffset(13));
  EXPECT_FALSE(queue->GetUnit(QueueOffset(12)).has_value());
  EXPECT_THAT(Offsets(queue->GetUnits(QueueOffset(12), 2)), IsEmpty());
  EXPECT_EQ(queue->DeleteFilesBelowPhysicalOffset(PhysicalOffset(1'000'000)), 1);
  EXPECT_THAT(FileNames(dir), ElementsAre("00000000000000000400"));
  EXPECT_EQ(queue->MinOffset(), QueueOffset(25));
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(25));
  PutMessages(*queue, 25, 27);
  EXPECT_EQ(queue->MinOffset(), QueueOffset(25));
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(27));
}

TEST(ConsumeQueueTest, OffsetByTime) {
  auto queue = OpenQueue(testing::MakeTempDir());
  PutMessages(*queue, 0, 3);
  PutMessages(*queue, 6, 30);  // 3..5 blank
  // Message q was stored at 1000 + 10 q ms; records below 500 are gone.
  absl::flat_hash_map<int64_t, int64_t> store_time;
  for (int64_t q = 0; q < 30; ++q) store_time[q * 100] = 1000 + 10 * q;
  auto lookup = [&](PhysicalOffset offset, int32_t) -> absl::StatusOr<int64_t> {
    if (offset < PhysicalOffset(500)) return absl::NotFoundError("deleted");
    return store_time.at(offset.value());
  };
  EXPECT_EQ(*queue->OffsetByTime(1055, lookup), QueueOffset(6));
  EXPECT_EQ(*queue->OffsetByTime(1150, lookup), QueueOffset(15));
  EXPECT_EQ(*queue->OffsetByTime(1151, lookup), QueueOffset(16));
  EXPECT_EQ(*queue->OffsetByTime(1290, lookup), QueueOffset(29));
  EXPECT_EQ(*queue->OffsetByTime(5000, lookup), QueueOffset(30));
  EXPECT_EQ(*queue->OffsetByTime(0, lookup), QueueOffset(6));

  auto all_present = [&](PhysicalOffset offset, int32_t) -> absl::StatusOr<int64_t> {
    return store_time.at(offset.value());
  };
  EXPECT_EQ(*queue->OffsetByTime(0, all_present), QueueOffset(0));
  EXPECT_EQ(*queue->OffsetByTime(1015, all_present), QueueOffset(2));
  EXPECT_EQ(*queue->OffsetByTime(1025, all_present), QueueOffset(6));

  auto failing = [](PhysicalOffset, int32_t) -> absl::StatusOr<int64_t> {
    return absl::InternalError("disk");
  };
  EXPECT_TRUE(absl::IsInternal(queue->OffsetByTime(1100, failing).status()));

  auto empty = OpenQueue(testing::MakeTempDir());
  EXPECT_EQ(*empty->OffsetByTime(1100, all_present), QueueOffset(0));
}

TEST(ConsumeQueueTest, DestroyRemovesFilesAndRefusesWrites) {
  std::string dir = testing::MakeTempDir();
  auto queue = OpenQueue(dir);
  PutMessages(*queue, 0, 12);
  ASSERT_TRUE(queue->Destroy().ok());
  EXPECT_THAT(FileNames(dir), IsEmpty());
  EXPECT_TRUE(absl::IsFailedPrecondition(PutMessage(*queue, 12)));
  EXPECT_FALSE(queue->GetUnit(QueueOffset(0)).has_value());
}

TEST(ConsumeQueueTest, ReadersSeeOnlyCompleteUnits) {
  auto queue = OpenQueue(testing::MakeTempDir());
  constexpr int64_t kMessages = 5000;
  std::thread writer([&] { PutMessages(*queue, 0, kMessages); });
  while (queue->MaxOffset() < QueueOffset(kMessages)) {
    const int64_t max_offset = queue->MaxOffset().value();
    if (max_offset == 0) continue;
    absl::optional<ConsumeQueueUnit> unit = queue->GetUnit(QueueOffset(max_offset - 1));
    ASSERT_TRUE(unit.has_value());
    EXPECT_EQ(unit->commit_log_offset, PhysicalOffset(PhysicalOffset((max_offset - 1) * 100)));
    EXPECT_EQ(unit->size, 50 + max_offset - 1);
  }
  writer.join();
  EXPECT_EQ(queue->MaxOffset(), QueueOffset(kMessages));
}

}  // namespace
}  // namespace mq::store
