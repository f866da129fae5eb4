#include "client/src/message_id_generator.h"

#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/clock.h"
#include "common/format/message_id.h"
#include "gtest/gtest.h"

namespace mq::client_internal {
namespace {

TEST(MessageIdTest, HasTheDocumentedLayout) {
  MessageIdGenerator generator(0x0A000102, 0x1234, 0xCAFEBABE);
  const std::string id = generator.Next();
  ASSERT_EQ(id.size(), 32u);
  EXPECT_EQ(id.substr(0, 20), "0A0001021234CAFEBABE");
  absl::StatusOr<format::UniqueMessageId> parts = format::ParseUniqueMessageId(id);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->ipv4, 0x0A000102u);
  EXPECT_EQ(parts->pid, 0x1234);
  EXPECT_EQ(parts->random, 0xCAFEBABEu);
  // At most 32 days of milliseconds since the start of the month.
  EXPECT_LT(parts->ms_of_month, 32u * 24 * 3600 * 1000);
}

TEST(MessageIdTest, TimePartFollowsTheClock) {
  MessageIdGenerator generator(1, 2, 3);
  absl::StatusOr<format::UniqueMessageId> first = format::ParseUniqueMessageId(generator.Next());
  absl::SleepFor(absl::Milliseconds(20));
  absl::StatusOr<format::UniqueMessageId> second = format::ParseUniqueMessageId(generator.Next());
  ASSERT_TRUE(first.ok() && second.ok());
  // Unless the month rolled over in between.
  if (second->ms_of_month > first->ms_of_month) {
    EXPECT_GE(second->ms_of_month - first->ms_of_month, 20u);
  }
}

TEST(MessageIdTest, UniqueAcrossThreadsAtMoreThan65536IdsPerMillisecond) {
  constexpr int kThreads = 8;
  constexpr int kIdsPerThread = 100000;
  MessageIdGenerator generator(0x7F000001, 42, 7);
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&generator, &ids, t] {
      ids[t].reserve(kIdsPerThread);
      for (int i = 0; i < kIdsPerThread; ++i) ids[t].push_back(generator.Next());
    });
  }
  for (auto& thread : threads) thread.join();
  absl::flat_hash_set<std::string> seen;
  seen.reserve(kThreads * kIdsPerThread);
  for (const auto& list : ids) {
    for (const auto& id : list) ASSERT_TRUE(seen.insert(id).second) << "duplicate id " << id;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kIdsPerThread));
}

TEST(MessageIdTest, DefaultGeneratorIsUsable) {
  EXPECT_NE(MessageIdGenerator::Default().Next(), MessageIdGenerator::Default().Next());
}

}  // namespace
}  // namespace mq::client_internal
