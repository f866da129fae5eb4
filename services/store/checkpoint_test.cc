#include "services/store/checkpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace mq::store {
namespace {

TEST(CheckpointTest, MissingFileReadsAsZeros) {
  std::string path = testing::MakeTempDir() + "/checkpoint";
  auto checkpoint = Checkpoint::Open(path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  CheckpointData data = (*checkpoint)->Get();
  EXPECT_EQ(data.physic_msg_timestamp_ms, 0);
  EXPECT_EQ(data.logics_msg_timestamp_ms, 0);
  EXPECT_EQ(data.index_msg_timestamp_ms, 0);
  EXPECT_EQ(data.commit_log_flushed_offset, 0);
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

TEST(CheckpointTest, FlushPersistsAtomically) {
  std::string path = testing::MakeTempDir() + "/checkpoint";
  {
    auto checkpoint = Checkpoint::Open(path);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    (*checkpoint)->SetPhysicMsgTimestamp(1700000005000);
    (*checkpoint)->SetLogicsMsgTimestamp(1700000004000);
    (*checkpoint)->SetIndexMsgTimestamp(1700000003000);
    (*checkpoint)->SetCommitLogFlushedOffset(123456789);
    ASSERT_TRUE((*checkpoint)->Flush().ok());
    (*checkpoint)->SetPhysicMsgTimestamp(1700000009000);  // not flushed
  }
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, kCheckpointFileBytes);
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);
  auto checkpoint = Checkpoint::Open(path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  CheckpointData data = (*checkpoint)->Get();
  EXPECT_EQ(data.physic_msg_timestamp_ms, 1700000005000);
  EXPECT_EQ(data.logics_msg_timestamp_ms, 1700000004000);
  EXPECT_EQ(data.index_msg_timestamp_ms, 1700000003000);
  EXPECT_EQ(data.commit_log_flushed_offset, 123456789);
  EXPECT_EQ(data.MinTimestamp(), 1700000004000 - kCheckpointSafetyMarginMs);
  EXPECT_EQ(data.MinTimestampIndex(), 1700000003000 - kCheckpointSafetyMarginMs);
}

TEST(CheckpointTest, LayoutMatchesRocketMq) {
  std::string path = testing::MakeTempDir() + "/checkpoint";
  auto checkpoint = Checkpoint::Open(path);
  ASSERT_TRUE(checkpoint.ok());
  (*checkpoint)->SetPhysicMsgTimestamp(0x0102030405060708);
  (*checkpoint)->SetLogicsMsgTimestamp(0x11);
  (*checkpoint)->SetIndexMsgTimestamp(0x22);
  ASSERT_TRUE((*checkpoint)->Flush().ok());
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), static_cast<size_t>(kCheckpointFileBytes));
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(bytes[15], '\x11');
  EXPECT_EQ(bytes[23], '\x22');
}

TEST(CheckpointTest, DamagedFileReadsAsZeros) {
  std::string path = testing::MakeTempDir() + "/checkpoint";
  {
    auto checkpoint = Checkpoint::Open(path);
    ASSERT_TRUE(checkpoint.ok());
    (*checkpoint)->SetPhysicMsgTimestamp(1700000005000);
    ASSERT_TRUE((*checkpoint)->Flush().ok());
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.put('\x7f');
  }
  auto checkpoint = Checkpoint::Open(path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ((*checkpoint)->Get().physic_msg_timestamp_ms, 0);

  ASSERT_EQ(::truncate(path.c_str(), 16), 0);
  checkpoint = Checkpoint::Open(path);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ((*checkpoint)->Get().physic_msg_timestamp_ms, 0);
}

TEST(CheckpointDataTest, MinTimestampIsFlooredAtZero) {
  CheckpointData data;
  data.physic_msg_timestamp_ms = 1000;
  data.logics_msg_timestamp_ms = 5000;
  EXPECT_EQ(data.MinTimestamp(), 0);
  data.physic_msg_timestamp_ms = 9000;
  EXPECT_EQ(data.MinTimestamp(), 2000);
  data.index_msg_timestamp_ms = 4000;
  EXPECT_EQ(data.MinTimestampIndex(), 1000);
}

}  // namespace
}  // namespace mq::store
