#include "services/broker/put_stats_hook.h"

namespace mq::broker {

void PutStatsHook::AfterSend(const BrokerSendContext& context) {
  if (context.status.ok()) stats_->AddPuts(context.message_count);
  if (BrokerMetrics* metrics = stats_->metrics(); metrics != nullptr) {
    metrics->RecordSend(context.topic, context.message_count, context.body_bytes, context.status,
                        context.started);
  }
}

}  // namespace mq::broker
