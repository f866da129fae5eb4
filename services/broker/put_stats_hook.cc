#include "services/broker/put_stats_hook.h"

namespace mq::broker {

void PutStatsHook::AfterSend(const BrokerSendContext& context) {
  if (context.status.ok()) stats_->AddPuts(context.message_count);
}

}  // namespace mq::broker
