#include "client/src/push_consumer_impl.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <set>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/src/allocate_strategy.h"
#include "client/src/broker_offsets.h"
#include "client/src/client_registry.h"
#include "client/src/pulled_message.h"
#include "client/src/subscription.h"
#include "common/format/property_keys.h"
#include "common/retry_topics.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace mq::client_internal {
namespace {

// RocketMQ's PULL_TIME_DELAY_MILLS_WHEN_FLOW_CONTROL.
constexpr absl::Duration kFlowControlDelay = absl::Milliseconds(50);
constexpr int32_t kMaxBatchSize = 1024;
// RocketMQ's default consumeTimestamp: half an hour before start.
constexpr absl::Duration kDefaultConsumeTimestampAge = absl::Minutes(30);
// The broker's bound on a group's retry max times.
constexpr int kMaxReconsumeTimes = 64;
// RocketMQ's cleanExpireMsg hands an expired message back with delay level 3.
constexpr int32_t kExpiredDelayLevel = 3;
// The broker picks the delay level from the attempt count.
constexpr int32_t kBrokerChosenDelayLevel = 0;
// Straight to the dead-letter queue (orderly consumption).
constexpr int32_t kDeadLetterDelayLevel = -1;

absl::Status ValidateOptions(const PushConsumerOptions& options) {
  if (options.consume_thread_count < 1) {
    return absl::InvalidArgumentError("consume_thread_count must be at least 1");
  }
  if (options.consume_message_batch_max_size < 1 ||
      options.consume_message_batch_max_size > kMaxBatchSize || options.pull_batch_size < 1 ||
      options.pull_batch_size > kMaxBatchSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consume_message_batch_max_size and pull_batch_size must be 1..", kMaxBatchSize));
  }
  if (options.pull_threshold_for_queue < 1 || options.pull_threshold_size_for_queue_bytes < 1 ||
      options.consume_concurrently_max_span < 1) {
    return absl::InvalidArgumentError("flow-control thresholds must be positive");
  }
  if (options.rebalance_interval <= absl::ZeroDuration() ||
      options.persist_consumer_offset_interval <= absl::ZeroDuration() ||
      options.broker_suspend_max <= absl::ZeroDuration() ||
      options.pull_interval < absl::ZeroDuration() ||
      options.pull_delay_on_error < absl::ZeroDuration() ||
      options.reconsume_delay < absl::ZeroDuration() ||
      options.consume_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "intervals must be positive (pull_interval, pull_delay_on_error and reconsume_delay "
        "may be zero)");
  }
  if (options.consumer_timeout_when_suspend <= options.broker_suspend_max) {
    return absl::InvalidArgumentError(
        "consumer_timeout_when_suspend must be longer than broker_suspend_max");
  }
  if (options.max_reconsume_times < -1 || options.max_reconsume_times > kMaxReconsumeTimes) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_reconsume_times must be -1..", kMaxReconsumeTimes));
  }
  // Orderly consumption.
  if (options.orderly_max_reconsume_times < -1) {
    return absl::InvalidArgumentError("orderly_max_reconsume_times must be -1 or more");
  }
  if (options.suspend_current_queue_time < absl::ZeroDuration() ||
      options.queue_lock_interval <= absl::ZeroDuration() ||
      options.queue_lock_max_live_time <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "queue_lock_interval and queue_lock_max_live_time must be positive, "
        "suspend_current_queue_time not negative");
  }
  return absl::OkStatus();
}

broker::v1::MessageModel ToProto(MessageModel model) {
  return model == MessageModel::kBroadcasting ? broker::v1::BROADCASTING : broker::v1::CLUSTERING;
}

broker::v1::ConsumeFromWhere ToProto(ConsumeFromWhere where) {
  switch (where) {
    case ConsumeFromWhere::kFirstOffset:
      return broker::v1::CONSUME_FROM_FIRST_OFFSET;
    case ConsumeFromWhere::kTimestamp:
      return broker::v1::CONSUME_FROM_TIMESTAMP;
    case ConsumeFromWhere::kLastOffset:
      break;
  }
  return broker::v1::CONSUME_FROM_LAST_OFFSET;
}

common::v1::MessageQueue ToProto(const MessageQueue& queue) {
  common::v1::MessageQueue proto;
  proto.set_topic(queue.topic);
  proto.set_broker_name(queue.broker_name);
  proto.set_queue_id(queue.queue_id);
  return proto;
}

// The default broadcasting offset file; it must not depend on the pid, so the
// unresolved instance name is used.
std::string DefaultOffsetStorePath(const ClientOptions& client, const std::string& group) {
  const char* home = std::getenv("HOME");
  const std::string root = home != nullptr && home[0] != '\0' ? home : "/tmp";
  absl::StatusOr<ClientOptions> resolved = ResolveClientOptions(client);
  const std::string ip = resolved.ok() ? resolved->client_ip : "127.0.0.1";
  const std::string instance = client.instance_name.empty() ? "DEFAULT" : client.instance_name;
  return absl::StrCat(root, "/.mq_offsets/", ip, "@", instance, "/", group, "/offsets");
}

std::string QueueLabel(const MessageQueue& queue, const std::string& address) {
  return absl::StrCat(queue.ToString(), " (", address, "): ");
}

}  // namespace

