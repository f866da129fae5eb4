// The push consumer: the client pulls the subscribed topics itself (long
// polling) and hands the messages to a listener on a thread pool. The group's
// live members split the queues among themselves and rebalance when members
// or queues change; consume offsets are committed for the group.
//
//   mq::PushConsumerOptions options;
//   options.client.name_server_addresses = {"127.0.0.1:9876"};
//   mq::PushConsumer consumer("OrderReaders", options);
//   consumer.Subscribe("Orders", "TagA || TagB");
//   consumer.RegisterMessageListener([](const std::vector<mq::MessageExt>& messages) {
//     ... process ...;
//     return mq::ConsumeStatus::kConsumeSuccess;
//   });
//   if (absl::Status s = consumer.Start(); !s.ok()) { ... }
//   ...
//   consumer.Shutdown();
//
// Delivery is at least once: after a crash, a rebalance or a failed commit,
// messages consumed since the last committed offset are delivered again, so
// listeners should be idempotent (the unique id, MessageExt::msg_id, helps).
//
// Retries (clustering, as RocketMQ): the consumer also subscribes to its
// group's retry topic %RETRY%<group>. A message the listener fails (returns
// kReconsumeLater, throws, or holds longer than consume_timeout) is handed
// back to its broker (Broker.ConsumerSendBack), which stores a copy on the
// retry topic, delivered again after a delay growing with each attempt (10 s,
// 30 s, 1 m, 2 m, ... 2 h); after max_reconsume_times attempts the copy goes
// to the dead-letter queue %DLQ%<group> instead (see mqadmin's dlq commands).
// Retried messages reach the listener with their original topic and an
// incremented MessageExt::reconsume_times. The offset moves past a message
// only once it is handed back; if the broker cannot take it, the message is
// consumed again here after reconsume_delay, never lost.
#ifndef MQ_CLIENT_INCLUDE_MQ_PUSH_CONSUMER_H_
#define MQ_CLIENT_INCLUDE_MQ_PUSH_CONSUMER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mq/client_options.h"
#include "mq/message_ext.h"
#include "mq/message_queue.h"

namespace mq {

namespace client_internal {
class PushConsumerImpl;
}  // namespace client_internal

enum class ConsumeStatus {
  // CONSUME_SUCCESS: the messages are done; their offsets may be committed.
  kConsumeSuccess,
  // RECONSUME_LATER: consume the messages again later (see the retries above).
  kReconsumeLater,
};

enum class MessageModel {
  // Each message goes to one member of the group; offsets live on the brokers.
  kClustering,
  // Each message goes to every member; each keeps its offsets in a local file.
  kBroadcasting,
};

// Where a queue the group never committed an offset for starts.
enum class ConsumeFromWhere {
  kLastOffset,   // CONSUME_FROM_LAST_OFFSET: only messages stored from now on
  kFirstOffset,  // CONSUME_FROM_FIRST_OFFSET: every message still stored
  kTimestamp,    // CONSUME_FROM_TIMESTAMP: messages stored since consume_timestamp
};

// Called with 1..consume_message_batch_max_size messages of one queue, in
// queue order, on a consume thread. Messages of one queue are handed over one
// batch at a time; different queues are consumed in parallel, so the listener
// must be thread-safe. It must not call PushConsumer::Shutdown().
using MessageListener = std::function<ConsumeStatus(const std::vector<MessageExt>& messages)>;

// Orderly consumption (RocketMQ's MessageListenerOrderly).
enum class ConsumeOrderlyStatus {
  // SUCCESS: the messages are done; the queue moves on.
  kSuccess,
  // SUSPEND_CURRENT_QUEUE_A_MOMENT: the queue stops for the context's
  // suspend_time, then the same messages are delivered again, in place (no
  // later message of the queue is delivered before them).
  kSuspendCurrentQueueAMoment,
};

struct ConsumeOrderlyContext {
  // The queue the messages come from.
  MessageQueue queue;
  // How long a kSuspendCurrentQueueAMoment pauses the queue; starts as
  // PushConsumerOptions::suspend_current_queue_time, the listener may change it.
  absl::Duration suspend_time;
};

// Called with 1..consume_message_batch_max_size messages of one queue in
// queue order. Each queue is consumed by one member of the group at a time
// (it holds the queue's lock on the broker) and by one listener call at a
// time; different queues are consumed in parallel, so the listener must be
// thread-safe. It must not call PushConsumer::Shutdown().
using MessageListenerOrderly = std::function<ConsumeOrderlyStatus(
    const std::vector<MessageExt>& messages, ConsumeOrderlyContext& context)>;

// Defaults are RocketMQ 4.9.8's DefaultMQPushConsumer's unless marked as ours.
struct PushConsumerOptions {
  ClientOptions client;

