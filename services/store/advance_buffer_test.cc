#include "services/store/advance_buffer.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/time/clock.h"

namespace mq::store {
namespace {

v1::QueueAdvance Advance(const std::string& topic, int queue, int64_t max_offset) {
  v1::QueueAdvance advance;
  advance.set_topic(topic);
  advance.set_queue_id(queue);
  advance.set_max_offset(max_offset);
  return advance;
}

TEST(AdvanceBufferTest, TakesEveryPendingQueueAtOnceWithItsNewestAdvance) {
  AdvanceBuffer buffer;
  buffer.Push(Advance("a", 0, 1));
  buffer.Push(Advance("a", 1, 1));
  buffer.Push(Advance("b", 0, 5));
  buffer.Push(Advance("a", 0, 3));
  v1::QueueAdvances taken = buffer.Take(absl::ZeroDuration());
  ASSERT_EQ(taken.advances_size(), 3);
  EXPECT_EQ(taken.advances(0).topic(), "a");
  EXPECT_EQ(taken.advances(0).queue_id(), 0);
  EXPECT_EQ(taken.advances(0).max_offset(), 3);
  EXPECT_EQ(taken.advances(1).topic(), "a");
  EXPECT_EQ(taken.advances(1).queue_id(), 1);
  EXPECT_EQ(taken.advances(2).topic(), "b");
  EXPECT_EQ(taken.advances(2).max_offset(), 5);
  // Taken means gone.
  EXPECT_EQ(buffer.Take(absl::ZeroDuration()).advances_size(), 0);
}

TEST(AdvanceBufferTest, TakeWaitsForTheFirstAdvanceOrTheTimeout) {
  AdvanceBuffer buffer;
  absl::Time start = absl::Now();
  EXPECT_EQ(buffer.Take(absl::Milliseconds(50)).advances_size(), 0);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));

  std::thread pusher([&] { buffer.Push(Advance("a", 0, 1)); });
  v1::QueueAdvances taken = buffer.Take(absl::Seconds(30));
  pusher.join();
  ASSERT_EQ(taken.advances_size(), 1);
  EXPECT_EQ(taken.advances(0).max_offset(), 1);
}

}  // namespace
}  // namespace mq::store