PushConsumerImpl::PushConsumerImpl(std::string group, PushConsumerOptions options)
    : group_(std::move(group)),
      options_(std::move(options)),
      lifecycle_(absl::StrCat("consumer group ", group_)) {}

PushConsumerImpl::~PushConsumerImpl() { Shutdown(); }

absl::Status PushConsumerImpl::Subscribe(const std::string& topic, absl::string_view expression) {
  if (absl::Status s = ValidateTopic(topic); !s.ok()) return s;
  if (lifecycle_.state() == ServiceState::kShutdownAlready) {
    return absl::FailedPreconditionError(absl::StrCat("consumer group ", group_, " is shut down"));
  }
  {
    absl::MutexLock lock(&mu_);
    subscriptions_[topic] = ParseSubscription(topic, expression);
  }
  std::shared_ptr<ClientInstance> instance = lifecycle_.instance();
  if (instance != nullptr) {
    absl::Status route = instance->UpdateTopicRouteFromNameServer(topic);
    if (!route.ok()) LOG(WARNING) << "route of subscribed topic " << topic << ": " << route;
    instance->SendHeartbeatToAllBrokers();
    RequestRebalance();
  }
  return absl::OkStatus();
}

absl::Status PushConsumerImpl::Unsubscribe(const std::string& topic) {
  {
    absl::MutexLock lock(&mu_);
    if (subscriptions_.erase(topic) == 0) {
      return absl::NotFoundError(absl::StrCat("topic ", topic, " is not subscribed"));
    }
  }
  std::shared_ptr<ClientInstance> instance = lifecycle_.instance();
  if (instance != nullptr) {
    instance->SendHeartbeatToAllBrokers();
    RequestRebalance();
  }
  return absl::OkStatus();
}

absl::Status PushConsumerImpl::RegisterMessageListener(MessageListener listener) {
  absl::MutexLock lock(&mu_);
  if (lifecycle_.state() != ServiceState::kCreateJust) {
    return absl::FailedPreconditionError("the message listener must be registered before Start()");
  }
  listener_ = std::move(listener);
  orderly_listener_ = nullptr;
  return absl::OkStatus();
}

absl::Status PushConsumerImpl::RegisterMessageListenerOrderly(MessageListenerOrderly listener) {
  absl::MutexLock lock(&mu_);
  if (lifecycle_.state() != ServiceState::kCreateJust) {
    return absl::FailedPreconditionError("the message listener must be registered before Start()");
  }
  orderly_listener_ = std::move(listener);
  listener_ = nullptr;
  return absl::OkStatus();
}

absl::Status PushConsumerImpl::Start() {
  if (absl::Status s = lifecycle_.BeginStart(); !s.ok()) return s;
  std::vector<std::string> topics;
  {
    absl::MutexLock lock(&mu_);
    if (listener_ == nullptr && orderly_listener_ == nullptr) {
      return lifecycle_.StartFailed(absl::InvalidArgumentError(
          absl::StrCat("consumer group ", group_, ": register a message listener before Start()")));
    }
    // RocketMQ's copySubscription: a clustering group also consumes its
    // retry topic, where the messages it handed back come again.
    if (options_.message_model == MessageModel::kClustering) {
      const std::string retry_topic = RetryTopic(group_);
      subscriptions_.emplace(retry_topic, ParseSubscription(retry_topic, "*"));
    }
    for (const auto& [topic, subscription] : subscriptions_) topics.push_back(topic);
  }
  if (absl::Status s = ValidateGroup(group_); !s.ok()) return lifecycle_.StartFailed(s);
  if (absl::Status s = ValidateOptions(options_); !s.ok()) return lifecycle_.StartFailed(s);
  consume_timestamp_ = options_.consume_timestamp == absl::InfinitePast()
                           ? absl::Now() - kDefaultConsumeTimestampAge
                           : options_.consume_timestamp;
  if (options_.message_model == MessageModel::kBroadcasting) {
    const std::string path = options_.offset_store_path.empty()
                                 ? DefaultOffsetStorePath(options_.client, group_)
                                 : options_.offset_store_path;
    offset_store_ = std::make_unique<LocalOffsetStore>(path);
  } else {
    offset_store_ = std::make_unique<RemoteOffsetStore>(
        [this](const MessageQueue& queue) { return QueryCommittedOffset(queue); },
        [this](const MessageQueue& queue, int64_t offset) { return CommitOffset(queue, offset); });
  }
  if (absl::Status s = offset_store_->Load(); !s.ok()) return lifecycle_.StartFailed(s);

  absl::StatusOr<std::shared_ptr<ClientInstance>> instance =
      ClientRegistry::Default().RegisterConsumer(options_.client, group_, this);
  if (!instance.ok()) return lifecycle_.StartFailed(instance.status());
  // The brokers of the subscribed topics must be known for the heartbeat to
  // reach them, and the heartbeat must arrive before the first rebalance asks
  // who is in the group.
  for (const std::string& topic : topics) {
    absl::Status route = (*instance)->UpdateTopicRouteFromNameServer(topic);
    if (!route.ok() && !IsRetryTopic(topic)) {
      LOG(WARNING) << "route of subscribed topic " << topic << ": " << route;
    }
  }
  (*instance)->SendHeartbeatToAllBrokers();

  pull_executor_ = std::make_unique<Executor>(ExecutorOptions{"pull", 1});
  consume_executor_ =
      std::make_unique<Executor>(ExecutorOptions{"consume", options_.consume_thread_count});
  if (orderly_listener_ != nullptr) {
    ConsumeOrderlyOptions orderly_options;
    orderly_options.batch_max_size = options_.consume_message_batch_max_size;
    orderly_options.suspend_time = options_.suspend_current_queue_time;
    orderly_options.max_reconsume_times = options_.orderly_max_reconsume_times;
    orderly_options.needs_lock = options_.message_model == MessageModel::kClustering;
    orderly_options.lock_max_live_time = options_.queue_lock_max_live_time;
    orderly_ = std::make_unique<ConsumeOrderlyService>(
        orderly_options, orderly_listener_, consume_executor_.get(),
        [this](const MessageExt& message) {
          return SendBack(
              MessageQueue{message.message.topic(), message.broker_name, message.queue_id}, message,
              kDeadLetterDelayLevel);
        },
        [this](const MessageQueue& queue, int64_t offset) {
          offset_store_->Update(queue, offset, /*increase_only=*/true);
        });
  }
  pull_executor_->Start();
  consume_executor_->Start();
  lifecycle_.Started(*instance);
  {
    absl::MutexLock lock(&mu_);
    rebalance_requested_ = true;
  }
  scheduler_.Schedule("persist consumer offsets", options_.persist_consumer_offset_interval,
                      options_.persist_consumer_offset_interval, [this] { PersistOffsets(); });
  if (options_.message_model == MessageModel::kClustering && orderly_ == nullptr) {
    scheduler_.Schedule("hand back expired messages", options_.consume_timeout / 4,
                        options_.consume_timeout / 4, [this] { HandBackExpired(); });
  }
  if (LocksQueues()) {
    scheduler_.Schedule("renew queue locks", options_.queue_lock_interval,
                        options_.queue_lock_interval, [this] { RenewQueueLocks(); });
  }
  scheduler_.Start();
  rebalance_thread_ = std::thread([this] { RebalanceLoop(); });
  VLOG(1) << "push consumer group " << group_ << " started in client instance "
          << (*instance)->client_id() << " ("
          << (options_.message_model == MessageModel::kBroadcasting ? "broadcasting" : "clustering")
          << ")";
  return absl::OkStatus();
}

