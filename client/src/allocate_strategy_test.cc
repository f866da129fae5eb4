#include "client/src/allocate_strategy.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace mq::client_internal {
namespace {

std::vector<MessageQueue> Queues(int per_broker) {
  std::vector<MessageQueue> queues;
  for (const char* broker : {"broker-b", "broker-a"}) {
    for (int q = per_broker - 1; q >= 0; --q) queues.push_back(MessageQueue{"T", broker, q});
  }
  return queues;
}

std::vector<std::string> Clients(int n) {
  std::vector<std::string> ids;
  for (int i = n - 1; i >= 0; --i) ids.push_back(absl::StrCat("10.0.0.1@", i));
  return ids;
}

TEST(AllocateAveragelyTest, ContiguousSharesOfSortedQueues) {
  // 8 queues, 3 clients: 3 + 3 + 2.
  const std::vector<MessageQueue> queues = Queues(4);
  const std::vector<std::string> clients = Clients(3);
  std::vector<MessageQueue> first = AllocateAveragely(queues, clients, "10.0.0.1@0");
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0], (MessageQueue{"T", "broker-a", 0}));
  EXPECT_EQ(first[2], (MessageQueue{"T", "broker-a", 2}));
  std::vector<MessageQueue> second = AllocateAveragely(queues, clients, "10.0.0.1@1");
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0], (MessageQueue{"T", "broker-a", 3}));
  EXPECT_EQ(second[2], (MessageQueue{"T", "broker-b", 1}));
  std::vector<MessageQueue> third = AllocateAveragely(queues, clients, "10.0.0.1@2");
  ASSERT_EQ(third.size(), 2u);
  EXPECT_EQ(third[0], (MessageQueue{"T", "broker-b", 2}));
}

TEST(AllocateAveragelyTest, EveryQueueGoesToExactlyOneClient) {
  for (int per_broker = 1; per_broker <= 9; ++per_broker) {
    for (int n = 1; n <= 7; ++n) {
      const std::vector<MessageQueue> queues = Queues(per_broker);
      const std::vector<std::string> clients = Clients(n);
      std::map<MessageQueue, int> owners;
      size_t smallest = queues.size(), largest = 0;
      for (const std::string& client : clients) {
        std::vector<MessageQueue> share = AllocateAveragely(queues, clients, client);
        smallest = std::min(smallest, share.size());
        largest = std::max(largest, share.size());
        for (const MessageQueue& queue : share) ++owners[queue];
      }
      ASSERT_EQ(owners.size(), queues.size()) << per_broker << " x " << n;
      for (const auto& [queue, count] : owners) EXPECT_EQ(count, 1) << queue.ToString();
      EXPECT_LE(largest - smallest, 1u);
    }
  }
}

TEST(AllocateAveragelyTest, MoreClientsThanQueuesLeavesTheLastOnesIdle) {
  const std::vector<MessageQueue> queues = {{"T", "broker-a", 0}, {"T", "broker-a", 1}};
  const std::vector<std::string> clients = Clients(3);
  EXPECT_EQ(AllocateAveragely(queues, clients, "10.0.0.1@0").size(), 1u);
  EXPECT_EQ(AllocateAveragely(queues, clients, "10.0.0.1@1").size(), 1u);
  EXPECT_TRUE(AllocateAveragely(queues, clients, "10.0.0.1@2").empty());
}

TEST(AllocateAveragelyTest, NonMemberGetsNothing) {
  EXPECT_TRUE(AllocateAveragely(Queues(4), Clients(2), "10.0.0.9@9").empty());
  EXPECT_TRUE(AllocateAveragely({}, Clients(2), "10.0.0.1@0").empty());
}

}  // namespace
}  // namespace mq::client_internal
