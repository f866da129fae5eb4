#include "services/broker/send_hook.h"

#include <glog/logging.h>

#include <utility>

namespace mq::broker {

void BrokerSendHookRegistry::Register(std::shared_ptr<BrokerSendHook> hook) {
  absl::MutexLock lock(&mu_);
  hooks_.push_back(std::move(hook));
}

std::vector<std::shared_ptr<BrokerSendHook>> BrokerSendHookRegistry::Hooks() const {
  absl::MutexLock lock(&mu_);
  return hooks_;
}

absl::Status BrokerSendHookRegistry::RunBefore(const BrokerSendContext& context) const {
  for (const std::shared_ptr<BrokerSendHook>& hook : Hooks()) {
    absl::Status status = hook->BeforeSend(context);
    if (!status.ok()) {
      LOG_EVERY_N(INFO, 100) << "send hook " << hook->name() << " refused a send to "
                             << context.topic << ": " << status;
      return status;
    }
  }
  return absl::OkStatus();
}

void BrokerSendHookRegistry::RunAfter(const BrokerSendContext& context) const {
  for (const std::shared_ptr<BrokerSendHook>& hook : Hooks()) hook->AfterSend(context);
}

}  // namespace mq::broker