void PushConsumerImpl::Shutdown() {
  std::shared_ptr<ClientInstance> instance = lifecycle_.Shutdown();
  if (instance == nullptr) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  rebalance_thread_.join();
  scheduler_.Stop();
  // No pull starts after this; those in flight are cancelled and awaited.
  pull_executor_->Stop();
  {
    absl::MutexLock lock(&mu_);
    for (auto& [raw, call] : inflight_pulls_) call->context.TryCancel();
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return inflight_pulls_.empty(); };
    mu_.Await(absl::Condition(&idle));
  }
  // Running listener calls finish and record their offsets; queued batches
  // are dropped and delivered again later.
  consume_executor_->Stop();
  std::map<MessageQueue, std::shared_ptr<QueueState>> assigned;
  {
    absl::MutexLock lock(&mu_);
    assigned.swap(assigned_);
  }
  std::vector<MessageQueue> queues;
  for (auto& [queue, state] : assigned) {
    state->process_queue.Drop();
    queues.push_back(queue);
  }
  offset_store_->Persist(queues);
  if (LocksQueues()) UnlockQueues(queues);
  ClientRegistry::Default().UnregisterConsumer(instance, group_);
  lifecycle_.ShutdownDone();
  VLOG(1) << "push consumer group " << group_ << " shut down";
}

ServiceState PushConsumerImpl::state() const { return lifecycle_.state(); }

std::vector<MessageQueue> PushConsumerImpl::AssignedQueues() const {
  absl::MutexLock lock(&mu_);
  std::vector<MessageQueue> queues;
  for (const auto& [queue, state] : assigned_) queues.push_back(queue);
  return queues;
}

std::string PushConsumerImpl::client_id() const { return lifecycle_.client_id(); }

std::vector<std::string> PushConsumerImpl::TopicsInUse() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> topics;
  for (const auto& [topic, subscription] : subscriptions_) topics.push_back(topic);
  return topics;
}

broker::v1::ConsumerData PushConsumerImpl::HeartbeatData() const {
  broker::v1::ConsumerData data;
  data.set_group_name(group_);
  data.set_consume_type(broker::v1::CONSUME_PASSIVELY);
  data.set_message_model(ToProto(options_.message_model));
  data.set_consume_from_where(ToProto(options_.consume_from_where));
  absl::MutexLock lock(&mu_);
  for (const auto& [topic, subscription] : subscriptions_) {
    *data.add_subscriptions() = subscription;
  }
  return data;
}

void PushConsumerImpl::OnTopicRouteChanged(const std::string& topic) {
  absl::MutexLock lock(&mu_);
  if (subscriptions_.count(topic) != 0) rebalance_requested_ = true;
}

std::shared_ptr<ClientInstance> PushConsumerImpl::Instance() const { return lifecycle_.instance(); }

void PushConsumerImpl::RequestRebalance() {
  absl::MutexLock lock(&mu_);
  rebalance_requested_ = true;
}

void PushConsumerImpl::RebalanceLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || rebalance_requested_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&woken), options_.rebalance_interval);
      if (stopping_) return;
      rebalance_requested_ = false;
    }
    Rebalance();
  }
}

