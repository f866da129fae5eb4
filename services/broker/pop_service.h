// POP consumption (RocketMQ 5's PopMessageProcessor, AckMessageProcessor,
// ChangeInvisibleTimeProcessor and PopReviveService): the broker, not the
// consumer, tracks a consumer group's progress through a queue.
//
// Per (group, topic, queue) the service keeps the next offset to hand out and
// the messages in flight (handed out, not settled), each with its deadline
// and the delivery id of its receipt handle (pop_receipt_handle.h):
//  - Pop reads the next messages (tag filter as the pull's) from the queue, or
//    with queue_id -1 from the topic's queues and the group's %RETRY% queues
//    in turn (the starting queue rotates, so none starves), and marks them in
//    flight until now + invisible time. Nothing available: the call is held
//    until a message arrives on one of those queues (the store's queue-advance
//    events, which the pull's hold service passes on) or its poll time ends.
//  - Ack settles a message by its handle; ChangeInvisibleTime moves its
//    deadline and issues a new handle (the old one is refused from then on);
//    ForwardToDeadLetter moves it to %DLQ%<group> and settles it.
//  - When a deadline passes (an ordered deadline index, so the revive thread
//    touches only what is due), the message is redelivered through
//    %RETRY%<group> with its reconsume times counted up, or moved to
//    %DLQ%<group> after the group's retry_max_times, by the send-back
//    processor's copy (ConsumerSendBackProcessor::Redeliver), then settled.
//    From the deadline on its handle is refused.
//  - For a group with consume_message_orderly (FIFO), a queue has at most
//    one message in flight: the next is handed out only once it is acked or
//    dead-lettered. An expired one is handed out again in place (same queue
//    and offset, not through %RETRY%, so the order holds), with the attempt
//    counted up, until the group's retry_max_times + 1 attempts; then it goes
//    to %DLQ%<group> and the queue moves on.
//  - The group's committed offset of a queue (ConsumerOffsetManager) is the
//    lowest offset not settled, so consumerProgress and GetConsumeStats show
//    a POP group's lag; a queue a group never consumed starts at its first
//    kept message.
//
// Durability (RocketMQ's pop checkpoints and ack records): every change is a
// PopLogRecord appended to the broker's own topic RMQ_SYS_POP_LOG through the
// store (so it is in the commit log, flushed and replicated like any message):
// one per pop call that handed out messages, per ack call, per revive round
// (in pieces), invisible time change and dead-letter forward. One writer
// (pop_log_writer.h) appends them in order, those that queued meanwhile
// together. Only an ack waits for its record (written before any handle is
// settled: an ack answered SUCCESS is durable); the others' loss in a crash
// only brings messages back sooner. Recover() replays the log at start: a message popped
// and not settled is in flight again with its deadline (and handle), so it
// is delivered again once the deadline passes; an acked one is not. The log
// is replayed from its latest complete checkpoint (Checkpoint(): the whole
// state, written every checkpoint_interval), or from its first kept record
// when it has none. An ack holds off a checkpoint from its log record to its
// settling, so no checkpoint written after an ack's record shows the message
// in flight.
#ifndef MQ_SERVICES_BROKER_POP_SERVICE_H_
#define MQ_SERVICES_BROKER_POP_SERVICE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "proto/broker.pb.h"
#include "services/broker/broker_metadata.pb.h"
#include "services/broker/consumer_offset_manager.h"
#include "services/broker/consumer_send_back_processor.h"
#include "services/broker/pop_log_writer.h"
#include "services/broker/pop_receipt_handle.h"
#include "services/broker/subscription_group_manager.h"
#include "services/broker/topic_config_manager.h"
#include "services/store/store_api.h"

