// The producer: sends messages to the brokers of a topic, with RocketMQ's
// semantics (queue rotation, retries on another broker within one timeout
// budget, compression, unique ids).
//
//   mq::ProducerOptions options;
//   options.client.name_server_addresses = {"127.0.0.1:9876"};
//   mq::Producer producer("OrderProducers", options);
//   if (absl::Status s = producer.Start(); !s.ok()) { ... }
//   absl::StatusOr<mq::SendResult> r = producer.Send(mq::Message("Orders", "TagA", "hello"));
//   producer.Shutdown();
//
// Delivery is at least once: a retry after a timeout may store a message twice
// (both copies carry the same unique id).
#ifndef MQ_CLIENT_INCLUDE_MQ_PRODUCER_H_
#define MQ_CLIENT_INCLUDE_MQ_PRODUCER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mq/client_options.h"
#include "mq/error_code.h"
#include "mq/message.h"
#include "mq/message_queue.h"
#include "mq/message_queue_selector.h"
#include "mq/send_callback.h"
#include "mq/send_hook.h"
#include "mq/send_result.h"

namespace mq {

namespace client_internal {
class ProducerImpl;
}  // namespace client_internal

// Defaults are RocketMQ 4.9.8's unless marked as ours.
struct ProducerOptions {
  ClientOptions client;

  // Total budget of one send, shared by all of its attempts.
  absl::Duration send_timeout = absl::Seconds(3);
  // While another attempt is still possible, one attempt may use at most this
  // much of the budget (RocketMQ's sendMsgMaxTimeoutPerRequest), so a hung
  // broker cannot eat the whole budget and leave the retry on a healthy broker
  // with nothing. Off by default, as in RocketMQ: a send to a SYNC_MASTER
  // broker may wait up to 3 s for its slave and a sync flush up to 5 s, and an
  // attempt cut short there is stored all the same, so the retry would store a
  // duplicate and FLUSH_SLAVE_TIMEOUT / FLUSH_DISK_TIMEOUT would not reach the
  // caller. Set it (say 1 s) only where every broker is ASYNC_MASTER with
  // ASYNC_FLUSH and duplicates are acceptable.
  absl::Duration max_attempt_timeout = absl::InfiniteDuration();
  // Sync sends make 1 + this many attempts: after no answer (connection
  // failed, attempt timed out), or after an error answer whose response code
  // is in retry_response_codes, on another broker where there is one.
  int retry_times_when_send_failed = 2;
  // Async sends make 1 + this many attempts, only after no answer (RocketMQ's
  // rule): an error answer from a broker (SYSTEM_BUSY, say) goes to the
  // callback as it is.
  int retry_times_when_send_async_failed = 2;
  // Retry (on another broker) a sync send that was stored with a status other
  // than SEND_OK; when every attempt ends so, the last result is returned.
  bool retry_another_broker_when_not_store_ok = false;
  // Broker answers worth another attempt. Transport failures (UNAVAILABLE,
  // DEADLINE_EXCEEDED) always are. SYSTEM_BUSY is ours (RocketMQ added it in 5.3).
  std::vector<ResponseCode> retry_response_codes = {
      ResponseCode::kTopicNotExist, ResponseCode::kServiceNotAvailable, ResponseCode::kSystemError,
      ResponseCode::kNoPermission, ResponseCode::kSystemBusy};

  // Bodies of at least this many bytes are zlib-compressed (sys_flag bit 0)
  // when that makes them smaller. Batches are never compressed.
  size_t compress_body_threshold_bytes = 4 * 1024;
  // zlib level, 0..9.
  int compress_level = 5;
  // Largest body (for a batch: sum of bodies and properties) accepted.
  size_t max_message_size_bytes = kDefaultMaxMessageBodyBytes;

  // Skip brokers whose recent send latency or failure put them in a penalty
  // window (RocketMQ's latency table: >= 550 ms benches a broker for 30 s,
  // ... a failure for 600 s).
  bool send_latency_fault_enable = false;

