// The broker's ends of the ProducerChannel streams (broker.proto): the way the
// transaction check round reaches a producer group, as RocketMQ's broker
// writes CHECK_TRANSACTION_STATE on a producer's connection
// (Broker2Client.checkProducerTransactionState). An open stream is the
// liveness signal: a producer process that dies closes its connection and
// its stream ends at once, so a check goes to a member still alive.
#ifndef MQ_SERVICES_BROKER_PRODUCER_CHANNELS_H_
#define MQ_SERVICES_BROKER_PRODUCER_CHANNELS_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/broker.pb.h"
#include "services/broker/transaction_service.h"

namespace mq::broker {

// Thread-safe.
class ProducerChannels : public TransactionChecker {
 public:
  ProducerChannels() = default;
  // Closes the open channels (Close()) and waits for them to end.
  ~ProducerChannels() override;

  ProducerChannels(const ProducerChannels&) = delete;
  ProducerChannels& operator=(const ProducerChannels&) = delete;

  // The reactor of a new ProducerChannel call; one answered UNAVAILABLE after
  // Close().
  grpc::ServerBidiReactor<broker::v1::ProducerChannelRequest, broker::v1::ProducerChannelCommand>*
  Open() ABSL_LOCKS_EXCLUDED(mu_);

  // A reactor that ends the call at once with `status`.
  static grpc::ServerBidiReactor<broker::v1::ProducerChannelRequest,
                                 broker::v1::ProducerChannelCommand>*
  Refuse(const absl::Status& status);

  // Hands the check to a member of its group, in turn over the members with
  // an open channel.
  bool SendCheck(const broker::v1::TransactionCheck& check) override ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every open channel (OK: the producer reconnects elsewhere or later)
  // and refuses new ones. Idempotent.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  // Open channels that announced themselves.
  int open_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Channel;

  void Announced(Channel* channel) ABSL_LOCKS_EXCLUDED(mu_);
  void Ended(Channel* channel) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Every live reactor, announced or not, by its id.
  std::map<uint64_t, Channel*> channels_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Rotates the member a group's checks go to.
  uint64_t next_pick_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_PRODUCER_CHANNELS_H_
