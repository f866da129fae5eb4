#include "client/src/process_queue.h"

#include <vector>

#include "gtest/gtest.h"

namespace mq::client_internal {
namespace {

std::vector<MessageExt> Messages(int64_t from, int64_t to) {
  std::vector<MessageExt> messages;
  for (int64_t offset = from; offset < to; ++offset) {
    MessageExt ext;
    ext.queue_offset = offset;
    ext.message.set_body(std::string(10, 'x'));
    messages.push_back(ext);
  }
  return messages;
}

std::vector<int64_t> Offsets(const std::vector<MessageExt>& messages) {
  std::vector<int64_t> offsets;
  for (const MessageExt& m : messages) offsets.push_back(m.queue_offset);
  return offsets;
}

TEST(ProcessQueueTest, OneConsumeTaskAtATime) {
  ProcessQueue queue;
  EXPECT_TRUE(queue.Put(Messages(0, 3)));
  // A task runs now: more messages do not start another.
  EXPECT_FALSE(queue.Put(Messages(3, 5)));
  EXPECT_EQ(Offsets(queue.TakeBatch(2)), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(Offsets(queue.TakeBatch(10)), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_TRUE(queue.TakeBatch(10).empty());
  // The turn ended, so the next put starts a task again.
  EXPECT_TRUE(queue.Put(Messages(5, 6)));
}

TEST(ProcessQueueTest, CommitOffsetIsTheLowestUnconsumed) {
  ProcessQueue queue;
  EXPECT_EQ(queue.Remove({}), -1);
  queue.Put(Messages(10, 15));
  std::vector<MessageExt> first = queue.TakeBatch(1);
  std::vector<MessageExt> rest = queue.TakeBatch(10);
  EXPECT_EQ(queue.message_count(), 5u);
  EXPECT_EQ(queue.body_bytes(), 50);
  EXPECT_EQ(queue.offset_span(), 4);
  // 11..14 consumed while 10 is still out: nothing past 10 may be committed.
  EXPECT_EQ(queue.Remove(rest), 10);
  EXPECT_EQ(queue.Remove(first), 15);
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.body_bytes(), 0);
}

TEST(ProcessQueueTest, RequeuedMessagesGoFirstAndKeepTheirPlace) {
  ProcessQueue queue;
  queue.Put(Messages(0, 4));
  std::vector<MessageExt> failed = queue.TakeBatch(2);
  EXPECT_EQ(Offsets(queue.TakeBatch(1)), (std::vector<int64_t>{2}));
  EXPECT_EQ(queue.Remove(Messages(2, 3)), 0);
  EXPECT_FALSE(queue.Requeue(failed));
  EXPECT_EQ(Offsets(queue.TakeBatch(10)), (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(queue.Remove(Messages(0, 4)), 4);
}

TEST(ProcessQueueTest, DuplicatePutsAreIgnored) {
  ProcessQueue queue;
  queue.Put(Messages(0, 3));
  queue.Put(Messages(1, 4));
  EXPECT_EQ(queue.message_count(), 4u);
  EXPECT_EQ(queue.TakeBatch(10).size(), 4u);
}

TEST(ProcessQueueTest, DroppedQueueHandsOutNothing) {
  ProcessQueue queue;
  EXPECT_TRUE(queue.Put(Messages(0, 3)));
  queue.Drop();
  EXPECT_TRUE(queue.dropped());
  EXPECT_TRUE(queue.TakeBatch(10).empty());
  EXPECT_FALSE(queue.Put(Messages(3, 4)));
  EXPECT_FALSE(queue.Requeue(Messages(0, 1)));
}

}  // namespace
}  // namespace mq::client_internal
