// Orderly consumption of a push consumer's queues (RocketMQ's
// ConsumeMessageOrderlyService): each queue is consumed by one task at a time,
// in queue-offset order, only while the member holds the queue's broker lock
// (clustering). A batch the listener suspends goes back to the head of its
// queue and is delivered again after the suspend time, reconsume_times
// counting up; nothing later in the queue is delivered meanwhile. A message
// suspended once more after max_reconsume_times redeliveries is sent to the
// dead-letter queue; if that fails, the queue stays suspended and the message
// is delivered and tried again, so no message is skipped unsent.
#ifndef MQ_CLIENT_SRC_CONSUME_ORDERLY_SERVICE_H_
#define MQ_CLIENT_SRC_CONSUME_ORDERLY_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/src/process_queue.h"
#include "common/clock.h"
#include "common/executor.h"
#include "mq/message_ext.h"
#include "mq/message_queue.h"
#include "mq/push_consumer.h"

namespace mq::client_internal {

struct ConsumeOrderlyOptions {
  // Most messages per listener call.
  int batch_max_size = 1;
  // The context's suspend time before the listener sets it.
  absl::Duration suspend_time = absl::Seconds(1);
  // -1: never give a message up to the dead-letter queue.
  int max_reconsume_times = -1;
  // Clustering: consume a queue only while ProcessQueue::LockValid(now,
  // lock_max_live_time); otherwise look again after lock_retry_delay.
  bool needs_lock = true;
  absl::Duration lock_max_live_time = absl::Seconds(30);
  // RocketMQ: 100 ms.
  absl::Duration lock_retry_delay = absl::Milliseconds(100);
};

// Thread-safe. The executor, and whatever the callbacks use, must outlive the
// tasks submitted (stop the executor first).
class ConsumeOrderlyService {
 public:
  // Sends `message` to the group's dead-letter queue (ConsumerSendBack with
  // delay_level < 0).
  using SendToDeadLetter = std::function<absl::Status(const MessageExt& message)>;
  // The queue is consumed up to (not including) `offset`.
  using UpdateOffset = std::function<void(const MessageQueue& queue, int64_t offset)>;

  ConsumeOrderlyService(ConsumeOrderlyOptions options, MessageListenerOrderly listener,
                        Executor* executor, SendToDeadLetter send_to_dead_letter,
                        UpdateOffset update_offset, const Clock* clock = Clock::Real());

  ConsumeOrderlyService(const ConsumeOrderlyService&) = delete;
  ConsumeOrderlyService& operator=(const ConsumeOrderlyService&) = delete;

  // Runs the queue's consume task after `delay`; call when
  // ProcessQueue::Put() returned true (the task's turn begins). The offsets
  // of what the task consumes are recorded even if the queue is dropped
  // meanwhile: a member releasing a queue waits on its consume_mutex() and
  // then commits them before it unlocks the queue.
  void Submit(const MessageQueue& queue, std::shared_ptr<ProcessQueue> process_queue,
              absl::Duration delay = absl::ZeroDuration());

 private:
  void Consume(const MessageQueue& queue, const std::shared_ptr<ProcessQueue>& process_queue);

  const ConsumeOrderlyOptions options_;
  const MessageListenerOrderly listener_;
  Executor* const executor_;
  const SendToDeadLetter send_to_dead_letter_;
  const UpdateOffset update_offset_;
  const Clock* const clock_;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_CONSUME_ORDERLY_SERVICE_H_
