#include "services/broker/consumer_offset_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/fake_store.h"

namespace mq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;
using ::testing::Pair;

class ConsumerOffsetManagerTest : public ::testing::Test {
 protected:
  testing::FakeStore store_;
};

TEST_F(ConsumerOffsetManagerTest, QueryReturnsCommittedOffsets) {
  ConsumerOffsetManager offsets(&store_);
  ASSERT_TRUE(offsets.Load().ok());
  EXPECT_FALSE(offsets.Query("g", "t", 0).has_value());
  offsets.Commit("g", "t", 0, 10);
  offsets.Commit("g", "t", 0, 12);
  offsets.Commit("g", "t", 1, 3);
  EXPECT_THAT(offsets.Query("g", "t", 0), Optional(12));
  EXPECT_THAT(offsets.Query("g", "t", 1), Optional(3));
  EXPECT_FALSE(offsets.Query("g", "t", 2).has_value());
  EXPECT_FALSE(offsets.Query("other", "t", 0).has_value());
  offsets.Commit("g", "t", 0, 5);  // a reset moves backwards
  EXPECT_THAT(offsets.Query("g", "t", 0), Optional(5));
}

TEST_F(ConsumerOffsetManagerTest, PersistedOffsetsSurviveARestart) {
  {
    ConsumerOffsetManager offsets(&store_);
    ASSERT_TRUE(offsets.Load().ok());
    offsets.Commit("g1", "orders", 0, 100);
    offsets.Commit("g1", "orders", 3, 7);
    offsets.Commit("g2", "audit", 1, 42);
    ASSERT_TRUE(offsets.Persist().ok());
    offsets.Commit("g1", "orders", 0, 200);  // never persisted: lost on restart
  }
  ConsumerOffsetManager reloaded(&store_);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_THAT(reloaded.Query("g1", "orders", 0), Optional(100));
  EXPECT_THAT(reloaded.Query("g1", "orders", 3), Optional(7));
  EXPECT_THAT(reloaded.Query("g2", "audit", 1), Optional(42));
}

TEST_F(ConsumerOffsetManagerTest, PersistWritesOnlyWhenChanged) {
  ConsumerOffsetManager offsets(&store_);
  ASSERT_TRUE(offsets.Load().ok());
  ASSERT_TRUE(offsets.Persist().ok());
  EXPECT_EQ(store_.put_metadata_calls(), 0);
  offsets.Commit("g", "t", 0, 1);
  ASSERT_TRUE(offsets.Persist().ok());
  ASSERT_TRUE(offsets.Persist().ok());
  EXPECT_EQ(store_.put_metadata_calls(), 1);
}

TEST_F(ConsumerOffsetManagerTest, FailedPersistIsRetried) {
  ConsumerOffsetManager offsets(&store_);
  ASSERT_TRUE(offsets.Load().ok());
  offsets.Commit("g", "t", 0, 9);
  store_.SetCallError(absl::UnavailableError("store down"));
  EXPECT_EQ(offsets.Persist().code(), absl::StatusCode::kUnavailable);
  store_.SetCallError(absl::OkStatus());
  ASSERT_TRUE(offsets.Persist().ok());
  ConsumerOffsetManager reloaded(&store_);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_THAT(reloaded.Query("g", "t", 0), Optional(9));
}

TEST_F(ConsumerOffsetManagerTest, GroupOffsetsFiltersByGroupAndTopic) {
  ConsumerOffsetManager offsets(&store_);
  offsets.Commit("g", "a", 0, 1);
  offsets.Commit("g", "b", 1, 2);
  offsets.Commit("g2", "a", 0, 3);
  offsets.Commit("f", "a", 0, 4);
  EXPECT_THAT(offsets.GroupOffsets("g", ""),
              ElementsAre(Pair(Pair("a", 0), 1), Pair(Pair("b", 1), 2)));
  EXPECT_THAT(offsets.GroupOffsets("g", "b"), ElementsAre(Pair(Pair("b", 1), 2)));
  EXPECT_TRUE(offsets.GroupOffsets("none", "").empty());
}

TEST_F(ConsumerOffsetManagerTest, RemoveTopicForgetsEveryGroup) {
  ConsumerOffsetManager offsets(&store_);
  offsets.Commit("g1", "a", 0, 1);
  offsets.Commit("g2", "a", 0, 2);
  offsets.Commit("g1", "b", 0, 3);
  offsets.RemoveTopic("a");
  EXPECT_FALSE(offsets.Query("g1", "a", 0).has_value());
  EXPECT_FALSE(offsets.Query("g2", "a", 0).has_value());
  EXPECT_THAT(offsets.Query("g1", "b", 0), Optional(3));
}

}  // namespace
}  // namespace mq::broker
