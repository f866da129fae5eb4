// Long polling (RocketMQ's PullRequestHoldService): a pull that found nothing
// new is parked here instead of being answered empty; it is executed again and
// answered as soon as a matching message arrives on its queue (the store's
// WatchQueues events), or when its hold deadline passes. A periodic re-check of
// every held queue's offsets is the safety net for missed events (a dropped
// watch stream, a tag the event did not carry).
//
// A parked pull holds no thread: the gRPC reactor of the call waits, and the
// service's single thread starts the reads of woken pulls. A read answers in
// a callback (at once for an in-process store, from the store's answer for a
// store across the network), so one slow read does not delay the others.
#ifndef MQ_SERVICES_BROKER_PULL_REQUEST_HOLD_SERVICE_H_
#define MQ_SERVICES_BROKER_PULL_REQUEST_HOLD_SERVICE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/broker.pb.h"
#include "services/store/store_api.h"

namespace mq::broker {

struct PullHoldOptions {
  // How often every held queue's offsets are re-checked (RocketMQ: 5 s).
  absl::Duration check_interval = absl::Seconds(5);
};

// Thread-safe.
class PullRequestHoldService {
 public:
  using PullResult = absl::StatusOr<broker::v1::PullMessageResponse>;
  using Callback = std::function<void(PullResult)>;
  // Reads the queue for a pull (the pull processor's read, without holding)
  // and calls `done` with the result, exactly once, on any thread.
  using Execute = std::function<void(const broker::v1::PullMessageRequest& request,
                                     const std::vector<int64_t>& tag_codes, Callback done)>;

  // `store` must outlive the service; `execute` is called on the service's
  // thread (and in Stop()).
  PullRequestHoldService(store::StoreApi* store, Execute execute, PullHoldOptions options);
  // Stops.
  ~PullRequestHoldService();

  PullRequestHoldService(const PullRequestHoldService&) = delete;
  PullRequestHoldService& operator=(const PullRequestHoldService&) = delete;

  // Also told of every queue advance the watch reports (POP's held pops,
  // PopService); quick, and must not call the store. Before Start().
  void SetAdvanceListener(std::function<void(const store::v1::QueueAdvance&)> listener) {
    advance_listener_ = std::move(listener);
  }

  // Watches the store's queues and starts the thread.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Ends the watch and the thread, then answers every held pull by executing
  // it once more, and returns once every read started has been answered.
  // Later Hold() calls return false.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Parks a pull whose read found nothing new, until a message with a
  // matching tag arrives at or after `request.queue_offset()` or `deadline`
  // passes; then executes it again and calls `done` with the result (once).
  // `tag_codes` as ParseSubscription returns them. Returns false, without
  // calling `done`, when the service is stopped: the caller answers itself.
  bool Hold(broker::v1::PullMessageRequest request, std::vector<int64_t> tag_codes,
            absl::Time deadline, Callback done) ABSL_LOCKS_EXCLUDED(mu_);

  // A queue advanced (the store's watch calls this; tests may too).
  void NotifyMessageArriving(const store::v1::QueueAdvance& advance) ABSL_LOCKS_EXCLUDED(mu_);

  // Pulls parked right now (held or woken but not yet answered).
  size_t held_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using QueueKey = std::pair<std::string, int32_t>;
  struct HeldPull {
    broker::v1::PullMessageRequest request;
    std::vector<int64_t> tag_codes;
    absl::Time deadline;
    Callback done;
    // Messages below this offset are known not to match the tags (their
    // events carried other tags), so they need not wake the pull.
    int64_t verified_until = 0;
  };

  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Moves `key`'s held pulls that may have a matching message below
  // `max_offset` to ready_. `tag_code` is the tag hash of the message at
  // max_offset - 1, or null when unknown. Events may be merged (the store's
  // gRPC stream keeps only a queue's newest advance), so a pull whose
  // unverified range holds more than that one message is woken regardless.
  void WakeLocked(const QueueKey& key, int64_t max_offset, const int64_t* tag_code)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Park(HeldPull pull, bool trust_known_offsets) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Executes a woken or expired pull; Finish() takes its result.
  void Answer(HeldPull pull) ABSL_LOCKS_EXCLUDED(mu_);
  // Answers the pull, or parks it again if it still found nothing new and its
  // deadline has not passed.
  void Finish(HeldPull pull, PullResult result) ABSL_LOCKS_EXCLUDED(mu_);
  // Asks the store for the offsets of every queue with held pulls.
  void CheckHeldQueues() ABSL_LOCKS_EXCLUDED(mu_);

  store::StoreApi* const store_;
  const Execute execute_;
  const PullHoldOptions options_;
  std::function<void(const store::v1::QueueAdvance&)> advance_listener_;
  std::unique_ptr<store::StoreApi::Watch> watch_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<QueueKey, std::vector<HeldPull>> held_ ABSL_GUARDED_BY(mu_);
  // Woken pulls the thread has yet to execute.
  std::vector<HeldPull> ready_ ABSL_GUARDED_BY(mu_);
  // Reads started and not yet answered.
  int64_t executing_ ABSL_GUARDED_BY(mu_) = 0;
  // When the thread wakes next unless told to; a pull parked with an earlier
  // deadline sets deadline_moved_ so the thread re-plans its wait.
  absl::Time wake_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool deadline_moved_ ABSL_GUARDED_BY(mu_) = false;
  // The highest max offset each queue was seen to reach. A pull parked after a
  // message arrived but before its event was seen would otherwise wait for
  // the next check.
  std::map<QueueKey, int64_t> known_max_offsets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_PULL_REQUEST_HOLD_SERVICE_H_
