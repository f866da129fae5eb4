// A transaction producer's ProducerChannel streams (broker.proto), one per
// master broker: each announces the client and its group, then carries the
// broker's TransactionChecks to the producer (RocketMQ's broker writes
// CHECK_TRANSACTION_STATE on the producer's connection).
#ifndef MQ_CLIENT_SRC_TRANSACTION_CHECK_CHANNELS_H_
#define MQ_CLIENT_SRC_TRANSACTION_CHECK_CHANNELS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "client/src/broker_connections.h"
#include "proto/broker.pb.h"

namespace mq::client_internal {

// Thread-safe. Must not be destroyed on a gRPC callback thread.
class TransactionCheckChannels {
 public:
  // Called on a gRPC thread for each check, with the address of the broker
  // that sent it; must be quick (hand the check to a thread of its own).
  using CheckHandler =
      std::function<void(const std::string& address, broker::v1::TransactionCheck check)>;

  TransactionCheckChannels(std::string client_id, std::string group, CheckHandler handler);
  // Closes.
  ~TransactionCheckChannels();

  TransactionCheckChannels(const TransactionCheckChannels&) = delete;
  TransactionCheckChannels& operator=(const TransactionCheckChannels&) = delete;

  // Opens a channel to each of `addresses` that has none open (a channel the
  // broker ended is opened again), on `connections`' channel to it; ends the
  // channels to brokers no longer listed.
  void Refresh(BrokerConnections& connections, const std::vector<std::string>& addresses)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends every channel and waits for them. Idempotent; Refresh does nothing
  // afterwards.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Channel;

  const std::string client_id_;
  const std::string group_;
  const CheckHandler handler_;

  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::shared_ptr<Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_TRANSACTION_CHECK_CHANNELS_H_
