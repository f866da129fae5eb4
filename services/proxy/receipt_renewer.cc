#include "services/proxy/receipt_renewer.h"

#include <glog/logging.h>

#include <utility>

#include "common/status.h"

namespace mq::proxy {

ReceiptRenewer::ReceiptRenewer(ReceiptRenewerOptions options, const Clock* clock, RenewFn renew,
                               OnlineFn online)
    : options_(options), clock_(clock), renew_(std::move(renew)), online_(std::move(online)) {}

void ReceiptRenewer::Add(const std::string& handle, RenewedMessage message) {
  absl::MutexLock lock(&mu_);
  tracked_[handle] = Tracked{std::move(message)};
}

std::optional<RenewedMessage> ReceiptRenewer::Take(const std::string& handle) {
  absl::MutexLock lock(&mu_);
  auto settled = [this, &handle]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = tracked_.find(handle);
    return it == tracked_.end() || !it->second.renewing;
  };
  mu_.Await(absl::Condition(&settled));
  auto it = tracked_.find(handle);
  if (it == tracked_.end()) return std::nullopt;
  RenewedMessage message = std::move(it->second.message);
  tracked_.erase(it);
  return message;
}

void ReceiptRenewer::Restore(const std::string& handle, RenewedMessage message) {
  Add(handle, std::move(message));
}

std::vector<RenewedMessage> ReceiptRenewer::TakeClient(const std::string& client_id) {
  absl::MutexLock lock(&mu_);
  auto none_renewing = [this, &client_id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& [handle, tracked] : tracked_) {
      if (tracked.renewing && tracked.message.client_id == client_id) return false;
    }
    return true;
  };
  mu_.Await(absl::Condition(&none_renewing));
  std::vector<RenewedMessage> taken;
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (it->second.message.client_id == client_id) {
      taken.push_back(std::move(it->second.message));
      it = tracked_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

void ReceiptRenewer::RenewDue() {
  absl::Time now = clock_->Now();
  std::vector<std::pair<std::string, RenewedMessage>> due;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = tracked_.begin(); it != tracked_.end();) {
      Tracked& tracked = it->second;
      if (tracked.renewing || tracked.message.invisible_until - now >= options_.renew_ahead) {
        ++it;
      } else if (tracked.message.invisible_until <= now) {
        // Visible again (its client was away, or the renewals failed): the
        // broker delivers it again; this handle is over.
        VLOG(1) << "stopped renewing a message of " << tracked.message.client_id
                << ": its invisible time ended";
        it = tracked_.erase(it);
      } else {
        tracked.renewing = true;
        due.emplace_back(it->first, tracked.message);
        ++it;
      }
    }
  }
  for (auto& [handle, message] : due) {
    absl::StatusOr<Renewal> renewed;
    if (online_(message.client_id)) {
      renewed = renew_(message, options_.invisible);
    } else {
      renewed = absl::UnavailableError("the client is offline");
    }
    absl::MutexLock lock(&mu_);
    auto it = tracked_.find(handle);
    if (it == tracked_.end()) continue;
    it->second.renewing = false;
    if (renewed.ok()) {
      it->second.message.current.broker_handle = std::move(renewed->broker_handle);
      it->second.message.invisible_until = renewed->invisible_until;
    } else if (GetResponseCode(renewed.status()) == common::v1::INVALID_RECEIPT_HANDLE) {
      tracked_.erase(it);
    } else {
      VLOG(1) << "renewing a message of " << message.client_id << ": " << renewed.status();
    }
  }
}

size_t ReceiptRenewer::size() const {
  absl::MutexLock lock(&mu_);
  return tracked_.size();
}

}  // namespace mq::proxy
