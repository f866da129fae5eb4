#include "client/src/pull_consumer_impl.h"

#include <grpcpp/client_context.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/src/broker_offsets.h"
#include "client/src/client_registry.h"
#include "client/src/pulled_message.h"
#include "client/src/subscription.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace mq::client_internal {
namespace {

constexpr int32_t kMaxPullNums = 1024;

}  // namespace

PullConsumerImpl::PullConsumerImpl(std::string group, PullConsumerOptions options)
    : group_(std::move(group)),
      options_(std::move(options)),
      lifecycle_(absl::StrCat("consumer group ", group_)) {}

PullConsumerImpl::~PullConsumerImpl() { Shutdown(); }

absl::Status PullConsumerImpl::Start() {
  if (absl::Status s = lifecycle_.BeginStart(); !s.ok()) return s;
  if (absl::Status s = ValidateGroup(group_); !s.ok()) return lifecycle_.StartFailed(s);
  if (options_.pull_timeout <= absl::ZeroDuration() ||
      options_.broker_suspend_max <= absl::ZeroDuration() ||
      options_.timeout_when_suspend <= options_.broker_suspend_max) {
    return lifecycle_.StartFailed(absl::InvalidArgumentError(
        "pull timeouts must be positive, and timeout_when_suspend longer than broker_suspend_max"));
  }
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance =
      ClientRegistry::Default().RegisterConsumer(options_.client, group_, this);
  if (!instance.ok()) return lifecycle_.StartFailed(instance.status());
  (*instance)->SendHeartbeatToAllBrokers();
  VLOG(1) << "pull consumer group " << group_ << " started in client instance "
          << (*instance)->client_id();
  lifecycle_.Started(*std::move(instance));
  return absl::OkStatus();
}

void PullConsumerImpl::Shutdown() {
  std::shared_ptr<ClientInstance> instance = lifecycle_.Shutdown();
  if (instance == nullptr) return;
  lifecycle_.ShutdownDone();
  ClientRegistry::Default().UnregisterConsumer(instance, group_);
  VLOG(1) << "pull consumer group " << group_ << " shut down";
}

ServiceState PullConsumerImpl::state() const { return lifecycle_.state(); }

std::vector<std::string> PullConsumerImpl::TopicsInUse() const {
  absl::MutexLock lock(&mu_);
  return std::vector<std::string>(topics_.begin(), topics_.end());
}

broker::v1::ConsumerData PullConsumerImpl::HeartbeatData() const {
  broker::v1::ConsumerData data;
  data.set_group_name(group_);
  data.set_consume_type(broker::v1::CONSUME_ACTIVELY);
  data.set_message_model(broker::v1::CLUSTERING);
  data.set_consume_from_where(broker::v1::CONSUME_FROM_LAST_OFFSET);
  absl::MutexLock lock(&mu_);
  for (const std::string& topic : topics_)
    *data.add_subscriptions() = ParseSubscription(topic, "*");
  return data;
}

absl::StatusOr<std::shared_ptr<ClientInstance>> PullConsumerImpl::CheckRunning(
    const std::string& topic) {
  if (absl::Status s = ValidateTopic(topic); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = lifecycle_.Running();
  if (!instance.ok()) return instance.status();
  absl::MutexLock lock(&mu_);
  topics_.insert(topic);
  return instance;
}

absl::StatusOr<std::vector<MessageQueue>> PullConsumerImpl::FetchSubscribeQueues(
    const std::string& topic) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(topic);
  if (!instance.ok()) return instance.status();
  // Always ask the name server, so the answer is current, as RocketMQ does.
  if (absl::Status s = (*instance)->UpdateTopicRouteFromNameServer(topic); !s.ok()) {
    return PrefixStatus(absl::StrCat("route of topic ", topic, ": "), s);
  }
  absl::optional<common::v1::TopicRouteData> route = (*instance)->routes().Route(topic);
  std::vector<MessageQueue> queues =
      route.has_value() ? SubscribeQueuesFromRoute(topic, *route) : std::vector<MessageQueue>();
  if (queues.empty()) {
    return absl::NotFoundError(absl::StrCat("topic ", topic, " has no readable queue"));
  }
  return queues;
}

absl::StatusOr<std::string> PullConsumerImpl::BrokerAddress(ClientInstance& instance,
                                                            const MessageQueue& queue,
                                                            BrokerChoice choice) {
  absl::optional<std::map<int64_t, std::string>> addresses =
      instance.routes().FindBrokerAddresses(queue.broker_name);
  if (!addresses.has_value()) {
    absl::Status refreshed = instance.UpdateTopicRouteFromNameServer(queue.topic);
    if (!refreshed.ok()) VLOG(1) << "route refresh of " << queue.topic << ": " << refreshed;
    addresses = instance.routes().FindBrokerAddresses(queue.broker_name);
  }
  if (addresses.has_value() && !addresses->empty()) {
    int64_t wanted = 0;
    if (choice == BrokerChoice::kSuggestedPull) {
      absl::MutexLock lock(&mu_);
      auto it = suggested_broker_.find(queue);
      if (it != suggested_broker_.end()) wanted = it->second;
    }
    auto it = addresses->find(wanted);
    if (it != addresses->end()) return it->second;
    // The lowest id left: the master if alive, else a slave.
    if (choice != BrokerChoice::kMasterOnly) return addresses->begin()->second;
  }
  return absl::UnavailableError(absl::StrCat("broker group ", queue.broker_name,
                                             choice == BrokerChoice::kMasterOnly
                                                 ? " has no master address in the route"
                                                 : " has no address in the route"));
}