  MessageModel message_model = MessageModel::kClustering;
  // For the subscribed topics; the group's retry topic always starts at its
  // first offset.
  ConsumeFromWhere consume_from_where = ConsumeFromWhere::kLastOffset;
  // For kTimestamp. InfinitePast(): half an hour before Start(), as RocketMQ.
  absl::Time consume_timestamp = absl::InfinitePast();

  // Threads calling the listener. Ours: RocketMQ starts 20, sized for
  // listeners that block on I/O; 4 suits a 2-core host and listeners that
  // mostly compute. Raise it for blocking listeners (a queue still gets one
  // listener call at a time, so more threads than queues do not help).
  int consume_thread_count = 4;
  // Most messages per listener call.
  int consume_message_batch_max_size = 1;
  // Most messages per pull (1..1024; the store also caps an answer at 4 MiB).
  // Ours: RocketMQ pulls 32. Only a queue with more than that waiting gets
  // more in one answer, and a consumer that fell behind catches up about
  // 1.6 times as fast at 128 (benchmarks/HISTORY.md, catch-up rows); flow control
  // below still bounds what a queue holds.
  int pull_batch_size = 128;
  // Pause between the pulls of one queue; zero pulls again at once.
  absl::Duration pull_interval = absl::ZeroDuration();

  // Flow control: a queue is not pulled while it holds more unconsumed
  // messages, more body bytes, or a wider offset span than these; it is
  // checked again after 50 ms.
  int pull_threshold_for_queue = 1000;
  int64_t pull_threshold_size_for_queue_bytes = 100 * 1024 * 1024;
  int64_t consume_concurrently_max_span = 2000;

  // How often the queues are re-split among the group's live members.
  // Ours: RocketMQ's Java client rebalances every 20 s and is also told of
  // membership changes by the broker; brokers here cannot call clients, so a
  // member notices a join or leave only at its next rebalance. 10 s is
  // rocketmq-client-cpp's interval. A rebalance also runs at start, on
  // Subscribe()/Unsubscribe() and when a subscribed topic's route changes.
  absl::Duration rebalance_interval = absl::Seconds(10);
  // How often consumed offsets are committed (also on shutdown and when a
  // queue goes to another member; pulls carry the offset too).
  absl::Duration persist_consumer_offset_interval = absl::Seconds(5);

  // Long polling: how long the broker holds a pull that finds nothing, and
  // the client's deadline for such a pull (must be longer).
  absl::Duration broker_suspend_max = absl::Seconds(15);
  absl::Duration consumer_timeout_when_suspend = absl::Seconds(30);
  // Wait before pulling a queue again after a failed pull.
  absl::Duration pull_delay_on_error = absl::Seconds(3);

  // Attempts before a failed message goes to the dead-letter queue, sent to
  // the broker with each send-back (RocketMQ's maxReconsumeTimes); -1 uses
  // the subscription group's retry max times (16 unless an admin changed it).
  // kBroadcasting has no retry topic (ours; RocketMQ drops a failed broadcast
  // message with a log line): a failed message is consumed again locally
  // after reconsume_delay, at most max_reconsume_times times (-1: 16), then
  // logged as an error and given up.
  int max_reconsume_times = -1;
  // kClustering: when the broker cannot take a failed message back, it is
  // consumed again here after this delay (RocketMQ's
  // consumeMessageDirectlyLater, 5 s), ahead of the queue's newer messages,
  // and the committed offset cannot pass it meanwhile. kBroadcasting: the
  // delay of a local redelivery.
  absl::Duration reconsume_delay = absl::Seconds(5);
  // A listener call holding a message longer than this (RocketMQ's
  // consumeTimeout, 15 min): the message is handed back for a retry as if it
  // had failed (kClustering), and the listener's later answer for it is
  // ignored. Checked every quarter of it.
  absl::Duration consume_timeout = absl::Minutes(15);

