#include "services/broker/send_hook.h"

#include <glog/logging.h>

#include <utility>

namespace mq::broker {

void SendHookRegistry::Register(std::shared_ptr<SendHook> hook) {
  absl::MutexLock lock(&mu_);
  hooks_.push_back(std::move(hook));
}

std::vector<std::shared_ptr<SendHook>> SendHookRegistry::Hooks() const {
  absl::MutexLock lock(&mu_);
  return hooks_;
}

absl::Status SendHookRegistry::RunBefore(const SendContext& context) const {
  for (const std::shared_ptr<SendHook>& hook : Hooks()) {
    absl::Status status = hook->BeforeSend(context);
    if (!status.ok()) {
      LOG_EVERY_N(INFO, 100) << "send hook " << hook->name() << " refused a send to "
                             << context.topic << ": " << status;
      return status;
    }
  }
  return absl::OkStatus();
}

void SendHookRegistry::RunAfter(const SendContext& context) const {
  for (const std::shared_ptr<SendHook>& hook : Hooks()) hook->AfterSend(context);
}

}  // namespace mq::broker