  // Oneway sends whose answer has not come back, at most (RocketMQ's
  // clientOnewaySemaphoreValue): past it SendOneway() waits up to
  // send_timeout for one to end, then fails RESOURCE_EXHAUSTED, so a flood of
  // oneway sends cannot queue without bound in front of a slow broker.
  int max_oneway_in_flight = 65535;

  // The topic a missing topic's route is borrowed from; the broker creates the
  // topic from it on the first message (when its auto-creation is on).
  std::string create_topic_key = "TBW102";
  // Queues per broker of such a topic (capped by the default topic's queues).
  int32_t default_topic_queue_nums = 4;
};

// Thread-safe: any number of threads may send at once. Start() and Shutdown()
// must not race with each other.
class Producer {
 public:
  // `group`: 1..255 characters of [%|a-zA-Z0-9_-], unique per client instance.
  Producer(std::string group, ProducerOptions options = {});
  // Shuts down if still running.
  ~Producer();

  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Joins (or creates and starts) the client instance and registers the group.
  // FAILED_PRECONDITION if started before or shut down, or if the group is
  // already registered in the client instance; INVALID_ARGUMENT for bad options.
  absl::Status Start();
  // Waits for in-flight async and oneway sends, unregisters the group from the
  // brokers, and stops the client instance if nothing else uses it. Idempotent.
  void Shutdown();
  ServiceState state() const;

  // Sends and waits, retrying on another broker (see ProducerOptions). The
  // timeout (send_timeout by default) covers the whole send, its route lookup
  // included. Errors:
  // INVALID_ARGUMENT (bad message), NOT_FOUND (no route), DEADLINE_EXCEEDED
  // (budget spent), FAILED_PRECONDITION (not running), or the last attempt's
  // error, which carries the broker's response code (mq::ResponseCodeOf in
  // mq/error_code.h). The message's unique id is set on the sent copy and
  // returned as SendResult::msg_id.
  absl::StatusOr<SendResult> Send(const Message& message);
  absl::StatusOr<SendResult> Send(const Message& message, absl::Duration timeout);

  // Sends without waiting; `callback` gets the outcome exactly once. The route
  // of a topic not seen before is fetched on the calling thread. Retried only
  // when no answer came (see retry_times_when_send_async_failed). The timeout
  // covers the route lookup, as for Send().
  void SendAsync(const Message& message, SendCallback callback);
  void SendAsync(const Message& message, SendCallback callback, absl::Duration timeout);

  // One attempt, outcome ignored. The status only reports failures before the
  // RPC starts (bad message, no route, not running, or RESOURCE_EXHAUSTED when
  // max_oneway_in_flight sends are still out after send_timeout).
  absl::Status SendOneway(const Message& message);

  // Ordered messages: exactly one attempt on the queue `selector` picks.
  absl::StatusOr<SendResult> Send(const Message& message, const MessageQueueSelector& selector);
  // Exactly one attempt on `queue`.
  absl::StatusOr<SendResult> Send(const Message& message, const MessageQueue& queue);

  // Stores `messages` (same topic, 1 or more) together in one queue, with the
  // retries of Send. Never compressed.
  absl::StatusOr<SendResult> SendBatch(const std::vector<Message>& messages);

  // The writable queues of `topic`, as the selector sees them.
  absl::StatusOr<std::vector<MessageQueue>> FetchPublishQueues(absl::string_view topic);

  // Hooks run around every attempt, in the order added. FAILED_PRECONDITION
  // after Start().
  absl::Status AddSendHook(std::shared_ptr<SendHook> hook);

  const std::string& group() const;
  // "client_ip@instance_name"; empty before Start().
  std::string client_id() const;

 private:
  std::unique_ptr<client_internal::ProducerImpl> impl_;
};

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_PRODUCER_H_
