#include "client/src/member_lifecycle.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace mq::client_internal {

absl::Status MemberLifecycle::BeginStart() {
  absl::MutexLock lock(&mu_);
  if (state_ != ServiceState::kCreateJust) {
    return absl::FailedPreconditionError(absl::StrCat(
        what_, " cannot start: state is ", ServiceStateName(state_), " (it starts once)"));
  }
  state_ = ServiceState::kStartFailed;
  return absl::OkStatus();
}

absl::Status MemberLifecycle::StartFailed(absl::Status why) {
  absl::MutexLock lock(&mu_);
  if (why.code() == absl::StatusCode::kFailedPrecondition) state_ = ServiceState::kCreateJust;
  return why;
}

void MemberLifecycle::Started(std::shared_ptr<ClientInstance> instance) {
  absl::MutexLock lock(&mu_);
  instance_ = std::move(instance);
  state_ = ServiceState::kRunning;
}

std::shared_ptr<ClientInstance> MemberLifecycle::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (state_ != ServiceState::kRunning) return nullptr;
  state_ = ServiceState::kShutdownAlready;
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return inflight_ == 0; };
  mu_.Await(absl::Condition(&idle));
  return instance_;
}

void MemberLifecycle::ShutdownDone() {
  absl::MutexLock lock(&mu_);
  instance_.reset();
}

absl::StatusOr<std::shared_ptr<ClientInstance>> MemberLifecycle::Enter() {
  absl::MutexLock lock(&mu_);
  if (state_ != ServiceState::kRunning) return NotRunningLocked();
  ++inflight_;
  return instance_;
}

absl::StatusOr<std::shared_ptr<ClientInstance>> MemberLifecycle::Running() const {
  absl::MutexLock lock(&mu_);
  if (state_ != ServiceState::kRunning) return NotRunningLocked();
  return instance_;
}

absl::Status MemberLifecycle::NotRunningLocked() const {
  return absl::FailedPreconditionError(
      absl::StrCat(what_, " is not running (state ", ServiceStateName(state_), ")"));
}

void MemberLifecycle::Leave() {
  absl::MutexLock lock(&mu_);
  --inflight_;
}

ServiceState MemberLifecycle::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

std::shared_ptr<ClientInstance> MemberLifecycle::instance() const {
  absl::MutexLock lock(&mu_);
  return instance_;
}

std::string MemberLifecycle::client_id() const {
  absl::MutexLock lock(&mu_);
  return instance_ == nullptr ? std::string() : instance_->client_id();
}

}  // namespace mq::client_internal
