// Transactional messages in the broker (RocketMQ's
// TransactionalMessageService, EndTransactionProcessor and
// TransactionalMessageCheckService):
//
//  * a half message (property TRAN_MSG=true) is stored invisible on
//    RMQ_SYS_TRANS_HALF_TOPIC queue 0, its own topic and queue kept in the
//    properties REAL_TOPIC and REAL_QID (ToHalf, called by the send pipeline);
//  * EndTransaction settles it: a commit reads the half by its commit-log
//    offset, appends a copy to the real topic (without TRAN_MSG, with
//    TRAN_PREPARED_QUEUE_OFFSET naming the half) and then an op record; a
//    rollback appends the op record only. Op records go to
//    RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0, tag "d", body the half's queue
//    offset in decimal, so a restart knows which halves are settled;
//  * a check round (every check interval) reads new halves and op records,
//    asks the producer group about halves unsettled past the transaction
//    timeout, and discards a half asked about check_max times (a copy goes to
//    TRANS_CHECK_MAX_TIME_TOPIC for the operator, then an op record). The
//    progress is persisted in the store's metadata ("transaction_progress").
//
// Exactly once: a half is settled by one call at a time; a settled half is
// refused; and a commit whose op record was lost in a crash finds its copy
// through the store's message index (the copy carries the half's queue
// offset) instead of appending a second one.
//
// Everything goes through StoreApi, so it works the same in the standalone
// server and in a broker over a store process, and replicates to slaves
// through the commit log.
#ifndef MQ_SERVICES_BROKER_TRANSACTION_SERVICE_H_
#define MQ_SERVICES_BROKER_TRANSACTION_SERVICE_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "proto/broker.pb.h"
#include "proto/store.pb.h"
#include "services/broker/transaction_op_book.h"
#include "services/broker/transaction_topics.h"
#include "services/store/store_api.h"

namespace mq::broker {

// The tag of an op record (RocketMQ's TransactionalMessageUtil.REMOVETAG).
inline constexpr absl::string_view kTransactionOpTag = "d";
// The store metadata key of the check service's progress.
inline constexpr absl::string_view kTransactionProgressKey = "transaction_progress";

// Defaults follow RocketMQ's BrokerConfig.
struct TransactionOptions {
  // A half younger than this is not asked about (transactionTimeOut).
  absl::Duration transaction_timeout = absl::Seconds(6);
  // How often the check round runs (transactionCheckInterval).
  absl::Duration check_interval = absl::Seconds(60);
  // A half asked about this many times is discarded (transactionCheckMax).
  int check_max = 15;
  // Refuse half messages (rejectTransactionMessage).
  bool reject_transaction_message = false;
};

// INVALID_ARGUMENT naming the first bad option.
absl::Status ValidateTransactionOptions(const TransactionOptions& options);

// How the check round reaches a producer group.
class TransactionChecker {
 public:
  virtual ~TransactionChecker() = default;
  // Hands `check` to one live member of check.producer_group(); false when no
  // member is connected.
  virtual bool SendCheck(const broker::v1::TransactionCheck& check) = 0;
};

// Thread-safe. `store` and `checker` must outlive the service.
class TransactionService {
 public:
  TransactionService(store::StoreApi* store, TransactionChecker* checker, std::string broker_name,
                     std::string store_host, TransactionOptions options,
                     const Clock* clock = Clock::Real());

  TransactionService(const TransactionService&) = delete;
  TransactionService& operator=(const TransactionService&) = delete;

  const TransactionOptions& options() const { return options_; }

  // Turns the entry of a half message (topic and queue as the producer chose
  // them) into the entry stored on the half topic. NO_PERMISSION when the
  // broker rejects transaction messages; MESSAGE_ILLEGAL without a valid
  // PGROUP property.
  absl::Status ToHalf(store::v1::AppendEntry* entry) const;

  // Reads the progress from the store's metadata and the half and op queues
  // past it. Before EndTransaction and CheckOnce are called.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);

  // Settles a half (see broker.proto). Errors, nothing changed:
  // INVALID_ARGUMENT (+MESSAGE_ILLEGAL) for a bad request or a half that does
  // not match it (queue offset, transaction id); NOT_FOUND (+QUERY_NOT_FOUND)
  // when no half message is at the offset; PERMISSION_DENIED (+NO_PERMISSION)
  // for another producer group's half; FAILED_PRECONDITION (+SYSTEM_ERROR)
  // for a half already settled or being settled by another call; the store's
  // error when it fails (the half stays unsettled).
  absl::StatusOr<broker::v1::EndTransactionResponse> EndTransaction(
      const broker::v1::EndTransactionRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // One check round: reads new halves and op records, asks about or
  // discards the halves due, and persists the progress.
  void CheckOnce() ABSL_LOCKS_EXCLUDED(mu_);

  // Halves read and not settled.
  size_t pending_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every half below this queue offset is settled.
  int64_t settled_below() const ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the half at `queue_offset` is known settled.
  bool IsSettled(int64_t queue_offset) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Reads the op queue, then the half queue, up to their ends.
  absl::Status ReadQueues() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ReadOps() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ReadHalves() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status PersistProgress() ABSL_LOCKS_EXCLUDED(mu_);
  // Checks `request` against the stored half; returns the half.
  absl::StatusOr<common::v1::MessageExt> ReadHalf(
      const broker::v1::EndTransactionRequest& request) const;
  // The copy of a committed half already in its real topic, if any.
  absl::StatusOr<bool> FindCommittedCopy(const common::v1::MessageExt& half,
                                         broker::v1::EndTransactionResponse* response) const;
  absl::Status Commit(const common::v1::MessageExt& half,
                      broker::v1::EndTransactionResponse* response) const;
  // Appends a copy of `half` to `topic`/`queue_id` as a plain message.
  absl::StatusOr<store::v1::AppendResult> AppendCopy(const common::v1::MessageExt& half,
                                                     absl::string_view topic,
                                                     int32_t queue_id) const;
  absl::Status AppendOp(int64_t half_offset) const;
  // Discards a half checked check_max times.
  absl::Status Discard(const PendingHalf& half);
  void Check(const PendingHalf& half);
  // Claims the half for one settling call; false if settled or claimed.
  absl::Status Claim(int64_t half_offset) ABSL_LOCKS_EXCLUDED(mu_);
  void Release(int64_t half_offset, bool settled) ABSL_LOCKS_EXCLUDED(mu_);

  store::StoreApi* const store_;
  TransactionChecker* const checker_;
  const std::string broker_name_;
  const std::string store_host_;
  const TransactionOptions options_;
  const Clock* const clock_;

  // One check round (or Load) at a time.
  absl::Mutex round_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  TransactionOpBook book_ ABSL_GUARDED_BY(mu_);
  // Halves an EndTransaction or a discard is settling now.
  absl::flat_hash_set<int64_t> settling_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_TRANSACTION_SERVICE_H_