  // Orderly consumption (RegisterMessageListenerOrderly). A suspended batch
  // is delivered again after the context's suspend time (RocketMQ's
  // suspendCurrentQueueTimeMillis: 1 s), MessageExt::reconsume_times counting
  // the redeliveries. A message suspended once more after
  // orderly_max_reconsume_times redeliveries goes to the group's dead-letter
  // queue %DLQ%<group> (the broker's ConsumerSendBack); if that fails the
  // queue stays suspended and tries again, so no message is skipped unsent.
  // -1 (RocketMQ's default for orderly, Integer.MAX_VALUE): never.
  absl::Duration suspend_current_queue_time = absl::Seconds(1);
  int orderly_max_reconsume_times = -1;
  // How often the member renews the broker locks of its queues (RocketMQ's
  // rebalance.lockInterval: 20 s; brokers free a lock not renewed in 60 s),
  // and how long after its last successful lock it keeps consuming a queue
  // whose lock it could not renew (RocketMQ's client-side lock max live time:
  // 30 s).
  absl::Duration queue_lock_interval = absl::Seconds(20);
  absl::Duration queue_lock_max_live_time = absl::Seconds(30);
  // (consume_timeout does not apply to orderly listeners: a queue waits for
  // its listener call, however long it takes.)

  // kBroadcasting: the offset file. Empty:
  // $HOME/.mq_offsets/<client_ip>@<instance_name or DEFAULT>/<group>/offsets,
  // which stays the same across restarts (/tmp when HOME is unset).
  std::string offset_store_path;

  // Largest uncompressed body accepted from a broker.
  size_t max_body_size_bytes = kDefaultMaxMessageBodyBytes;
};

// Thread-safe. Start() and Shutdown() must not race with each other.
class PushConsumer {
 public:
  // `group`: 1..255 characters of [%|a-zA-Z0-9_-], unique per client instance.
  PushConsumer(std::string group, PushConsumerOptions options = {});
  // Shuts down if still running.
  ~PushConsumer();

  PushConsumer(const PushConsumer&) = delete;
  PushConsumer& operator=(const PushConsumer&) = delete;

  // Consumes `topic`'s messages whose tag matches `sub_expression` ("*" or ""
  // for all, or "TagA || TagB"); replaces an earlier expression for the topic.
  // Before or after Start(). INVALID_ARGUMENT for a bad topic name.
  absl::Status Subscribe(absl::string_view topic, absl::string_view sub_expression);
  // Stops consuming `topic` (its queues are released at the next rebalance,
  // which this triggers).
  absl::Status Unsubscribe(absl::string_view topic);
  // One listener is required before Start(); FAILED_PRECONDITION afterwards.
  // Registering one kind replaces the other.
  absl::Status RegisterMessageListener(MessageListener listener);
  // Orderly consumption: before consuming a queue, the member locks it on its
  // broker (so two members never consume one queue at once, even while the
  // group rebalances), and it consumes each queue strictly in queue order,
  // one listener call at a time, retrying a suspended batch in place.
  // Clustering only (Start() refuses it with kBroadcasting).
  absl::Status RegisterMessageListenerOrderly(MessageListenerOrderly listener);

  // Joins (or creates and starts) the client instance, announces the group to
  // the brokers and starts pulling its share of the queues. Same states and
  // errors as Producer::Start(); INVALID_ARGUMENT without a listener or with
  // bad options; the offset file's error (broadcasting) if it is unreadable.
  absl::Status Start();
  // Stops pulling, waits for running listener calls, commits the offsets of
  // what was consumed, and leaves the group (the others take over its queues
  // at their next rebalance). Messages pulled but not yet handed over are
  // delivered again later. Idempotent.
  void Shutdown();
  ServiceState state() const;

  // The queues this member consumes now (sorted).
  std::vector<MessageQueue> AssignedQueues() const;

  const std::string& group() const;
  // "client_ip@instance_name"; empty before Start().
  std::string client_id() const;

 private:
  std::unique_ptr<client_internal::PushConsumerImpl> impl_;
};

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_PUSH_CONSUMER_H_