namespace mq::broker {

inline constexpr int32_t kDefaultPopBatchSize = 32;
inline constexpr int32_t kMaxPopBatchSize = 32;
inline constexpr absl::Duration kMinInvisibleTime = absl::Seconds(1);
inline constexpr absl::Duration kMaxInvisibleTime = absl::Hours(12);
// The POP log records of one append, at most (a record larger goes alone).
inline constexpr size_t kMaxLogBatchBytes = 1 << 20;

struct PopOptions {
  // This broker's group name: handles name it, and requests naming another
  // group are refused.
  std::string broker_name;
  // A slave refuses every POP call (the state lives on the master).
  bool slave = false;
  // The store host the log's records carry ("a.b.c.d:port").
  std::string store_host = "127.0.0.1:0";
  // A held pop is answered at least this long before the client's deadline.
  absl::Duration deadline_margin = absl::Milliseconds(500);
  // A redelivery that failed (store unavailable) is tried again this much
  // later.
  absl::Duration revive_retry_interval = absl::Seconds(1);
  // How often the whole in-flight state is written to the log when it
  // changed (a checkpoint): a restart replays the log from the latest
  // checkpoint, not from its first kept record.
  absl::Duration checkpoint_interval = absl::Minutes(1);
};

// Thread-safe. Every pointer must outlive the service.
class PopService {
 public:
  using PopCallback = std::function<void(absl::StatusOr<broker::v1::PopMessageResponse>)>;
  // Runs blocking work (the pop of a held call a message woke) off the
  // caller's thread, or, when it cannot (busy, stopping), calls `refused`
  // instead (which is quick).
  using Runner = std::function<void(std::function<void()> work, std::function<void()> refused)>;

  PopService(store::StoreApi* store, TopicConfigManager* topics, SubscriptionGroupManager* groups,
             ConsumerOffsetManager* offsets, ConsumerSendBackProcessor* send_back,
             const Clock* clock, Runner runner, PopOptions options);
  // Stops.
  ~PopService();

  PopService(const PopService&) = delete;
  PopService& operator=(const PopService&) = delete;

  // Rebuilds the in-flight state from the log; before Start() and the first
  // call. The store's error if the log cannot be read.
  absl::Status Recover() ABSL_LOCKS_EXCLUDED(mu_);

  // Queues a checkpoint of the in-flight state to the log (not waited for).
  // The thread writes one every checkpoint_interval when the log changed,
  // Stop() one last.
  void Checkpoint() ABSL_LOCKS_EXCLUDED(checkpoint_mu_, mu_);

  // Starts the thread that redelivers expired messages and ends held pops.
  // Without it (unit tests), call ReviveDue() and EndExpiredPolls().
  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the thread and answers every held pop (empty). Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Answers through `done`, exactly once (maybe before returning). Blocks for
  // store reads. `client_deadline` caps the hold. Errors: INVALID_ARGUMENT
  // for a bad group, topic, queue id, count, invisible time, poll time or
  // subscription; NOT_FOUND + TOPIC_NOT_EXIST; NOT_FOUND +
  // SUBSCRIPTION_GROUP_NOT_EXIST (unknown group, auto-creation off);
  // PERMISSION_DENIED + NO_PERMISSION (unreadable topic, consume disabled);
  // FAILED_PRECONDITION + SYSTEM_ERROR (another broker group); UNAVAILABLE on
  // a slave; the store's errors.
  void Pop(const broker::v1::PopMessageRequest& request, absl::Time client_deadline,
           PopCallback done) ABSL_LOCKS_EXCLUDED(mu_);

