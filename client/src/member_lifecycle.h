// The life of a producer or consumer: RocketMQ's ServiceState machine
// (CREATE_JUST -> RUNNING -> SHUTDOWN_ALREADY, or START_FAILED), the client
// instance it runs in, and the calls in flight a shutdown waits for. The
// producer and both consumers share it.
#ifndef MQ_CLIENT_SRC_MEMBER_LIFECYCLE_H_
#define MQ_CLIENT_SRC_MEMBER_LIFECYCLE_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/src/client_instance.h"
#include "mq/client_options.h"

namespace mq::client_internal {

// Thread-safe.
class MemberLifecycle {
 public:
  // `what` names the member in errors: "producer group G".
  explicit MemberLifecycle(std::string what) : what_(std::move(what)) {}

  // CREATE_JUST -> START_FAILED until Started(); FAILED_PRECONDITION in any
  // other state (a member starts once).
  absl::Status BeginStart() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends a failed start with `why`, which it returns. A group already taken
  // in the client instance (FAILED_PRECONDITION) leaves the member startable
  // later, as in RocketMQ; other failures leave it START_FAILED.
  absl::Status StartFailed(absl::Status why) ABSL_LOCKS_EXCLUDED(mu_);
  // START_FAILED -> RUNNING in `instance`.
  void Started(std::shared_ptr<ClientInstance> instance) ABSL_LOCKS_EXCLUDED(mu_);

  // RUNNING -> SHUTDOWN_ALREADY; waits until no call is in flight and
  // returns the instance to leave, or null when the member was not running.
  // instance() stays set until ShutdownDone().
  std::shared_ptr<ClientInstance> Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  void ShutdownDone() ABSL_LOCKS_EXCLUDED(mu_);

  // The instance of a running member, counting one more call in flight
  // (end it with Leave()); else FAILED_PRECONDITION.
  absl::StatusOr<std::shared_ptr<ClientInstance>> Enter() ABSL_LOCKS_EXCLUDED(mu_);
  void Leave() ABSL_LOCKS_EXCLUDED(mu_);
  // As Enter(), for a call Shutdown() need not wait for.
  absl::StatusOr<std::shared_ptr<ClientInstance>> Running() const ABSL_LOCKS_EXCLUDED(mu_);

  ServiceState state() const ABSL_LOCKS_EXCLUDED(mu_);
  // The instance while running (and during the shutdown that follows), else null.
  std::shared_ptr<ClientInstance> instance() const ABSL_LOCKS_EXCLUDED(mu_);
  // The instance's client id; empty when there is none.
  std::string client_id() const ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& what() const { return what_; }

 private:
  absl::Status NotRunningLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string what_;
  mutable absl::Mutex mu_;
  ServiceState state_ ABSL_GUARDED_BY(mu_) = ServiceState::kCreateJust;
  std::shared_ptr<ClientInstance> instance_ ABSL_GUARDED_BY(mu_);
  int inflight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_MEMBER_LIFECYCLE_H_
