// The push consumer's logic behind the mq::PushConsumer facade: rebalancing,
// the pull service (one long-polling pull at a time per assigned queue, as
// callback-API RPCs issued from one thread), the consume pool and the offset
// store.
#ifndef MQ_CLIENT_SRC_PUSH_CONSUMER_IMPL_H_
#define MQ_CLIENT_SRC_PUSH_CONSUMER_IMPL_H_

#include <grpcpp/client_context.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/src/client_instance.h"
#include "client/src/consume_orderly_service.h"
#include "client/src/member_lifecycle.h"
#include "client/src/offset_store.h"
#include "client/src/process_queue.h"
#include "common/executor.h"
#include "common/scheduler.h"
#include "mq/push_consumer.h"
#include "proto/broker.grpc.pb.h"
#include "proto/common.pb.h"

namespace mq::client_internal {

// Thread-safe, as mq::PushConsumer. The instance calls TopicsInUse(),
// HeartbeatData() and OnTopicRouteChanged() holding its membership lock for
// reading only, so nothing here may register or remove a member while
// holding mu_; mu_ may be held while reading lifecycle_.
class PushConsumerImpl : public ConsumerMember {
 public:
  PushConsumerImpl(std::string group, PushConsumerOptions options);
  ~PushConsumerImpl() override;

  absl::Status Subscribe(const std::string& topic, absl::string_view expression)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Unsubscribe(const std::string& topic) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status RegisterMessageListener(MessageListener listener) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status RegisterMessageListenerOrderly(MessageListenerOrderly listener)
      ABSL_LOCKS_EXCLUDED(mu_);

  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  ServiceState state() const ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<MessageQueue> AssignedQueues() const ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& group() const { return group_; }
  std::string client_id() const ABSL_LOCKS_EXCLUDED(mu_);

  // ConsumerMember.
  std::vector<std::string> TopicsInUse() const override ABSL_LOCKS_EXCLUDED(mu_);
  broker::v1::ConsumerData HeartbeatData() const override ABSL_LOCKS_EXCLUDED(mu_);
  void OnTopicRouteChanged(const std::string& topic) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // An assigned queue: its unconsumed messages and where its next pull starts.
  struct QueueState {
    QueueState(MessageQueue q, int64_t offset) : queue(std::move(q)), next_offset(offset) {}
    const MessageQueue queue;
    ProcessQueue process_queue;
    std::atomic<int64_t> next_offset;
    // The broker id the last pull answer suggested (0 = master).
    std::atomic<int64_t> suggested_broker_id{0};
  };

  // One pull RPC in flight; owned by inflight_pulls_.
  struct PullCall {
    std::shared_ptr<QueueState> queue;
    std::shared_ptr<broker::v1::Broker::Stub> stub;
    std::string address;
    broker::v1::SubscriptionData subscription;
    grpc::ClientContext context;
    broker::v1::PullMessageRequest request;
    broker::v1::PullMessageResponse response;
  };

  std::shared_ptr<ClientInstance> Instance() const ABSL_LOCKS_EXCLUDED(mu_);
  void RequestRebalance() ABSL_LOCKS_EXCLUDED(mu_);

  // Rebalancing, on rebalance_thread_.
  void RebalanceLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void Rebalance() ABSL_LOCKS_EXCLUDED(mu_);
  void RebalanceTopic(ClientInstance& instance, const std::string& topic) ABSL_LOCKS_EXCLUDED(mu_);
  // The group's live members as a broker of the topic's route sees them.
  absl::StatusOr<std::vector<std::string>> FetchConsumerIds(
      ClientInstance& instance, const common::v1::TopicRouteData& route);
  // Makes `topic`'s assigned queues exactly `wanted`: drops the others
  // (committing their offsets) and starts pulling the new ones.
  void UpdateAssignment(const std::string& topic, const std::vector<MessageQueue>& wanted)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The committed offset, else the consume_from_where position (the first
  // offset for the retry topic).
  absl::StatusOr<int64_t> ComputeStartOffset(const MessageQueue& queue);

  // The pull service.
  void PullLater(std::shared_ptr<QueueState> state, absl::Duration delay);
  void Pull(const std::shared_ptr<QueueState>& state) ABSL_LOCKS_EXCLUDED(mu_);
  void OnPullDone(PullCall* call, const grpc::Status& grpc_status) ABSL_LOCKS_EXCLUDED(mu_);
  void HandlePullResult(PullCall& call, const absl::Status& status);

  // The consume pool.
  void StartConsuming(std::shared_ptr<QueueState> state);
  void Consume(const std::shared_ptr<QueueState>& state);
  // The listener's answer; an exception counts as kReconsumeLater.
  ConsumeStatus CallListener(const std::vector<MessageExt>& batch);
  // Failed messages, no longer with the listener: clustering hands each back
  // to its broker (the offset may then pass it) and consumes again locally,
  // after reconsume_delay, those it could not hand back; broadcasting
  // consumes them again locally up to max_reconsume_times.
  void HandleFailed(const std::shared_ptr<QueueState>& state, std::vector<MessageExt> failed,
                    int32_t delay_level);
  // RocketMQ's cleanExpireMsg: hands back messages a listener has held longer
  // than consume_timeout.
  void HandBackExpired();
  // Broker.ConsumerSendBack to the master of `queue`'s broker group.
  absl::Status SendBack(const MessageQueue& queue, const MessageExt& message, int32_t delay_level);

  // RPCs to the broker group of `queue`.
  absl::StatusOr<std::string> BrokerAddress(ClientInstance& instance, const MessageQueue& queue,
                                            int64_t preferred_broker_id);
  absl::StatusOr<int64_t> QueryCommittedOffset(const MessageQueue& queue);
  absl::Status CommitOffset(const MessageQueue& queue, int64_t offset);
  absl::StatusOr<int64_t> QueueOffset(const MessageQueue& queue, bool min);
  absl::StatusOr<int64_t> SearchOffset(const MessageQueue& queue, absl::Time time);

  void PersistOffsets();

  // Orderly consumption in clustering: queue locks on the brokers' masters.
  // The queues among `queues` this member holds now.
  std::vector<MessageQueue> LockQueues(const std::vector<MessageQueue>& queues);
  void UnlockQueues(const std::vector<MessageQueue>& queues);
  // Every queue_lock_interval: renews the locks of the assigned queues.
  void RenewQueueLocks() ABSL_LOCKS_EXCLUDED(mu_);
  bool LocksQueues() const {
    return orderly_ != nullptr && options_.message_model == MessageModel::kClustering;
  }

  const std::string group_;
  const PushConsumerOptions options_;
  // Written only before Start() (under mu_), read without the lock after it.
  MessageListener listener_;
  MessageListenerOrderly orderly_listener_;
  // Set by Start() for an orderly listener.
  std::unique_ptr<ConsumeOrderlyService> orderly_;
  std::unique_ptr<OffsetStore> offset_store_;
  absl::Time consume_timestamp_;
  std::unique_ptr<Executor> pull_executor_;
  std::unique_ptr<Executor> consume_executor_;
  Scheduler scheduler_;
  std::thread rebalance_thread_;

  MemberLifecycle lifecycle_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool rebalance_requested_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, broker::v1::SubscriptionData> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::map<MessageQueue, std::shared_ptr<QueueState>> assigned_ ABSL_GUARDED_BY(mu_);
  std::map<PullCall*, std::unique_ptr<PullCall>> inflight_pulls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_PUSH_CONSUMER_IMPL_H_