  // Each handle settled on its own: SUCCESS or INVALID_RECEIPT_HANDLE.
  // INVALID_ARGUMENT for a bad group or topic or no handle (nothing settled).
  absl::StatusOr<broker::v1::AckMessageResponse> Ack(const broker::v1::AckMessageRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // INVALID_ARGUMENT (+ INVALID_RECEIPT_HANDLE for a bad handle) and nothing
  // changed for a bad request.
  absl::StatusOr<broker::v1::ChangeInvisibleTimeResponse> ChangeInvisibleTime(
      const broker::v1::ChangeInvisibleTimeRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks for the store. As ChangeInvisibleTime for a bad request; the
  // store's error leaves the message in flight with its handle.
  absl::StatusOr<broker::v1::ForwardToDeadLetterResponse> ForwardToDeadLetter(
      const broker::v1::ForwardToDeadLetterRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // A queue advanced: held pops of its topic are tried again.
  void NotifyMessageArriving(const store::v1::QueueAdvance& advance) ABSL_LOCKS_EXCLUDED(mu_);

  // Redelivers (or dead-letters) every in-flight message whose deadline has
  // passed; returns how many were settled so. Blocks for the store.
  int ReviveDue() ABSL_LOCKS_EXCLUDED(mu_);
  // Answers the held pops whose poll time has ended.
  void EndExpiredPolls() ABSL_LOCKS_EXCLUDED(mu_);

  // Messages in flight (handed out, not settled), over every group.
  int64_t in_flight_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // Pops held for a message.
  size_t held_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Queue;
  struct InFlight {
    // 0 while being redelivered or dead-lettered: no handle is valid then.
    int64_t delivery_id = 0;
    absl::Time deadline;
    int64_t commit_log_offset = 0;
    // The delivery attempt (1 for the first).
    int32_t attempt = 1;
    // Its place in deadlines_ (end() when not indexed).
    std::multimap<absl::Time, std::pair<Queue*, int64_t>>::iterator due;
  };
  // One (group, topic, queue).
  struct Queue {
    std::string group;
    std::string topic;
    int32_t queue_id = 0;
    // Serializes the reads of the queue (held across the store read).
    absl::Mutex read_mu;
    // Guarded by the service's mu_:
    bool loaded = false;
    // The next offset to read.
    int64_t next_offset = 0;
    // The committed offset last written to the offset manager.
    int64_t committed = 0;
    // Offsets handed out and not settled.
    std::map<int64_t, InFlight> in_flight;
    // FIFO: the offset handed out again in place, and its next attempt.
    int64_t redeliver_offset = -1;
    int32_t redeliver_attempt = 0;
  };
  using QueueKey = std::tuple<std::string, std::string, int32_t>;
  // A checked pop.
  struct Prepared {
    broker::v1::PopMessageRequest request;
    std::vector<int64_t> tag_codes;
    // Read queues, (topic, queue id), in the order to try them.
    std::vector<std::pair<std::string, int32_t>> queues;
    absl::Time hold_until;
    // The group consumes in order (FIFO).
    bool orderly = false;
  };
  struct HeldPop {
    Prepared pop;
    PopCallback done;
  };
  // Pops again on the runner (answered empty when the runner refuses).
  void Retry(HeldPop held);
  // Held pops of these queues try again: a FIFO queue's message was settled
  // or is handed out again in place, so it may hand one out.
  void WakeFifo(const std::vector<std::pair<std::string, int32_t>>& queues)
      ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<Prepared> Check(const broker::v1::PopMessageRequest& request,
                                 absl::Time client_deadline);
  // Sum of the advance counts of the pop's topics.
  int64_t AdvancesLocked(const Prepared& pop) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pops once; answers or holds.
  void Attempt(Prepared pop, PopCallback done) ABSL_LOCKS_EXCLUDED(mu_);
  // One pass over the pop's queues.
  absl::StatusOr<broker::v1::PopMessageResponse> PopOnce(const Prepared& pop)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Reads up to `max` messages of one queue into `response`, and their log
  // ops into `log`.
  absl::Status PopQueue(const Prepared& pop, const std::string& topic, int32_t queue_id, int max,
                        broker::v1::PopMessageResponse* response, internal::PopLogRecord* log)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Appends `records` to the log, in order (one store append); the
  // writer's only call.
  absl::Status AppendLog(const std::vector<internal::PopLogRecord>& records);
  // The log op of an entry in flight (its queue's next offset then being
  // `next_offset`), or settled when `entry` is null.
  static internal::PopLogOp LogOp(const Queue& queue, int64_t offset, const InFlight* entry,
                                  int64_t next_offset);
  Queue* GetQueue(const std::string& group, const std::string& topic, int32_t queue_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Sets the queue's starting offset on first use. Caller holds read_mu.
  absl::Status LoadQueue(Queue* queue) ABSL_LOCKS_EXCLUDED(mu_);
  // Handle `text` decoded, if it is of this broker and of `topic` or the
  // group's %RETRY% topic; else INVALID_RECEIPT_HANDLE naming why.
  absl::StatusOr<ReceiptHandle> CheckHandle(const std::string& group, const std::string& topic,
                                            absl::string_view text) const;
  // The in-flight entry `handle` (decoded from `text`) names, if its delivery
  // is current; else INVALID_RECEIPT_HANDLE naming why.
  absl::StatusOr<std::pair<Queue*, InFlight*>> FindLocked(const std::string& group,
                                                          const ReceiptHandle& handle,
                                                          absl::string_view text)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void IndexLocked(Queue* queue, int64_t offset, InFlight* entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnindexLocked(InFlight* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the entry and advances the committed offset past settled ones.
  void SettleLocked(Queue* queue, int64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Commits the queue's lowest unsettled offset when it moved.
  void AdvanceCommittedLocked(Queue* queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string HandleFor(const Queue& queue, int64_t offset, int64_t delivery_id) const;
  absl::Status CheckCommon(absl::string_view group, absl::string_view topic) const;
  absl::StatusOr<absl::Duration> CheckInvisibleTime(int64_t ms) const;
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Checkpoint() when the log changed since the last one and
  // checkpoint_interval passed (or `now_anyway`).
  void MaybeCheckpoint(bool now_anyway) ABSL_LOCKS_EXCLUDED(checkpoint_mu_, mu_);
  // The log's queue offset where the replay starts: the first piece of the
  // latest complete checkpoint, else `min` (the first kept record).
  absl::StatusOr<int64_t> ReplayStart(int64_t min, int64_t max);

  store::StoreApi* const store_;
  TopicConfigManager* const topics_;
  SubscriptionGroupManager* const groups_;
  ConsumerOffsetManager* const offsets_;
  ConsumerSendBackProcessor* const send_back_;
  const Clock* const clock_;
  const Runner runner_;
  const PopOptions options_;
  PopLogWriter log_writer_;

  // Held shared by an ack from its log record to its settling, exclusively
  // by a checkpoint. Taken before mu_.
  absl::Mutex checkpoint_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Time last_checkpoint_ ABSL_GUARDED_BY(checkpoint_mu_) = absl::InfinitePast();
  // log_writer_.handed_over() after the last checkpoint's records.
  int64_t handed_over_at_checkpoint_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;
  int64_t checkpoint_id_ ABSL_GUARDED_BY(checkpoint_mu_) = 0;

  mutable absl::Mutex mu_;
  // Wakes the thread: an earlier deadline, or Stop().
  absl::CondVar wake_;
  std::map<QueueKey, std::unique_ptr<Queue>> queues_ ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Time, std::pair<Queue*, int64_t>> deadlines_ ABSL_GUARDED_BY(mu_);
  int64_t in_flight_count_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_delivery_id_ ABSL_GUARDED_BY(mu_);
  // Where each (group, topic)'s next pop starts among its queues.
  std::map<std::pair<std::string, std::string>, uint32_t> rotation_ ABSL_GUARDED_BY(mu_);
  // Bumped by each advance of a topic's queues: a pop that read nothing
  // parks only if its topics did not advance meanwhile.
  std::map<std::string, int64_t> topic_advances_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, HeldPop> held_ ABSL_GUARDED_BY(mu_);
  int64_t next_hold_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_POP_SERVICE_H_
