// The transaction producer's logic behind the mq::TransactionProducer facade:
// a ProducerImpl for the half sends (the one send engine), the decision told
// to the broker with EndTransaction, and the broker's checks answered from
// the check channels on a thread pool of its own.
#ifndef MQ_CLIENT_SRC_TRANSACTION_PRODUCER_IMPL_H_
#define MQ_CLIENT_SRC_TRANSACTION_PRODUCER_IMPL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/src/producer_impl.h"
#include "client/src/transaction_check_channels.h"
#include "common/executor.h"
#include "common/scheduler.h"
#include "mq/transaction_producer.h"
#include "proto/broker.pb.h"

namespace mq::client_internal {

// The wire resolution of a local transaction state.
broker::v1::TransactionResolution ToResolution(LocalTransactionState state);

// Thread-safe, as mq::TransactionProducer.
class TransactionProducerImpl {
 public:
  TransactionProducerImpl(std::string group, std::shared_ptr<TransactionListener> listener,
                          TransactionProducerOptions options);
  ~TransactionProducerImpl();

  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<TransactionSendResult> SendMessageInTransaction(const Message& message, void* arg);
  absl::StatusOr<std::vector<MessageQueue>> FetchPublishQueues(const std::string& topic);
  const std::string& group() const { return producer_.group(); }
  std::string client_id() const { return producer_.client_id(); }

 private:
  // Opens check channels to the master brokers known now.
  void RefreshChannels() ABSL_LOCKS_EXCLUDED(mu_);
  // On a gRPC thread: queues the check for a check thread.
  void OnCheck(const std::string& address, broker::v1::TransactionCheck check);
  // On a check thread.
  void AnswerCheck(const std::string& address, const broker::v1::TransactionCheck& check);
  // EndTransaction to the broker at `address`.
  absl::Status EndTransaction(const std::string& address,
                              const broker::v1::EndTransactionRequest& request);

  const std::shared_ptr<TransactionListener> listener_;
  const TransactionProducerOptions options_;
  ProducerImpl producer_;
  Executor check_executor_;
  Scheduler channel_refresher_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // Set by Start().
  std::unique_ptr<TransactionCheckChannels> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_TRANSACTION_PRODUCER_IMPL_H_