void PushConsumerImpl::Rebalance() {
  std::shared_ptr<ClientInstance> instance = Instance();
  if (instance == nullptr) return;
  std::set<std::string> topics;
  for (const std::string& topic : TopicsInUse()) {
    topics.insert(topic);
    RebalanceTopic(*instance, topic);
  }
  // Queues of topics no longer subscribed.
  std::set<std::string> stale;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [queue, state] : assigned_) {
      if (topics.count(queue.topic) == 0) stale.insert(queue.topic);
    }
  }
  for (const std::string& topic : stale) UpdateAssignment(topic, {});
}

void PushConsumerImpl::RebalanceTopic(ClientInstance& instance, const std::string& topic) {
  absl::optional<common::v1::TopicRouteData> route = instance.routes().Route(topic);
  if (!route.has_value()) {
    absl::Status status = instance.UpdateTopicRouteFromNameServer(topic);
    if (!status.ok()) {
      // The group's retry topic has no route until a broker created it (on
      // the group's first heartbeat).
      if (IsRetryTopic(topic)) {
        VLOG(1) << "rebalance of retry topic " << topic << ": no route yet: " << status;
      } else {
        LOG(WARNING) << "rebalance of topic " << topic << " for group " << group_
                     << ": no route: " << status;
      }
      return;
    }
    route = instance.routes().Route(topic);
    if (!route.has_value()) return;
  }
  std::vector<MessageQueue> all = SubscribeQueuesFromRoute(topic, *route);
  if (options_.message_model == MessageModel::kBroadcasting) {
    UpdateAssignment(topic, all);
    return;
  }
  absl::StatusOr<std::vector<std::string>> ids = FetchConsumerIds(instance, *route);
  if (ids.ok() && std::find(ids->begin(), ids->end(), instance.client_id()) == ids->end()) {
    // The broker has not heard of this member (it just started, or the broker
    // restarted): announce it and ask again.
    instance.SendHeartbeatToAllBrokers();
    ids = FetchConsumerIds(instance, *route);
  }
  if (!ids.ok()) {
    LOG(WARNING) << "rebalance of topic " << topic << " for group " << group_
                 << ": no member list: " << ids.status();
    return;
  }
  std::vector<MessageQueue> mine = AllocateAveragely(all, *ids, instance.client_id());
  if (mine.empty() && std::find(ids->begin(), ids->end(), instance.client_id()) == ids->end()) {
    LOG(WARNING) << "group " << group_ << ": the brokers do not list " << instance.client_id()
                 << " as a member yet; consuming nothing of " << topic << " until they do";
  }
  UpdateAssignment(topic, mine);
}

absl::StatusOr<std::vector<std::string>> PushConsumerImpl::FetchConsumerIds(
    ClientInstance& instance, const common::v1::TopicRouteData& route) {
  std::vector<std::string> addresses;
  for (const common::v1::BrokerData& bd : route.broker_datas()) {
    if (bd.broker_addrs().empty()) continue;
    auto master = bd.broker_addrs().find(0);
    if (master != bd.broker_addrs().end()) {
      addresses.push_back(master->second);
    } else {
      // The lowest id left.
      std::map<int64_t, std::string> sorted(bd.broker_addrs().begin(), bd.broker_addrs().end());
      addresses.push_back(sorted.begin()->second);
    }
  }
  if (addresses.empty()) return absl::UnavailableError("the route names no broker");
  // Spread the queries over the brokers, as RocketMQ picks one at random.
  absl::BitGen gen;
  const size_t start = absl::Uniform<size_t>(gen, 0, addresses.size());
  absl::Status last;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const std::string& address = addresses[(start + i) % addresses.size()];
    broker::v1::GetConsumerListRequest request;
    request.set_consumer_group(group_);
    absl::StatusOr<broker::v1::GetConsumerListResponse> response = CallUnary(
        *instance.connections().BrokerStub(address), &broker::v1::Broker::Stub::GetConsumerList,
        request, options_.client.api_timeout, BrokerLabel(address));
    if (response.ok()) {
      return std::vector<std::string>(response->client_ids().begin(), response->client_ids().end());
    }
    last = response.status();
  }
  return last;
}

