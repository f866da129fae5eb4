// The transaction producer (RocketMQ's TransactionMQProducer): a message
// becomes visible to consumers only if the application's local transaction
// commits.
//
//   class Orders : public mq::TransactionListener {
//     mq::LocalTransactionState ExecuteLocalTransaction(const mq::Message& m, void* arg) override {
//       return SaveOrder(m) ? mq::LocalTransactionState::kCommitMessage
//                           : mq::LocalTransactionState::kRollbackMessage;
//     }
//     mq::LocalTransactionState CheckLocalTransaction(const mq::MessageExt& m) override {
//       return OrderSaved(m.msg_id) ? mq::LocalTransactionState::kCommitMessage
//                                   : mq::LocalTransactionState::kUnknown;
//     }
//   };
//   mq::TransactionProducer producer("OrderTx", std::make_shared<Orders>(), options);
//   producer.Start();
//   auto r = producer.SendMessageInTransaction(mq::Message("Orders", "TagA", "order-1"), nullptr);
//
// SendMessageInTransaction stores a half message (invisible), runs
// ExecuteLocalTransaction, and tells the broker the outcome: COMMIT makes the
// message visible exactly once, ROLLBACK drops it, UNKNOWN leaves it to the
// broker's check: a half unsettled past the broker's transaction timeout (6 s)
// is checked every check interval (60 s) with a live member of the producer
// group (CheckLocalTransaction on any process of the group), at most 15
// times, then discarded.
#ifndef MQ_CLIENT_INCLUDE_MQ_TRANSACTION_PRODUCER_H_
#define MQ_CLIENT_INCLUDE_MQ_TRANSACTION_PRODUCER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mq/message.h"
#include "mq/message_ext.h"
#include "mq/message_queue.h"
#include "mq/producer.h"
#include "mq/send_result.h"

namespace mq {

namespace client_internal {
class TransactionProducerImpl;
}  // namespace client_internal

// RocketMQ's LocalTransactionState.
enum class LocalTransactionState {
  kCommitMessage,    // COMMIT_MESSAGE: deliver the message
  kRollbackMessage,  // ROLLBACK_MESSAGE: drop it
  kUnknown,          // UNKNOW: not decided; the broker asks again later
};

// "COMMIT_MESSAGE", "ROLLBACK_MESSAGE", "UNKNOW".
absl::string_view LocalTransactionStateName(LocalTransactionState state);

// Implementations must be thread-safe: checks run on the producer's check
// threads while sends run on the application's.
class TransactionListener {
 public:
  virtual ~TransactionListener() = default;
  // Runs the local transaction of `message` (its unique id set) once its half
  // message is stored; on the thread of SendMessageInTransaction. `arg` is
  // the one passed there.
  virtual LocalTransactionState ExecuteLocalTransaction(const Message& message, void* arg) = 0;
  // The broker asks about a half message still unsettled: the message as
  // sent (msg_id is its transaction id). Any member of the group may be
  // asked, not only the one that sent it.
  virtual LocalTransactionState CheckLocalTransaction(const MessageExt& message) = 0;
};

struct TransactionSendResult : SendResult {
  // What ExecuteLocalTransaction returned (kRollbackMessage without calling
  // it when the half was stored with a status other than SEND_OK, as
  // RocketMQ).
  LocalTransactionState local_transaction_state = LocalTransactionState::kUnknown;
  // The half message's unique id.
  std::string transaction_id;
  // Whether the broker took the decision (EndTransaction). When not, the
  // broker asks CheckLocalTransaction later.
  absl::Status end_transaction_status;
};

struct TransactionProducerOptions {
  ProducerOptions producer;
  // Threads answering the broker's checks (RocketMQ's checkThreadPoolMinSize: 1).
  int check_threads = 1;
  // Checks waiting for a thread, at most (RocketMQ's checkRequestHoldMax: 2000);
  // past it a check is dropped (the broker asks again).
  size_t check_queue_capacity = 2000;
  // How often the producer opens its check channel to brokers it has newly
  // learnt of (ours: RocketMQ answers checks on the connection it already has).
  absl::Duration channel_refresh_interval = absl::Seconds(1);
};

// Thread-safe: any number of threads may send at once. Start() and Shutdown()
// must not race with each other.
class TransactionProducer {
 public:
  // `listener` must not be null.
  TransactionProducer(std::string group, std::shared_ptr<TransactionListener> listener,
                      TransactionProducerOptions options = {});
  // Shuts down if still running.
  ~TransactionProducer();

  TransactionProducer(const TransactionProducer&) = delete;
  TransactionProducer& operator=(const TransactionProducer&) = delete;

  // As Producer::Start(), and opens the check channel to every master broker
  // known. INVALID_ARGUMENT without a listener.
  absl::Status Start();
  void Shutdown();

  // Stores `message` as a half message (a sync send with the producer's
  // retries), runs ExecuteLocalTransaction, and tells the broker the outcome.
  // Errors are the send's (nothing stored, the listener not called); the
  // delay level is ignored (RocketMQ's rule). A failure to tell the broker is
  // in the result's end_transaction_status, not an error: the half is stored
  // and the broker will check.
  absl::StatusOr<TransactionSendResult> SendMessageInTransaction(const Message& message, void* arg);

  // The writable queues of `topic`. Also makes the topic's brokers known, so
  // a member that has not sent yet receives their checks.
  absl::StatusOr<std::vector<MessageQueue>> FetchPublishQueues(absl::string_view topic);

  const std::string& group() const;
  // "client_ip@instance_name"; empty before Start().
  std::string client_id() const;

 private:
  std::unique_ptr<client_internal::TransactionProducerImpl> impl_;
};

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_TRANSACTION_PRODUCER_H_
