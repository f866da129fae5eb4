#include "client/src/simple_consumer_impl.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/src/client_registry.h"
#include "client/src/pulled_message.h"
#include "client/src/subscription.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace mq::client_internal {
namespace {

constexpr int32_t kMaxReceiveMessages = 32;
// The longest invisible duration the brokers take.
constexpr absl::Duration kMaxInvisibleDuration = absl::Hours(12);

absl::Status CheckInvisibleDuration(absl::Duration duration) {
  if (duration < absl::ZeroDuration() || duration > kMaxInvisibleDuration) {
    return absl::InvalidArgumentError(
        absl::StrCat("invisible duration ", absl::FormatDuration(duration), " is outside 0..12h"));
  }
  return absl::OkStatus();
}

}  // namespace

SimpleConsumerImpl::SimpleConsumerImpl(std::string group, SimpleConsumerOptions options)
    : group_(std::move(group)),
      options_(std::move(options)),
      lifecycle_(absl::StrCat("consumer group ", group_)) {}

SimpleConsumerImpl::~SimpleConsumerImpl() { Shutdown(); }

absl::Status SimpleConsumerImpl::Start() {
  if (absl::Status s = lifecycle_.BeginStart(); !s.ok()) return s;
  if (absl::Status s = ValidateGroup(group_); !s.ok()) return lifecycle_.StartFailed(s);
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance =
      ClientRegistry::Default().RegisterConsumer(options_.client, group_, this);
  if (!instance.ok()) return lifecycle_.StartFailed(instance.status());
  (*instance)->SendHeartbeatToAllBrokers();
  lifecycle_.Started(*std::move(instance));
  return absl::OkStatus();
}

void SimpleConsumerImpl::Shutdown() {
  std::shared_ptr<ClientInstance> instance = lifecycle_.Shutdown();
  if (instance == nullptr) return;
  lifecycle_.ShutdownDone();
  ClientRegistry::Default().UnregisterConsumer(instance, group_);
}

ServiceState SimpleConsumerImpl::state() const { return lifecycle_.state(); }

absl::Status SimpleConsumerImpl::Subscribe(const std::string& topic,
                                           absl::string_view sub_expression) {
  if (absl::Status s = ValidateTopic(topic); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  subscriptions_[topic] = ParseSubscription(topic, sub_expression);
  return absl::OkStatus();
}

absl::Status SimpleConsumerImpl::Unsubscribe(const std::string& topic) {
  absl::MutexLock lock(&mu_);
  if (subscriptions_.erase(topic) == 0) {
    return absl::NotFoundError(absl::StrCat("topic ", QuoteInput(topic), " is not subscribed"));
  }
  return absl::OkStatus();
}

std::vector<std::string> SimpleConsumerImpl::TopicsInUse() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> topics;
  for (const auto& [topic, subscription] : subscriptions_) topics.push_back(topic);
  return topics;
}

broker::v1::ConsumerData SimpleConsumerImpl::HeartbeatData() const {
  broker::v1::ConsumerData data;
  data.set_group_name(group_);
  data.set_consume_type(broker::v1::CONSUME_ACTIVELY);
  data.set_message_model(broker::v1::CLUSTERING);
  data.set_consume_from_where(broker::v1::CONSUME_FROM_LAST_OFFSET);
  absl::MutexLock lock(&mu_);
  for (const auto& [topic, subscription] : subscriptions_) *data.add_subscriptions() = subscription;
  return data;
}