void PushConsumerImpl::UpdateAssignment(const std::string& topic,
                                        const std::vector<MessageQueue>& wanted) {
  const std::set<MessageQueue> wanted_set(wanted.begin(), wanted.end());
  std::vector<std::shared_ptr<QueueState>> dropped;
  std::vector<MessageQueue> added;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = assigned_.begin(); it != assigned_.end();) {
      if (it->first.topic == topic && wanted_set.count(it->first) == 0) {
        // Dropped with the removal, so nothing more of the queue is consumed
        // here once it no longer shows as assigned.
        it->second->process_queue.Drop();
        dropped.push_back(it->second);
        it = assigned_.erase(it);
      } else {
        ++it;
      }
    }
    for (const MessageQueue& queue : wanted) {
      if (assigned_.count(queue) == 0) added.push_back(queue);
    }
  }
  std::vector<MessageQueue> unlock;
  for (const std::shared_ptr<QueueState>& state : dropped) {
    if (orderly_ != nullptr) {
      // The listener call in flight ends and records its offset first.
      absl::MutexLock consuming(state->process_queue.consume_mutex());
    }
    offset_store_->PersistAndRemove(state->queue);
    unlock.push_back(state->queue);
  }
  if (LocksQueues()) {
    // Another member may consume them once unlocked, from the offsets just
    // committed.
    if (!unlock.empty()) UnlockQueues(unlock);
    // A queue still locked by its previous owner is taken at a later
    // rebalance.
    added = LockQueues(added);
  }
  const absl::Time locked_at = absl::Now();
  int started = 0;
  for (const MessageQueue& queue : added) {
    absl::StatusOr<int64_t> offset = ComputeStartOffset(queue);
    if (!offset.ok()) {
      // Retried at the next rebalance, as RocketMQ does.
      LOG(WARNING) << "group " << group_ << ": not consuming " << queue.ToString()
                   << " yet: no start offset: " << offset.status();
      continue;
    }
    offset_store_->Update(queue, *offset, /*increase_only=*/false);
    auto state = std::make_shared<QueueState>(queue, *offset);
    if (LocksQueues()) state->process_queue.MarkLocked(locked_at);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      assigned_[queue] = state;
    }
    ++started;
    PullLater(state, absl::ZeroDuration());
  }
  if (!dropped.empty() || !added.empty()) {
    VLOG(1) << "rebalance of topic " << topic << " for group " << group_ << ": now "
            << wanted.size() << " queue(s); released " << dropped.size() << ", took " << started;
  }
}

absl::StatusOr<int64_t> PushConsumerImpl::ComputeStartOffset(const MessageQueue& queue) {
  absl::StatusOr<int64_t> stored = offset_store_->ReadFromStore(queue);
  if (stored.ok() && *stored >= 0) return *stored;
  if (!stored.ok() && stored.status().code() != absl::StatusCode::kNotFound) {
    return stored.status();
  }
  // Everything on the group's retry topic was handed back by the group, so
  // none of it is skipped (RocketMQ's computePullFromWhere starts a retry
  // queue at 0 for CONSUME_FROM_LAST_OFFSET).
  if (IsRetryTopic(queue.topic)) return QueueOffset(queue, /*min=*/true);
  switch (options_.consume_from_where) {
    case ConsumeFromWhere::kFirstOffset:
      return QueueOffset(queue, /*min=*/true);
    case ConsumeFromWhere::kTimestamp:
      return SearchOffset(queue, consume_timestamp_);
    case ConsumeFromWhere::kLastOffset:
      break;
  }
  return QueueOffset(queue, /*min=*/false);
}

void PushConsumerImpl::PullLater(std::shared_ptr<QueueState> state, absl::Duration delay) {
  pull_executor_->SubmitAfter(delay, [this, state = std::move(state)] { Pull(state); })
      .IgnoreError();
}

void PushConsumerImpl::Pull(const std::shared_ptr<QueueState>& state) {
  if (state->process_queue.dropped()) return;
  const ProcessQueue& pq = state->process_queue;
  if (static_cast<int64_t>(pq.message_count()) > options_.pull_threshold_for_queue ||
      pq.body_bytes() > options_.pull_threshold_size_for_queue_bytes ||
      (orderly_ == nullptr && pq.offset_span() > options_.consume_concurrently_max_span)) {
    LOG_EVERY_N(INFO, 1000) << "flow control of " << state->queue.ToString() << ": "
                            << pq.message_count() << " messages, " << pq.body_bytes()
                            << " bytes, offset span " << pq.offset_span() << " unconsumed";
    PullLater(state, kFlowControlDelay);
    return;
  }
  std::shared_ptr<ClientInstance> instance = Instance();
  if (instance == nullptr) return;
  absl::StatusOr<std::string> address =
      BrokerAddress(*instance, state->queue, state->suggested_broker_id.load());
  if (!address.ok()) {
    LOG(WARNING) << "pull of " << state->queue.ToString() << ": " << address.status();
    PullLater(state, options_.pull_delay_on_error);
    return;
  }
  auto call = std::make_unique<PullCall>();
  {
    absl::MutexLock lock(&mu_);
    auto subscription = subscriptions_.find(state->queue.topic);
    // Unsubscribed: the next rebalance drops the queue.
    if (subscription == subscriptions_.end()) return;
    call->subscription = subscription->second;
  }
  call->queue = state;
  call->address = *address;
  call->stub = instance->connections().BrokerStub(*address);
  broker::v1::PullMessageRequest& request = call->request;
  request.set_consumer_group(group_);
  request.set_topic(state->queue.topic);
  request.set_queue_id(state->queue.queue_id);
  request.set_queue_offset(state->next_offset.load());
  request.set_max_msg_nums(options_.pull_batch_size);
  request.set_commit_offset(options_.message_model == MessageModel::kClustering
                                ? offset_store_->ReadFromMemory(state->queue).value_or(-1)
                                : -1);
  request.set_suspend(true);
  request.set_suspend_timeout_ms(absl::ToInt64Milliseconds(options_.broker_suspend_max));
  request.set_subscription(call->subscription.sub_string());
  request.set_stored_records(true);
  SetDeadline(&call->context, options_.consumer_timeout_when_suspend);
  PullCall* raw = call.get();
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    inflight_pulls_[raw] = std::move(call);
  }
  raw->stub->async()->PullMessage(&raw->context, &raw->request, &raw->response,
                                  [this, raw](grpc::Status status) { OnPullDone(raw, status); });
}

