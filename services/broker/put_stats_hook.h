// The send hook that counts stored messages into BrokerStats (put TPS) and
// every send into the broker's metrics, if it keeps them.
#ifndef MQ_SERVICES_BROKER_PUT_STATS_HOOK_H_
#define MQ_SERVICES_BROKER_PUT_STATS_HOOK_H_

#include <string>

#include "services/broker/broker_stats.h"
#include "services/broker/send_hook.h"

namespace mq::broker {

// Thread-safe. `stats` must outlive the hook.
class PutStatsHook : public BrokerSendHook {
 public:
  explicit PutStatsHook(BrokerStats* stats) : stats_(stats) {}

  std::string name() const override { return "put-stats"; }
  // Counts the messages of every send that stored them (any SendStatus), and
  // the send's latency and outcome in the metrics.
  void AfterSend(const BrokerSendContext& context) override;

 private:
  BrokerStats* const stats_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_PUT_STATS_HOOK_H_