std::vector<SimpleConsumerImpl::Target> SimpleConsumerImpl::Targets(ClientInstance& instance) {
  std::vector<Target> targets;
  for (const std::string& topic : TopicsInUse()) {
    absl::optional<common::v1::TopicRouteData> route = instance.routes().Route(topic);
    if (!route.has_value()) {
      if (absl::Status s = instance.UpdateTopicRouteFromNameServer(topic); !s.ok()) {
        VLOG(1) << "route of " << topic << ": " << s;
        continue;
      }
      route = instance.routes().Route(topic);
      if (!route.has_value()) continue;
    }
    for (const common::v1::QueueData& queues : route->queue_datas()) {
      if (queues.read_queue_nums() <= 0 || (queues.perm() & common::v1::PERM_READ) == 0) continue;
      absl::optional<std::string> master =
          instance.routes().FindMasterAddress(queues.broker_name());
      if (master.has_value()) targets.push_back({topic, queues.broker_name(), *master});
    }
  }
  if (!targets.empty()) {
    absl::MutexLock lock(&mu_);
    std::rotate(targets.begin(), targets.begin() + next_target_++ % targets.size(), targets.end());
  }
  return targets;
}

absl::StatusOr<std::vector<ReceivedMessage>> SimpleConsumerImpl::PopFrom(
    ClientInstance& instance, const Target& target, int32_t max_messages,
    absl::Duration invisible_duration, absl::Duration await_duration) {
  broker::v1::SubscriptionData subscription;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscriptions_.find(target.topic);
    if (it == subscriptions_.end()) return std::vector<ReceivedMessage>();
    subscription = it->second;
  }
  broker::v1::PopMessageRequest request;
  request.set_consumer_group(group_);
  request.set_topic(target.topic);
  request.set_queue_id(-1);
  request.set_max_msg_nums(max_messages);
  request.set_invisible_time_ms(absl::ToInt64Milliseconds(invisible_duration));
  request.set_poll_timeout_ms(absl::ToInt64Milliseconds(await_duration));
  request.set_subscription(subscription.sub_string());
  request.set_client_id(instance.client_id());
  request.set_broker_name(target.broker_name);
  request.set_stored_records(true);
  // The broker answers a held pop before the deadline.
  absl::StatusOr<broker::v1::PopMessageResponse> response = CallUnary(
      *instance.connections().BrokerStub(target.address), &broker::v1::Broker::Stub::PopMessage,
      request, await_duration + options_.client.api_timeout,
      BrokerLabel(target.broker_name, target.address));
  if (!response.ok()) return response.status();
  absl::StatusOr<std::vector<MessageExt>> messages =
      PoppedMessages(*response, target.broker_name, options_.max_body_size_bytes);
  if (!messages.ok()) return messages.status();
  std::vector<ReceivedMessage> received;
  std::vector<ReceivedMessage> unwanted;
  for (int i = 0; i < response->messages_size(); ++i) {
    const broker::v1::PoppedMessage& popped = response->messages(i);
    ReceivedMessage item;
    item.message = std::move((*messages)[i]);
    item.receipt_handle = popped.receipt_handle();
    item.delivery_attempt = popped.delivery_attempt();
    item.invisible_until = absl::FromUnixMillis(popped.invisible_until_ms());
    // The broker filters by tag hash; hashes collide.
    if (MatchesSubscription(subscription, item.message.message.tags())) {
      received.push_back(std::move(item));
    } else {
      unwanted.push_back(std::move(item));
    }
  }
  for (const ReceivedMessage& item : unwanted) {
    if (absl::Status acked = Ack(item); !acked.ok()) VLOG(1) << "ack of a tag mismatch: " << acked;
  }
  return received;
}