void PushConsumerImpl::OnPullDone(PullCall* call, const grpc::Status& grpc_status) {
  HandlePullResult(*call, FromGrpcStatus(grpc_status, call->context));
  // Destroyed here, before Shutdown() can let the client instance (and with
  // it the channel) go: the last reference to a channel must not be dropped
  // on a gRPC callback thread (grpc/grpc#37858).
  absl::MutexLock lock(&mu_);
  inflight_pulls_.erase(call);
}

void PushConsumerImpl::HandlePullResult(PullCall& call, const absl::Status& status) {
  const std::shared_ptr<QueueState>& state = call.queue;
  if (state->process_queue.dropped()) return;
  if (!status.ok()) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    LOG(WARNING) << "pull of " << QueueLabel(state->queue, call.address) << status;
    // The master may be gone; the next attempt picks the address anew.
    state->suggested_broker_id = 0;
    PullLater(state, options_.pull_delay_on_error);
    return;
  }
  const broker::v1::PullMessageResponse& response = call.response;
  state->suggested_broker_id = response.suggest_which_broker_id();
  absl::StatusOr<std::vector<MessageExt>> messages = MatchingMessages(
      response, call.subscription, state->queue.broker_name, options_.max_body_size_bytes);
  if (!messages.ok()) {
    LOG(ERROR) << "pull of " << QueueLabel(state->queue, call.address) << messages.status();
    PullLater(state, options_.pull_delay_on_error);
    return;
  }
  if (IsRetryTopic(state->queue.topic)) {
    // RocketMQ's resetRetryAndNamespace: the listener sees the topic the
    // message was first consumed from.
    for (MessageExt& message : *messages) {
      std::string topic = message.message.GetProperty(format::kPropertyRetryTopic);
      if (!topic.empty()) message.message.set_topic(std::move(topic));
    }
  }
  const int64_t next_offset = response.next_begin_offset();
  if (response.status() == broker::v1::OFFSET_ILLEGAL) {
    LOG(WARNING) << "offset " << call.request.queue_offset() << " of " << state->queue.ToString()
                 << " is outside the queue [" << response.min_offset() << ", "
                 << response.max_offset() << "); continuing at " << next_offset;
    state->next_offset = next_offset;
    if (state->process_queue.empty()) {
      offset_store_->Update(state->queue, next_offset, /*increase_only=*/false);
    }
    PullLater(state, absl::ZeroDuration());
    return;
  }
  state->next_offset = next_offset;
  if (messages->empty()) {
    // Nothing new, or nothing matching the tags: the committed offset may move
    // past the skipped messages when nothing earlier is outstanding.
    if (state->process_queue.empty()) {
      offset_store_->Update(state->queue, next_offset, /*increase_only=*/true);
    }
  } else if (state->process_queue.Put(*std::move(messages))) {
    StartConsuming(state);
  }
  PullLater(state, options_.pull_interval);
}

void PushConsumerImpl::StartConsuming(std::shared_ptr<QueueState> state) {
  if (orderly_ != nullptr) {
    const MessageQueue& queue = state->queue;
    // Shares ownership of the queue's state.
    std::shared_ptr<ProcessQueue> process_queue(state, &state->process_queue);
    orderly_->Submit(queue, std::move(process_queue));
    return;
  }
  consume_executor_->Submit([this, state = std::move(state)] { Consume(state); }).IgnoreError();
}

void PushConsumerImpl::Consume(const std::shared_ptr<QueueState>& state) {
  std::vector<MessageExt> batch =
      state->process_queue.TakeBatch(options_.consume_message_batch_max_size);
  if (batch.empty()) return;
  const ConsumeStatus result = CallListener(batch);
  // Messages handed back meanwhile because the listener held them too long
  // are not the listener's any more.
  batch = state->process_queue.Release(batch);
  // A dropped queue's messages belong to another member now: its offsets are
  // not recorded here (the new owner may deliver them again).
  if (state->process_queue.dropped() || batch.empty()) {
    StartConsuming(state);
    return;
  }
  if (result == ConsumeStatus::kConsumeSuccess) {
    offset_store_->Update(state->queue, state->process_queue.Remove(batch),
                          /*increase_only=*/true);
  } else {
    HandleFailed(state, std::move(batch), kBrokerChosenDelayLevel);
  }
  // The next batch as a new task, so other queues get their turn.
  StartConsuming(state);
}

ConsumeStatus PushConsumerImpl::CallListener(const std::vector<MessageExt>& batch) {
  try {
    return listener_(batch);
  } catch (const std::exception& e) {
    LOG(WARNING) << "group " << group_ << ": the listener threw (" << e.what()
                 << "); consuming its messages again later";
  } catch (...) {
    LOG(WARNING) << "group " << group_
                 << ": the listener threw; consuming its messages again later";
  }
  return ConsumeStatus::kReconsumeLater;
}

