// The producer's logic behind the mq::Producer facade.
#ifndef MQ_CLIENT_SRC_PRODUCER_IMPL_H_
#define MQ_CLIENT_SRC_PRODUCER_IMPL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/src/client_instance.h"
#include "client/src/fault_strategy.h"
#include "client/src/member_lifecycle.h"
#include "client/src/send_retry.h"
#include "client/src/thread_local_index.h"
#include "client/src/topic_publish_info.h"
#include "common/clock.h"
#include "mq/producer.h"
#include "proto/broker.pb.h"

namespace mq::client_internal {

// Thread-safe, as mq::Producer.
class ProducerImpl : public ProducerMember {
 public:
  // `fault_clock` times the latency-fault penalty windows (tests pass a fake
  // one); it must outlive this object.
  ProducerImpl(std::string group, ProducerOptions options,
               const Clock* fault_clock = Clock::Real());
  ~ProducerImpl() override;

  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Shutdown();
  ServiceState state() const;

  absl::StatusOr<SendResult> Send(const Message& message, absl::Duration timeout);
  void SendAsync(const Message& message, SendCallback callback, absl::Duration timeout);
  absl::Status SendOneway(const Message& message);
  absl::StatusOr<SendResult> SendSelect(const Message& message,
                                        const MessageQueueSelector& selector);
  absl::StatusOr<SendResult> SendToQueue(const Message& message, const MessageQueue& queue);
  absl::StatusOr<SendResult> SendBatch(const std::vector<Message>& messages);
  absl::StatusOr<std::vector<MessageQueue>> FetchPublishQueues(const std::string& topic);
  absl::Status AddSendHook(std::shared_ptr<SendHook> hook) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& group() const { return group_; }
  const ProducerOptions& options() const { return options_; }
  std::string client_id() const;
  // The client instance while running, else null.
  std::shared_ptr<ClientInstance> instance() const { return lifecycle_.instance(); }

  // ProducerMember.
  std::vector<std::string> TopicsInUse() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The one engine every send runs on (send_operation.h).
  class SendOperation;
  using SendDone = std::function<void(absl::StatusOr<SendResult>)>;

  // A topic's queues and its round-robin index; the index survives route updates.
  struct TopicEntry {
    std::shared_ptr<const TopicPublishInfo> info;
    std::shared_ptr<ThreadLocalIndex> index;
  };

  // How one send runs: its mode, budget and attempts.
  struct SendPlan {
    SendMode mode = SendMode::kSync;
    // The whole budget, route lookup included.
    absl::Duration timeout;
    int max_attempts = 1;
    // Picks the one queue of a send to a queue the application chose; when
    // empty, the producer picks a queue for each attempt.
    std::function<absl::StatusOr<MessageQueue>(const TopicPublishInfo&)> choose_queue;
  };

  absl::Status ValidateMessage(const Message& message) const;
  // A single message ready to launch: the running instance (one more call in
  // flight, ended by Launch()'s `done`) and the request.
  struct PreparedSend {
    std::shared_ptr<ClientInstance> instance;
    std::shared_ptr<broker::v1::SendStreamRequest> request;
    std::string msg_id;
  };
  // The checks every single send starts with; on failure nothing is in flight.
  absl::StatusOr<PreparedSend> PrepareSend(const Message& message);
  // Fills `request` with the message as sent: unique id set, body compressed
  // when allowed and worth it; returns the unique id.
  std::string PrepareRequest(const Message& message, bool allow_compression,
                             broker::v1::SendMessageRequest* request) const;
  // The request of a batch of valid messages of one topic, and the ids it
  // carries; MESSAGE_ILLEGAL when the batch is not one.
  absl::StatusOr<std::shared_ptr<broker::v1::SendStreamRequest>> PrepareBatch(
      const std::vector<Message>& messages, std::string* msg_ids) const;
  // Every send's path after lifecycle_.Enter() and its validation: the topic's
  // route (by `plan.timeout` from now), the queue when chosen, then the
  // operation. `hook_message` is what the hooks see (copied for async and
  // oneway sends). `done` runs exactly once, on this thread when the send
  // fails before an attempt went out; lifecycle_.Leave() follows it.
  // Returns the operation, or the error it ended with before an attempt
  // went out.
  absl::StatusOr<std::shared_ptr<SendOperation>> Launch(
      std::shared_ptr<ClientInstance> instance, const std::string& topic,
      const Message& hook_message, std::shared_ptr<broker::v1::SendStreamRequest> request,
      std::string msg_id, SendPlan plan, SendDone done);
  // Launch() and the wait for the outcome, with the retries on this thread.
  absl::StatusOr<SendResult> LaunchAndWait(std::shared_ptr<ClientInstance> instance,
                                           const std::string& topic, const Message& hook_message,
                                           std::shared_ptr<broker::v1::SendStreamRequest> request,
                                           std::string msg_id, SendPlan plan);
  // Launch() of one message.
  absl::StatusOr<SendResult> SendOne(const Message& message, SendPlan plan);
  // Local table, else the name server, else the default topic's route; the
  // name-server lookups end by `deadline` (the send's budget).
  absl::StatusOr<TopicEntry> FindTopicEntry(ClientInstance& instance, const std::string& topic,
                                            absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // The master's address of `broker_name`, refreshing `topic`'s route once
  // when unknown; UNAVAILABLE (retryable) when there is none.
  absl::StatusOr<std::string> MasterAddressFor(ClientInstance& instance, const std::string& topic,
                                               const std::string& broker_name);
  void RunBeforeHooks(const SendContext& context) const;
  void RunAfterHooks(const SendContext& context, const absl::StatusOr<SendResult>& result) const;

  const std::string group_;
  const ProducerOptions options_;
  FaultStrategy fault_;
  // Written only before Start() (under mu_), read without the lock after it.
  std::vector<std::shared_ptr<SendHook>> hooks_;

  // Sends in flight are its calls in flight: Shutdown() waits for them.
  MemberLifecycle lifecycle_;

  mutable absl::Mutex mu_;
  // Oneway sends not answered yet (bounded by max_oneway_in_flight).
  int oneway_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // Round-robin index of each topic in use; the routes are the instance's.
  absl::flat_hash_map<std::string, std::shared_ptr<ThreadLocalIndex>> topics_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_PRODUCER_IMPL_H_
