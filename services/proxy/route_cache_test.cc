#include "services/proxy/route_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/testing/fake_clock.h"
#include "testing/wait.h"

namespace mq::proxy {
namespace {

constexpr absl::Duration kTtl = absl::Seconds(3);
constexpr absl::Duration kIdle = absl::Minutes(1);

// A route of one broker group whose master is `address`, with `queues` queues.
common::v1::TopicRouteData RouteOn(const std::string& address, int queues = 4) {
  common::v1::TopicRouteData route;
  common::v1::QueueData* queue = route.add_queue_datas();
  queue->set_broker_name("broker-a");
  queue->set_write_queue_nums(queues);
  common::v1::BrokerData* broker = route.add_broker_datas();
  broker->set_broker_name("broker-a");
  (*broker->mutable_broker_addrs())[0] = address;
  return route;
}

// A name server in a map: topics -> routes; unknown topics are NOT_FOUND, and
// `error_` (when set) answers every lookup. Counts the lookups per topic.
class RouteCacheTest : public ::testing::Test {
 protected:
  RouteCacheOptions Options() {
    RouteCacheOptions options;
    options.ttl = kTtl;
    options.idle = kIdle;
    options.clock = &clock_;
    return options;
  }

  RouteCache::Lookup Lookup() {
    return [this](const std::string& topic) -> absl::StatusOr<common::v1::TopicRouteData> {
      absl::MutexLock lock(&mu_);
      ++lookups_[topic];
      if (!error_.ok()) return error_;
      auto it = routes_.find(topic);
      if (it == routes_.end()) return absl::NotFoundError(absl::StrCat("no topic ", topic));
      return it->second;
    };
  }

  void SetRoute(const std::string& topic, const common::v1::TopicRouteData& route) {
    absl::MutexLock lock(&mu_);
    routes_[topic] = route;
  }
  void SetError(absl::Status error) {
    absl::MutexLock lock(&mu_);
    error_ = std::move(error);
  }
  int Lookups(const std::string& topic) {
    absl::MutexLock lock(&mu_);
    return lookups_[topic];
  }
  static int Queues(const absl::StatusOr<common::v1::TopicRouteData>& route) {
    return route.ok() ? route->queue_datas(0).write_queue_nums() : -1;
  }