void PushConsumerImpl::HandleFailed(const std::shared_ptr<QueueState>& state,
                                    std::vector<MessageExt> failed, int32_t delay_level) {
  std::vector<MessageExt> handed_back;
  std::vector<MessageExt> again;
  std::vector<MessageExt> given_up;
  for (MessageExt& message : failed) {
    if (options_.message_model == MessageModel::kClustering) {
      absl::Status sent = SendBack(state->queue, message, delay_level);
      if (sent.ok()) {
        handed_back.push_back(std::move(message));
        continue;
      }
      LOG(WARNING) << "group " << group_ << ": cannot hand message " << message.msg_id
                   << " back to broker " << state->queue.broker_name << " (" << sent
                   << "); consuming it again in " << options_.reconsume_delay;
      ++message.reconsume_times;
      again.push_back(std::move(message));
      continue;
    }
    const int max =
        options_.max_reconsume_times < 0 ? kDefaultMaxReconsumeTimes : options_.max_reconsume_times;
    ++message.reconsume_times;
    if (message.reconsume_times > max) {
      LOG(ERROR) << "group " << group_ << " gives up message " << message.msg_id << " at "
                 << state->queue.ToString() << " offset " << message.queue_offset << " after "
                 << max << " redeliveries";
      given_up.push_back(std::move(message));
    } else {
      again.push_back(std::move(message));
    }
  }
  for (const std::vector<MessageExt>* done : {&handed_back, &given_up}) {
    if (done->empty()) continue;
    offset_store_->Update(state->queue, state->process_queue.Remove(*done),
                          /*increase_only=*/true);
  }
  if (!again.empty()) {
    consume_executor_
        ->SubmitAfter(options_.reconsume_delay,
                      [this, state, again = std::move(again)]() mutable {
                        if (state->process_queue.Requeue(std::move(again))) StartConsuming(state);
                      })
        .IgnoreError();
  }
}

void PushConsumerImpl::HandBackExpired() {
  std::map<MessageQueue, std::shared_ptr<QueueState>> assigned;
  {
    absl::MutexLock lock(&mu_);
    assigned = assigned_;
  }
  const absl::Time taken_before = absl::Now() - options_.consume_timeout;
  for (const auto& [queue, state] : assigned) {
    std::vector<MessageExt> expired = state->process_queue.TakeExpired(taken_before);
    if (expired.empty()) continue;
    LOG(WARNING) << "group " << group_ << ": the listener has held " << expired.size()
                 << " message(s) of " << queue.ToString() << " longer than "
                 << options_.consume_timeout << "; handing them back for a retry";
    HandleFailed(state, std::move(expired), kExpiredDelayLevel);
  }
}

absl::Status PushConsumerImpl::SendBack(const MessageQueue& queue, const MessageExt& message,
                                        int32_t delay_level) {
  std::shared_ptr<ClientInstance> instance = Instance();
  if (instance == nullptr) return absl::FailedPreconditionError("consumer is not running");
  absl::StatusOr<std::string> address = BrokerAddress(*instance, queue, 0);
  if (!address.ok()) return address.status();
  broker::v1::ConsumerSendBackRequest request;
  request.set_consumer_group(group_);
  request.set_commit_log_offset(message.commit_log_offset);
  request.set_origin_message_id(message.msg_id);
  request.set_origin_topic(message.message.topic());
  request.set_delay_level(delay_level);
  request.set_max_reconsume_times(options_.max_reconsume_times);
  request.set_broker_name(queue.broker_name);
  return CallUnary(*instance->connections().BrokerStub(*address),
                   &broker::v1::Broker::Stub::ConsumerSendBack, request,
                   options_.client.api_timeout, BrokerLabel(queue.broker_name, *address))
      .status();
}

absl::StatusOr<std::string> PushConsumerImpl::BrokerAddress(ClientInstance& instance,
                                                            const MessageQueue& queue,
                                                            int64_t preferred_broker_id) {
  absl::optional<std::map<int64_t, std::string>> addresses =
      instance.routes().FindBrokerAddresses(queue.broker_name);
  if (!addresses.has_value() || addresses->empty()) {
    absl::Status refreshed = instance.UpdateTopicRouteFromNameServer(queue.topic);
    if (!refreshed.ok()) VLOG(1) << "route refresh of " << queue.topic << ": " << refreshed;
    addresses = instance.routes().FindBrokerAddresses(queue.broker_name);
  }
  if (!addresses.has_value() || addresses->empty()) {
    return absl::UnavailableError(
        absl::StrCat("broker group ", queue.broker_name, " has no address in the route"));
  }
  auto it = addresses->find(preferred_broker_id);
  if (it != addresses->end()) return it->second;
  // The master if alive, else the lowest slave.
  return addresses->begin()->second;
}

absl::StatusOr<int64_t> PushConsumerImpl::QueryCommittedOffset(const MessageQueue& queue) {
  std::shared_ptr<ClientInstance> instance = Instance();
  if (instance == nullptr) return absl::FailedPreconditionError("consumer is not running");
  absl::StatusOr<std::string> address = BrokerAddress(*instance, queue, 0);
  if (!address.ok()) return address.status();
  return QueryConsumerOffsetAt(*instance, *address, group_, queue, options_.client.api_timeout);
}

absl::Status PushConsumerImpl::CommitOffset(const MessageQueue& queue, int64_t offset) {
  std::shared_ptr<ClientInstance> instance = Instance();
  if (instance == nullptr) return absl::FailedPreconditionError("consumer is not running");
  absl::StatusOr<std::string> address = BrokerAddress(*instance, queue, 0);
  if (!address.ok()) return address.status();
  return UpdateConsumerOffsetAt(*instance, *address, group_, queue, offset,
                                options_.client.api_timeout);
}