absl::StatusOr<PullResult> PullConsumerImpl::Pull(const MessageQueue& queue,
                                                  absl::string_view sub_expression, int64_t offset,
                                                  int32_t max_nums, bool block) {
  if (offset < 0) return absl::InvalidArgumentError("pull offset must not be negative");
  if (max_nums < 1 || max_nums > kMaxPullNums) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_nums must be 1..", kMaxPullNums, ", got ", max_nums));
  }
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(queue.topic);
  if (!instance.ok()) return instance.status();
  absl::StatusOr<std::string> address =
      BrokerAddress(**instance, queue, BrokerChoice::kSuggestedPull);
  if (!address.ok()) return address.status();

  const broker::v1::SubscriptionData subscription = ParseSubscription(queue.topic, sub_expression);
  broker::v1::PullMessageRequest request;
  request.set_consumer_group(group_);
  request.set_topic(queue.topic);
  request.set_queue_id(queue.queue_id);
  request.set_queue_offset(offset);
  request.set_max_msg_nums(max_nums);
  request.set_commit_offset(-1);
  request.set_suspend(block);
  request.set_suspend_timeout_ms(absl::ToInt64Milliseconds(options_.broker_suspend_max));
  request.set_subscription(subscription.sub_string());
  request.set_stored_records(true);
  absl::StatusOr<broker::v1::PullMessageResponse> response = CallUnary(
      *(*instance)->connections().BrokerStub(*address), &broker::v1::Broker::Stub::PullMessage,
      request, block ? options_.timeout_when_suspend : options_.pull_timeout,
      BrokerLabel(queue.broker_name, *address));
  if (!response.ok()) return response.status();
  {
    absl::MutexLock lock(&mu_);
    suggested_broker_[queue] = response->suggest_which_broker_id();
  }

  absl::StatusOr<std::vector<MessageExt>> messages =
      MatchingMessages(*response, subscription, queue.broker_name, options_.max_body_size_bytes);
  if (!messages.ok()) return messages.status();
  PullResult result;
  result.status = PullStatusFromProto(response->status());
  result.next_begin_offset = response->next_begin_offset();
  result.min_offset = response->min_offset();
  result.max_offset = response->max_offset();
  result.messages = *std::move(messages);
  return result;
}

absl::StatusOr<int64_t> PullConsumerImpl::QueryConsumerOffset(const MessageQueue& queue) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(queue.topic);
  if (!instance.ok()) return instance.status();
  absl::StatusOr<std::string> address = BrokerAddress(**instance, queue, BrokerChoice::kMasterOnly);
  if (!address.ok()) return address.status();
  return QueryConsumerOffsetAt(**instance, *address, group_, queue, options_.client.api_timeout);
}

absl::Status PullConsumerImpl::UpdateConsumerOffset(const MessageQueue& queue, int64_t offset) {
  if (offset < 0) return absl::InvalidArgumentError("consumer offset must not be negative");
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(queue.topic);
  if (!instance.ok()) return instance.status();
  absl::StatusOr<std::string> address =
      BrokerAddress(**instance, queue, BrokerChoice::kMasterOrAny);
  if (!address.ok()) return address.status();
  return UpdateConsumerOffsetAt(**instance, *address, group_, queue, offset,
                                options_.client.api_timeout);
}

absl::StatusOr<int64_t> PullConsumerImpl::QueueOffset(const MessageQueue& queue, bool min) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(queue.topic);
  if (!instance.ok()) return instance.status();
  absl::StatusOr<std::string> address =
      BrokerAddress(**instance, queue, BrokerChoice::kMasterOrAny);
  if (!address.ok()) return address.status();
  return QueueOffsetAt(**instance, *address, queue, min, options_.client.api_timeout);
}

absl::StatusOr<int64_t> PullConsumerImpl::SearchOffset(const MessageQueue& queue, absl::Time time) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = CheckRunning(queue.topic);
  if (!instance.ok()) return instance.status();
  absl::StatusOr<std::string> address =
      BrokerAddress(**instance, queue, BrokerChoice::kMasterOrAny);
  if (!address.ok()) return address.status();
  return SearchOffsetAt(**instance, *address, queue, time, options_.client.api_timeout);
}

}  // namespace mq::client_internal
