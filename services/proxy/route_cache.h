// The RocketMQ 5 front's cache of topic routes (as RocketMQ 5's proxy keeps
// its TopicRouteService): a route the name servers gave is served for a
// bounded time instead of asking them again on every client call.
//   - A found route is served for RouteCacheOptions::ttl, then looked up
//     again.
//   - A topic the name servers do not know (NOT_FOUND) is never cached: a
//     topic created a moment ago is found at the next call.
//   - Forget(address): a broker found unreachable drops the routes naming it,
//     so the next call asks the name servers where the topic lives now.
//   - One lookup per topic at a time: concurrent calls for a topic being
//     looked up are served its expired route when there is one, else wait for
//     that lookup's answer.
//   - When the name servers cannot answer (anything but NOT_FOUND), an
//     expired route is served rather than the error, and looked up again at
//     the next call.
//   - Bounded: topics not asked for within RouteCacheOptions::idle are
//     dropped, and at most max_topics are kept (beyond: looked up uncached).
#ifndef MQ_SERVICES_PROXY_ROUTE_CACHE_H_
#define MQ_SERVICES_PROXY_ROUTE_CACHE_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "proto/common.pb.h"

namespace mq::proxy {

struct RouteCacheOptions {
  // How long a found route is served before it is looked up again; zero
  // turns the cache off (every call asks the name servers).
  // Three seconds: a broker registers a topic it creates or changes with the
  // name servers at once, so a new queue, a changed permission or a broker
  // that joined shows through the front within 3 s (a broker that left is
  // forgotten at the first call that finds it unreachable), while a client
  // sending thousands of messages a second asks the name servers once per
  // 3 s instead of once per message. (RocketMQ's own clients refresh their
  // routes every 30 s.)
  absl::Duration ttl = absl::Seconds(3);
  // Topics not asked for within this long are dropped.
  absl::Duration idle = absl::Minutes(1);
  // At most this many topics are cached.
  size_t max_topics = 10000;
  const Clock* clock = Clock::Real();
};

// Thread-safe.
class RouteCache {
 public:
  // Asks the name servers for a topic's route; called without locks held.
  using Lookup = std::function<absl::StatusOr<common::v1::TopicRouteData>(const std::string&)>;

  RouteCache(RouteCacheOptions options, Lookup lookup);

  RouteCache(const RouteCache&) = delete;
  RouteCache& operator=(const RouteCache&) = delete;

  // The topic's route, cached or looked up; the lookup's error otherwise.
  absl::StatusOr<common::v1::TopicRouteData> Get(const std::string& topic) ABSL_LOCKS_EXCLUDED(mu_);

  // Drops the routes naming broker `address` (any broker id).
  void Forget(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);

  // Topics cached, and calls waiting for another call's lookup (for tests).
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t waiting() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // A lookup in progress and, once done, its answer.
  struct Flight {
    bool done = false;
    absl::StatusOr<common::v1::TopicRouteData> result = absl::UnknownError("not looked up yet");
  };
  struct Entry {
    // The last route found; served until `expires`.
    std::optional<common::v1::TopicRouteData> route;
    absl::Time expires = absl::InfinitePast();
    absl::Time last_used;
    // Non-null while a lookup of the topic runs.
    std::shared_ptr<Flight> flight;
  };

  // Drops the topics idle for RouteCacheOptions::idle, at most once per idle.
  void DropIdle(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RouteCacheOptions options_;
  const Lookup lookup_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  absl::Time next_drop_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  size_t waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mq::proxy

#endif  // MQ_SERVICES_PROXY_ROUTE_CACHE_H_
