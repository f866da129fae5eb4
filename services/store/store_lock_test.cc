#include "services/store/store_lock.h"

#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace mq::store {
namespace {

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

TEST(StoreLockTest, FirstRunIsClean) {
  std::string root = testing::MakeTempDir() + "/store";
  auto lock = StoreLock::Acquire(root);
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_TRUE((*lock)->WasCleanShutdown());
  EXPECT_TRUE(Exists(root + "/lock"));
}

TEST(StoreLockTest, SecondStoreIsRefused) {
  std::string root = testing::MakeTempDir();
  auto first = StoreLock::Acquire(root);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = StoreLock::Acquire(root);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(root), std::string::npos) << second.status();
  first->reset();
  // Released with its owner.
  EXPECT_TRUE(StoreLock::Acquire(root).ok());
}

TEST(StoreLockTest, AbortMarkerTracksCleanShutdown) {
  std::string root = testing::MakeTempDir();
  {
    auto lock = StoreLock::Acquire(root);
    ASSERT_TRUE(lock.ok());
    ASSERT_TRUE((*lock)->MarkRunning().ok());
    EXPECT_TRUE(Exists(root + "/abort"));
    // The process dies here: no MarkCleanShutdown().
  }
  {
    auto lock = StoreLock::Acquire(root);
    ASSERT_TRUE(lock.ok());
    EXPECT_FALSE((*lock)->WasCleanShutdown());
    ASSERT_TRUE((*lock)->MarkRunning().ok());
    ASSERT_TRUE((*lock)->MarkCleanShutdown().ok());
    EXPECT_FALSE(Exists(root + "/abort"));
  }
  auto lock = StoreLock::Acquire(root);
  ASSERT_TRUE(lock.ok());
  EXPECT_TRUE((*lock)->WasCleanShutdown());
  EXPECT_TRUE((*lock)->MarkCleanShutdown().ok());
}

}  // namespace
}  // namespace mq::store
