// Which half messages of a broker are settled: the bookkeeping behind the
// transaction check service. RocketMQ derives it from the half and op topics
// each check round (TransactionalMessageServiceImpl.check with its
// removeMap); here the book is kept in memory, fed by reading both queues in
// order, and persisted as a TransactionProgress snapshot so a restart resumes
// from the snapshot and re-reads the queues past it.
#ifndef MQ_SERVICES_BROKER_TRANSACTION_OP_BOOK_H_
#define MQ_SERVICES_BROKER_TRANSACTION_OP_BOOK_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/broker/broker_metadata.pb.h"

namespace mq::broker {

// A half message not settled yet.
struct PendingHalf {
  // In the half queue.
  int64_t queue_offset = 0;
  int64_t commit_log_offset = 0;
  absl::Time store_time;
  std::string producer_group;
  // How many times its producer group was asked about it.
  int32_t check_times = 0;
};

// Not thread-safe: the owner locks. Every operation is idempotent, so reading
// a queue again from an older snapshot gives the same book.
class TransactionOpBook {
 public:
  // Replaces the book with `progress` (a snapshot of an earlier book).
  void Restore(const internal::TransactionProgress& progress);
  internal::TransactionProgress Snapshot() const;

  // The next half queue offset to read, and the next op queue offset.
  int64_t next_half_offset() const { return next_half_offset_; }
  int64_t next_op_offset() const { return next_op_offset_; }
  // Every half below this is settled.
  int64_t settled_below() const { return settled_below_; }

  // A half read from the half queue (at or past next_half_offset(); a half
  // already read or settled is ignored). Offsets skipped on the way (the
  // store left them out as damaged) count as settled.
  void AddHalf(const PendingHalf& half);
  // Reading the half queue got up to `next_offset` (exclusive).
  void HalvesReadTo(int64_t next_offset);
  // The op record at `op_offset` settles the half at `half_offset`.
  void AddOp(int64_t op_offset, int64_t half_offset);
  // Reading the op queue got up to `next_offset` (exclusive).
  void OpsReadTo(int64_t next_offset);
  // An op record for `half_offset` was written (it is read again later).
  void MarkSettled(int64_t half_offset);

  bool IsSettled(int64_t half_offset) const;
  // Unsettled halves stored at or before `cutoff`, in queue order.
  std::vector<PendingHalf> DueBy(absl::Time cutoff) const;
  // Counts one more check of a pending half; returns the new count (0 when
  // the half is not pending).
  int32_t RecordCheck(int64_t half_offset);
  size_t pending_count() const { return pending_.size(); }

 private:
  // Moves settled_below_ past every settled offset it can.
  void Compact();

  int64_t settled_below_ = 0;
  int64_t next_half_offset_ = 0;
  int64_t next_op_offset_ = 0;
  // Settled halves at or past settled_below_ (possibly past
  // next_half_offset_: an op may be read before its half).
  std::set<int64_t> settled_;
  // Halves read and not settled, by queue offset.
  std::map<int64_t, PendingHalf> pending_;
  // Check counts of a restored snapshot for halves not read again yet.
  std::map<int64_t, int32_t> restored_check_times_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_TRANSACTION_OP_BOOK_H_