absl::StatusOr<std::vector<ReceivedMessage>> SimpleConsumerImpl::Receive(
    int32_t max_messages, absl::Duration invisible_duration, absl::Duration await_duration) {
  if (max_messages < 1 || max_messages > kMaxReceiveMessages) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_messages must be 1..", kMaxReceiveMessages, ", got ", max_messages));
  }
  if (absl::Status s = CheckInvisibleDuration(invisible_duration); !s.ok()) return s;
  if (await_duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("await duration must not be negative");
  }
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = lifecycle_.Running();
  if (!instance.ok()) return instance.status();
  std::vector<Target> targets = Targets(**instance);
  if (targets.empty()) {
    return absl::InvalidArgumentError(
        "no subscribed topic has a readable broker (Subscribe() a topic that exists)");
  }
  // Every broker at once first; then wait on one for a message.
  absl::Status last_error;
  for (const Target& target : targets) {
    absl::StatusOr<std::vector<ReceivedMessage>> got =
        PopFrom(**instance, target, max_messages, invisible_duration, absl::ZeroDuration());
    if (!got.ok()) {
      last_error = got.status();
      continue;
    }
    if (!got->empty()) return got;
  }
  if (await_duration > absl::ZeroDuration()) {
    absl::StatusOr<std::vector<ReceivedMessage>> got =
        PopFrom(**instance, targets.front(), max_messages, invisible_duration, await_duration);
    if (got.ok()) return got;
    last_error = got.status();
  }
  if (!last_error.ok()) return last_error;
  return std::vector<ReceivedMessage>();
}

absl::StatusOr<std::string> SimpleConsumerImpl::MasterOf(ClientInstance& instance,
                                                         const MessageExt& message) {
  absl::optional<std::string> master = instance.routes().FindMasterAddress(message.broker_name);
  if (!master.has_value()) {
    return absl::UnavailableError(
        absl::StrCat("broker group ", message.broker_name, " has no master address in the route"));
  }
  return *master;
}

absl::Status SimpleConsumerImpl::Ack(const ReceivedMessage& message) {
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = lifecycle_.Running();
  if (!instance.ok()) return instance.status();
  absl::StatusOr<std::string> address = MasterOf(**instance, message.message);
  if (!address.ok()) return address.status();
  broker::v1::AckMessageRequest request;
  request.set_consumer_group(group_);
  request.set_topic(message.message.message.topic());
  request.add_receipt_handles(message.receipt_handle);
  absl::StatusOr<broker::v1::AckMessageResponse> response = CallUnary(
      *(*instance)->connections().BrokerStub(*address), &broker::v1::Broker::Stub::AckMessage,
      request, options_.client.api_timeout, BrokerLabel(message.message.broker_name, *address));
  if (!response.ok()) return response.status();
  if (response->results_size() != 1) {
    return absl::InternalError(absl::StrCat("the broker answered ", response->results_size(),
                                            " results for one receipt handle"));
  }
  const broker::v1::AckResult& result = response->results(0);
  if (result.code() == common::v1::SUCCESS) return absl::OkStatus();
  return WithResponseCode(absl::InvalidArgumentError(result.error_message()), result.code());
}

absl::Status SimpleConsumerImpl::ChangeInvisibleDuration(ReceivedMessage* message,
                                                         absl::Duration invisible_duration) {
  if (absl::Status s = CheckInvisibleDuration(invisible_duration); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<ClientInstance>> instance = lifecycle_.Running();
  if (!instance.ok()) return instance.status();
  absl::StatusOr<std::string> address = MasterOf(**instance, message->message);
  if (!address.ok()) return address.status();
  broker::v1::ChangeInvisibleTimeRequest request;
  request.set_consumer_group(group_);
  request.set_topic(message->message.message.topic());
  request.set_receipt_handle(message->receipt_handle);
  request.set_invisible_time_ms(absl::ToInt64Milliseconds(invisible_duration));
  absl::StatusOr<broker::v1::ChangeInvisibleTimeResponse> response =
      CallUnary(*(*instance)->connections().BrokerStub(*address),
                &broker::v1::Broker::Stub::ChangeInvisibleTime, request,
                options_.client.api_timeout, BrokerLabel(message->message.broker_name, *address));
  if (!response.ok()) return response.status();
  message->receipt_handle = response->receipt_handle();
  message->invisible_until = absl::FromUnixMillis(response->invisible_until_ms());
  return absl::OkStatus();
}

}  // namespace mq::client_internal