  FakeClock clock_;
  absl::Mutex mu_;
  std::map<std::string, common::v1::TopicRouteData> routes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> lookups_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

TEST_F(RouteCacheTest, ServesACachedRouteWithoutLookingItUpUntilItsTtlEnds) {
  RouteCache cache(Options(), Lookup());
  SetRoute("T", RouteOn("10.0.0.1:10911", 4));
  EXPECT_EQ(Queues(cache.Get("T")), 4);
  SetRoute("T", RouteOn("10.0.0.1:10911", 8));
  clock_.Advance(kTtl - absl::Milliseconds(1));
  EXPECT_EQ(Queues(cache.Get("T")), 4);
  EXPECT_EQ(Lookups("T"), 1);
  // Expired: looked up again, the new route served from then on.
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Queues(cache.Get("T")), 8);
  EXPECT_EQ(Queues(cache.Get("T")), 8);
  EXPECT_EQ(Lookups("T"), 2);
}

TEST_F(RouteCacheTest, AZeroTtlLooksUpEveryCall) {
  RouteCacheOptions options = Options();
  options.ttl = absl::ZeroDuration();
  RouteCache cache(options, Lookup());
  SetRoute("T", RouteOn("10.0.0.1:10911"));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(cache.Get("T").ok());
  EXPECT_EQ(Lookups("T"), 3);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(RouteCacheTest, AnUnknownTopicIsNotCachedSoItIsFoundOnceCreated) {
  RouteCache cache(Options(), Lookup());
  EXPECT_EQ(cache.Get("New").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.Get("New").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Lookups("New"), 2);
  EXPECT_EQ(cache.size(), 0u);
  SetRoute("New", RouteOn("10.0.0.1:10911"));
  EXPECT_TRUE(cache.Get("New").ok());  // at once, the clock unmoved
  EXPECT_EQ(Lookups("New"), 3);
}

TEST_F(RouteCacheTest, ATopicDeletedIsForgottenAtItsNextLookup) {
  RouteCache cache(Options(), Lookup());
  SetRoute("T", RouteOn("10.0.0.1:10911"));
  ASSERT_TRUE(cache.Get("T").ok());
  {
    absl::MutexLock lock(&mu_);
    routes_.erase("T");
  }
  clock_.Advance(kTtl);
  EXPECT_EQ(cache.Get("T").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cache.Get("T").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Lookups("T"), 3);
}

TEST_F(RouteCacheTest, ForgettingABrokerDropsOnlyTheRoutesNamingIt) {
  RouteCache cache(Options(), Lookup());
  common::v1::TopicRouteData with_slave = RouteOn("10.0.0.3:10911");
  (*with_slave.mutable_broker_datas(0)->mutable_broker_addrs())[1] = "10.0.0.4:10911";
  SetRoute("A", RouteOn("10.0.0.1:10911"));
  SetRoute("B", RouteOn("10.0.0.2:10911"));
  SetRoute("C", with_slave);
  for (const char* topic : {"A", "B", "C"}) ASSERT_TRUE(cache.Get(topic).ok());
  cache.Forget("10.0.0.1:10911");
  cache.Forget("10.0.0.4:10911");  // a slave
  cache.Forget("10.0.0.9:10911");  // in no route: changes nothing
  for (const char* topic : {"A", "B", "C"}) ASSERT_TRUE(cache.Get(topic).ok());
  EXPECT_EQ(Lookups("A"), 2);
  EXPECT_EQ(Lookups("B"), 1);
  EXPECT_EQ(Lookups("C"), 2);
}

TEST_F(RouteCacheTest, NameServersThatCannotAnswerGetTheLastRouteServedAndAreAskedAgain) {
  RouteCache cache(Options(), Lookup());
  SetRoute("T", RouteOn("10.0.0.1:10911", 4));
  ASSERT_TRUE(cache.Get("T").ok());
  SetError(absl::UnavailableError("name servers down"));
  clock_.Advance(kTtl);
  EXPECT_EQ(Queues(cache.Get("T")), 4);
  EXPECT_EQ(Queues(cache.Get("T")), 4);
  EXPECT_EQ(Lookups("T"), 3);  // each call after the expiry asks again
  SetError(absl::OkStatus());
  SetRoute("T", RouteOn("10.0.0.1:10911", 8));
  EXPECT_EQ(Queues(cache.Get("T")), 8);
  // Without a route to fall back on, the error is the answer, not cached.
  SetError(absl::UnavailableError("name servers down"));
  EXPECT_EQ(cache.Get("Other").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(cache.Get("Other").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Lookups("Other"), 2);
}

TEST_F(RouteCacheTest, BadInputIsTheLookupsAnswerAndNotCached) {
  RouteCache cache(Options(), Lookup());
  SetError(absl::InvalidArgumentError("the topic name is empty"));
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<common::v1::TopicRouteData> route = cache.Get("");
    EXPECT_EQ(route.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(route.status().message(), "the topic name is empty");
  }
  EXPECT_EQ(Lookups(""), 2);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(RouteCacheTest, IdleTopicsAreDroppedAndTheCacheIsBounded) {
  RouteCacheOptions options = Options();
  options.max_topics = 2;
  RouteCache cache(options, Lookup());
  for (const char* topic : {"A", "B", "C"}) SetRoute(topic, RouteOn("10.0.0.1:10911"));
  ASSERT_TRUE(cache.Get("A").ok());
  ASSERT_TRUE(cache.Get("B").ok());
  // Full: C is served, looked up each time, not cached.
  ASSERT_TRUE(cache.Get("C").ok());
  ASSERT_TRUE(cache.Get("C").ok());
  EXPECT_EQ(Lookups("C"), 2);
  EXPECT_EQ(cache.size(), 2u);
  // A, B unused for `idle`: dropped at the next call.
  clock_.Advance(kIdle);
  ASSERT_TRUE(cache.Get("C").ok());
  EXPECT_EQ(cache.size(), 1u);
  ASSERT_TRUE(cache.Get("C").ok());
  EXPECT_EQ(Lookups("C"), 3);
}

// The lookups of topic "T" block until released.
class BlockingLookupTest : public RouteCacheTest {
 protected:
  RouteCache::Lookup Blocking() {
    return [this](const std::string& topic) -> absl::StatusOr<common::v1::TopicRouteData> {
      absl::MutexLock lock(&mu_);
      ++lookups_[topic];
      mu_.Await(absl::Condition(&released_));
      return routes_.at(topic);
    };
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

TEST_F(BlockingLookupTest, ConcurrentMissesShareOneLookup) {
  RouteCache cache(Options(), Blocking());
  SetRoute("T", RouteOn("10.0.0.1:10911", 4));
  constexpr int kCalls = 8;
  std::vector<int> queues(kCalls, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] { queues[i] = Queues(cache.Get("T")); });
  }
  // One call looks up; the others wait for its answer. (Released and joined
  // whatever the outcome, so a failure does not hang the test.)
  EXPECT_TRUE(testing::WaitUntil([&] { return cache.waiting() == kCalls - 1; }));
  EXPECT_EQ(Lookups("T"), 1);
  Release();
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(queues, std::vector<int>(kCalls, 4));
  EXPECT_EQ(Lookups("T"), 1);
}

TEST_F(BlockingLookupTest, AnExpiredRouteIsServedWhileItIsLookedUpAgain) {
  RouteCache cache(Options(), Blocking());
  SetRoute("T", RouteOn("10.0.0.1:10911", 4));
  Release();
  ASSERT_EQ(Queues(cache.Get("T")), 4);
  {
    absl::MutexLock lock(&mu_);
    released_ = false;
    routes_["T"] = RouteOn("10.0.0.1:10911", 8);
  }
  clock_.Advance(kTtl);
  std::thread refresher([&] { EXPECT_EQ(Queues(cache.Get("T")), 8); });
  EXPECT_TRUE(testing::WaitUntil([&] { return Lookups("T") == 2; }));
  // Meanwhile: the expired route, at once, without another lookup.
  EXPECT_EQ(Queues(cache.Get("T")), 4);
  EXPECT_EQ(cache.waiting(), 0u);
  Release();
  refresher.join();
  EXPECT_EQ(Queues(cache.Get("T")), 8);
  EXPECT_EQ(Lookups("T"), 2);
}

}  // namespace
}  // namespace mq::proxy