absl::StatusOr<int64_t> PushConsumerImpl::QueueOffset(const MessageQueue& queue, bool min) {
  std::shared_ptr<ClientInstance> instance = Instance();
  if (instance == nullptr) return absl::FailedPreconditionError("consumer is not running");
  absl::StatusOr<std::string> address = BrokerAddress(*instance, queue, 0);
  if (!address.ok()) return address.status();
  return QueueOffsetAt(*instance, *address, queue, min, options_.client.api_timeout);
}

absl::StatusOr<int64_t> PushConsumerImpl::SearchOffset(const MessageQueue& queue, absl::Time time) {
  std::shared_ptr<ClientInstance> instance = Instance();
  if (instance == nullptr) return absl::FailedPreconditionError("consumer is not running");
  absl::StatusOr<std::string> address = BrokerAddress(*instance, queue, 0);
  if (!address.ok()) return address.status();
  return SearchOffsetAt(*instance, *address, queue, time, options_.client.api_timeout);
}

void PushConsumerImpl::PersistOffsets() { offset_store_->Persist(AssignedQueues()); }

// Orderly consumption.

std::vector<MessageQueue> PushConsumerImpl::LockQueues(const std::vector<MessageQueue>& queues) {
  std::vector<MessageQueue> locked;
  std::shared_ptr<ClientInstance> instance = Instance();
  if (instance == nullptr || queues.empty()) return locked;
  std::map<std::string, std::vector<MessageQueue>> by_broker;
  for (const MessageQueue& queue : queues) by_broker[queue.broker_name].push_back(queue);
  for (const auto& [broker_name, batch] : by_broker) {
    // Locks live on the master only (RocketMQ's lockBatchMQ).
    absl::optional<std::map<int64_t, std::string>> addresses =
        instance->routes().FindBrokerAddresses(broker_name);
    auto master = addresses.has_value() ? addresses->find(0) : addresses->end();
    if (!addresses.has_value() || master == addresses->end()) {
      LOG(WARNING) << "group " << group_ << ": cannot lock queues of broker group " << broker_name
                   << ": no master in the route";
      continue;
    }
    broker::v1::LockBatchQueuesRequest request;
    request.set_consumer_group(group_);
    request.set_client_id(instance->client_id());
    for (const MessageQueue& queue : batch) *request.add_queues() = ToProto(queue);
    absl::StatusOr<broker::v1::LockBatchQueuesResponse> response =
        CallUnary(*instance->connections().BrokerStub(master->second),
                  &broker::v1::Broker::Stub::LockBatchQueues, request, options_.client.api_timeout,
                  BrokerLabel(broker_name, master->second));
    if (!response.ok()) {
      LOG(WARNING) << "group " << group_ << ": locking queues: " << response.status();
      continue;
    }
    for (const common::v1::MessageQueue& queue : response->locked_queues()) {
      locked.push_back(MessageQueue{queue.topic(), queue.broker_name(), queue.queue_id()});
    }
  }
  return locked;
}

void PushConsumerImpl::UnlockQueues(const std::vector<MessageQueue>& queues) {
  std::shared_ptr<ClientInstance> instance = Instance();
  if (instance == nullptr) return;
  std::map<std::string, std::vector<MessageQueue>> by_broker;
  for (const MessageQueue& queue : queues) by_broker[queue.broker_name].push_back(queue);
  for (const auto& [broker_name, batch] : by_broker) {
    absl::optional<std::map<int64_t, std::string>> addresses =
        instance->routes().FindBrokerAddresses(broker_name);
    auto master = addresses.has_value() ? addresses->find(0) : addresses->end();
    // Without a master the locks expire on their own.
    if (!addresses.has_value() || master == addresses->end()) continue;
    broker::v1::UnlockBatchQueuesRequest request;
    request.set_consumer_group(group_);
    request.set_client_id(instance->client_id());
    for (const MessageQueue& queue : batch) *request.add_queues() = ToProto(queue);
    absl::StatusOr<broker::v1::UnlockBatchQueuesResponse> response =
        CallUnary(*instance->connections().BrokerStub(master->second),
                  &broker::v1::Broker::Stub::UnlockBatchQueues, request,
                  options_.client.api_timeout, BrokerLabel(broker_name, master->second));
    if (!response.ok()) {
      LOG(WARNING) << "group " << group_
                   << ": unlocking queues (they expire on the broker): " << response.status();
    }
  }
}

void PushConsumerImpl::RenewQueueLocks() {
  std::map<MessageQueue, std::shared_ptr<QueueState>> assigned;
  {
    absl::MutexLock lock(&mu_);
    assigned = assigned_;
  }
  std::vector<MessageQueue> queues;
  for (const auto& [queue, state] : assigned) queues.push_back(queue);
  const absl::Time now = absl::Now();
  const std::vector<MessageQueue> held = LockQueues(queues);
  const std::set<MessageQueue> held_set(held.begin(), held.end());
  for (const auto& [queue, state] : assigned) {
    if (held_set.count(queue) != 0) {
      state->process_queue.MarkLocked(now);
    } else if (state->process_queue.LockValid(now, options_.queue_lock_max_live_time)) {
      // Consumption stops now, or once the last lock is too old if the
      // broker did not answer.
      LOG(WARNING) << "group " << group_ << ": could not renew the lock of " << queue.ToString();
    }
  }
}

}  // namespace mq::client_internal
