#include "client/src/consume_orderly_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "glog/logging.h"

namespace mq::client_internal {

ConsumeOrderlyService::ConsumeOrderlyService(ConsumeOrderlyOptions options,
                                             MessageListenerOrderly listener, Executor* executor,
                                             SendToDeadLetter send_to_dead_letter,
                                             UpdateOffset update_offset, const Clock* clock)
    : options_(options),
      listener_(std::move(listener)),
      executor_(executor),
      send_to_dead_letter_(std::move(send_to_dead_letter)),
      update_offset_(std::move(update_offset)),
      clock_(clock) {}

void ConsumeOrderlyService::Submit(const MessageQueue& queue,
                                   std::shared_ptr<ProcessQueue> process_queue,
                                   absl::Duration delay) {
  // Refused only once the executor stops; the queue is then being dropped.
  executor_
      ->SubmitAfter(delay,
                    [this, queue, process_queue = std::move(process_queue)] {
                      Consume(queue, process_queue);
                    })
      .IgnoreError();
}

void ConsumeOrderlyService::Consume(const MessageQueue& queue,
                                    const std::shared_ptr<ProcessQueue>& process_queue) {
  absl::MutexLock consuming(process_queue->consume_mutex());
  if (!process_queue->dropped() && options_.needs_lock &&
      !process_queue->LockValid(clock_->Now(), options_.lock_max_live_time)) {
    // Not ours (yet, or any more): the turn waits for the lock.
    Submit(queue, process_queue, options_.lock_retry_delay);
    return;
  }
  std::vector<MessageExt> batch = process_queue->TakeBatch(options_.batch_max_size);
  if (batch.empty()) return;
  ConsumeOrderlyContext context{queue, options_.suspend_time};
  ConsumeOrderlyStatus status = ConsumeOrderlyStatus::kSuspendCurrentQueueAMoment;
  try {
    status = listener_(batch, context);
  } catch (...) {
    LOG(WARNING) << "the orderly listener threw; suspending " << queue.ToString();
  }
  process_queue->Release(batch);
  if (status == ConsumeOrderlyStatus::kSuccess) {
    update_offset_(queue, process_queue->Remove(batch));
    // The next batch as a new task, so other queues get their turn.
    Submit(queue, process_queue);
    return;
  }
  // Suspended: RocketMQ's checkReconsumeTimes.
  std::vector<MessageExt> again;
  std::vector<MessageExt> dead;
  for (MessageExt& message : batch) {
    if (options_.max_reconsume_times >= 0 &&
        message.reconsume_times >= options_.max_reconsume_times) {
      absl::Status sent = send_to_dead_letter_(message);
      if (sent.ok()) {
        LOG(WARNING) << "message " << message.msg_id << " at " << queue.ToString() << " offset "
                     << message.queue_offset << " went to the dead-letter queue after "
                     << message.reconsume_times << " redeliveries";
        dead.push_back(std::move(message));
        continue;
      }
      LOG(WARNING) << "message " << message.msg_id << " at " << queue.ToString() << " offset "
                   << message.queue_offset
                   << " used up its redeliveries but could not go to the dead-letter queue; "
                      "suspending the queue again: "
                   << sent;
    }
    ++message.reconsume_times;
    again.push_back(std::move(message));
  }
  if (!dead.empty()) update_offset_(queue, process_queue->Remove(dead));
  if (again.empty()) {
    Submit(queue, process_queue);
    return;
  }
  // The turn continues: the same messages first, after the suspend time.
  process_queue->Requeue(std::move(again));
  Submit(queue, process_queue, std::max(context.suspend_time, absl::ZeroDuration()));
}

}  // namespace mq::client_internal
