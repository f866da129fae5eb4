#include "client/src/offset_store.h"

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace mq::client_internal {
namespace {

const MessageQueue kQ0{"T", "broker-a", 0};
const MessageQueue kQ1{"T", "broker-a", 1};

TEST(OffsetStoreTest, UpdateCanBeIncreaseOnly) {
  LocalOffsetStore store("unused");
  store.Update(kQ0, 10, true);
  store.Update(kQ0, 5, true);
  EXPECT_EQ(store.ReadFromMemory(kQ0), 10);
  store.Update(kQ0, 5, false);
  EXPECT_EQ(store.ReadFromMemory(kQ0), 5);
  store.Update(kQ0, -1, false);
  EXPECT_EQ(store.ReadFromMemory(kQ0), 5);
  EXPECT_FALSE(store.ReadFromMemory(kQ1).has_value());
}

TEST(OffsetStoreTest, RemoteStoreSendsOnlyChangedOffsets) {
  std::map<MessageQueue, int64_t> broker;
  std::vector<std::string> calls;
  RemoteOffsetStore store(
      [&](const MessageQueue& q) -> absl::StatusOr<int64_t> {
        auto it = broker.find(q);
        if (it == broker.end()) return absl::NotFoundError("none");
        return it->second;
      },
      [&](const MessageQueue& q, int64_t offset) {
        calls.push_back(absl::StrCat(q.queue_id, "=", offset));
        broker[q] = offset;
        return absl::OkStatus();
      });
  EXPECT_EQ(store.ReadFromStore(kQ0).status().code(), absl::StatusCode::kNotFound);
  store.Update(kQ0, 3, true);
  store.Update(kQ1, 7, true);
  store.Persist({kQ0, kQ1});
  store.Persist({kQ0, kQ1});
  store.Update(kQ0, 4, true);
  store.Persist({kQ0, kQ1});
  EXPECT_EQ(calls, (std::vector<std::string>{"0=3", "1=7", "0=4"}));
  EXPECT_EQ(*store.ReadFromStore(kQ1), 7);
  store.Update(kQ1, 9, true);
  store.PersistAndRemove(kQ1);
  EXPECT_EQ(broker[kQ1], 9);
  EXPECT_FALSE(store.ReadFromMemory(kQ1).has_value());
}

TEST(OffsetStoreTest, RemoteStoreRetriesAFailedCommit) {
  int failures_left = 1;
  int64_t committed = -1;
  RemoteOffsetStore store([](const MessageQueue&) -> absl::StatusOr<int64_t> { return 0; },
                          [&](const MessageQueue&, int64_t offset) {
                            if (failures_left-- > 0) return absl::UnavailableError("down");
                            committed = offset;
                            return absl::OkStatus();
                          });
  store.Update(kQ0, 12, true);
  store.Persist({kQ0});
  EXPECT_EQ(committed, -1);
  store.Persist({kQ0});
  EXPECT_EQ(committed, 12);
}

TEST(OffsetStoreTest, LocalStoreRoundTripsThroughItsFile) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/local_offsets/a/b/offsets");
  {
    LocalOffsetStore store(path);
    ASSERT_TRUE(store.Load().ok());
    EXPECT_EQ(store.ReadFromStore(kQ0).status().code(), absl::StatusCode::kNotFound);
    store.Update(kQ0, 42, true);
    store.Update(MessageQueue{"Other", "broker-b", 3}, 7, true);
    store.Persist({kQ0});
    // Removing keeps the offset: a broadcasting consumer may own the queue again.
    store.PersistAndRemove(kQ0);
  }
  LocalOffsetStore reloaded(path);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(*reloaded.ReadFromStore(kQ0), 42);
  EXPECT_EQ(*reloaded.ReadFromStore(MessageQueue{"Other", "broker-b", 3}), 7);
}

TEST(OffsetStoreTest, MalformedLocalFileIsAnError) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/bad_offsets");
  std::ofstream(path) << "T\tbroker-a\tzero\t5\n";
  LocalOffsetStore store(path);
  EXPECT_EQ(store.Load().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace mq::client_internal
