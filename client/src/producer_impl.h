// The producer's logic behind the mq::Producer facade.
#ifndef MQ_CLIENT_SRC_PRODUCER_IMPL_H_
#define MQ_CLIENT_SRC_PRODUCER_IMPL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/src/client_instance.h"
#include "common/clock.h"
#include "client/src/fault_strategy.h"
#include "client/src/send_retry.h"
#include "client/src/thread_local_index.h"
#include "client/src/topic_publish_info.h"
#include "mq/producer.h"
#include "proto/broker.pb.h"

namespace mq {
namespace client_internal {

// Thread-safe, as mq::Producer.
class ProducerImpl : public ProducerMember {
 public:
  // `fault_clock` times the latency-fault penalty windows (tests pass a fake
  // one); it must outlive this object.
  ProducerImpl(std::string group, ProducerOptions options,
               const Clock* fault_clock = Clock::Real());
  ~ProducerImpl() override;

  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  ServiceState state() const ABSL_LOCKS_EXCLUDED(mu_);

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
  std::string client_id() const ABSL_LOCKS_EXCLUDED(mu_);

  // ProducerMember.
  std::vector<std::string> TopicsInUse() const override ABSL_LOCKS_EXCLUDED(mu_);
  void UpdateTopicPublishInfo(const std::string& topic,
                              std::shared_ptr<const TopicPublishInfo> info) override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class AsyncSend;
  class OnewaySend;

  // A topic's queues and its round-robin index; the index survives route updates.
  struct TopicEntry {
    std::shared_ptr<const TopicPublishInfo> info;
    std::shared_ptr<ThreadLocalIndex> index;
  };

  // One attempt of a prepared request, given the queue, the master's address
  // and the attempt's timeout.
  using AttemptFn = absl::FunctionRef<absl::StatusOr<SendResult>(
      const MessageQueue& queue, const std::string& address, absl::Duration timeout)>;

  // The instance when running, counting one more in-flight send when
  // `inflight` (the caller must then call EndInflight()); else FAILED_PRECONDITION.
  absl::StatusOr<std::shared_ptr<ClientInstance>> CheckRunning(bool inflight)
      ABSL_LOCKS_EXCLUDED(mu_);
  void EndInflight() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ValidateMessage(const Message& message) const;
  // Fills `request` with the message as sent: unique id set, body compressed
  // when allowed and worth it; returns the unique id.
  std::string PrepareRequest(const Message& message, bool allow_compression,
                             broker::v1::SendMessageRequest* request) const;
  // Local table, else the name server, else the default topic's route; the
  // name-server lookups end by `deadline` (the send's budget).
  absl::StatusOr<TopicEntry> FindTopicEntry(ClientInstance& instance, const std::string& topic,
                                            absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // The master's address of `broker_name`, refreshing `topic`'s route once
  // when unknown; UNAVAILABLE (retryable) when there is none.
  absl::StatusOr<std::string> MasterAddressFor(ClientInstance& instance, const std::string& topic,
                                               const std::string& broker_name);
  // Attempts on queues from `entry` (or on `fixed_queue` only) under
  // `retry`'s rules.
  absl::StatusOr<SendResult> SendWithRetries(ClientInstance& instance, const std::string& topic,
                                             const TopicEntry& entry,
                                             const MessageQueue* fixed_queue, SendRetryState& retry,
                                             SendContext context, AttemptFn attempt);
  absl::StatusOr<SendResult> SendMessageRpc(ClientInstance& instance,
                                            broker::v1::SendMessageRequest* request,
                                            const MessageQueue& queue, const std::string& address,
                                            absl::Duration timeout);
  absl::StatusOr<SendResult> SendBatchRpc(ClientInstance& instance,
                                          broker::v1::SendBatchRequest* request,
                                          const MessageQueue& queue, const std::string& address,
                                          absl::Duration timeout);
  // One attempt on a queue the application chose; the send began at `begin`.
  absl::StatusOr<SendResult> SendToChosenQueue(ClientInstance& instance, const Message& message,
                                               const TopicEntry& entry, const MessageQueue& queue,
                                               absl::Time begin);
  void RunBeforeHooks(const SendContext& context) const;
  void RunAfterHooks(const SendContext& context, const absl::StatusOr<SendResult>& result) const;

  const std::string group_;
  const ProducerOptions options_;
  FaultStrategy fault_;
  // Written only before Start() (under mu_), read without the lock after it.
  std::vector<std::shared_ptr<SendHook>> hooks_;

  mutable absl::Mutex mu_;
  ServiceState state_ ABSL_GUARDED_BY(mu_) = ServiceState::kCreateJust;
  std::shared_ptr<ClientInstance> instance_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, TopicEntry> topics_ ABSL_GUARDED_BY(mu_);
  // Async and oneway sends whose RPC has not finished; Shutdown() waits for 0.
  int inflight_ ABSL_GUARDED_BY(mu_) = 0;
};

// Maps a broker's answer to a SendResult; `queue` fills what the answer leaves out.
SendResult ToSendResult(broker::v1::SendStatus status, const std::string& msg_id,
                        const std::string& offset_msg_id, const std::string& broker_name,
                        int32_t queue_id, int64_t queue_offset, const MessageQueue& queue);

}  // namespace client_internal
}  // namespace mq

#endif  // MQ_CLIENT_SRC_PRODUCER_IMPL_H_
