// The simple consumer's logic behind the mq::SimpleConsumer facade: the
// broker's POP calls (PopMessage, AckMessage, ChangeInvisibleTime) on the
// masters of the subscribed topics' broker groups, taken in turn.
#ifndef MQ_CLIENT_SRC_SIMPLE_CONSUMER_IMPL_H_
#define MQ_CLIENT_SRC_SIMPLE_CONSUMER_IMPL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/src/client_instance.h"
#include "client/src/member_lifecycle.h"
#include "mq/simple_consumer.h"
#include "proto/broker.pb.h"

namespace mq::client_internal {

// Thread-safe, as mq::SimpleConsumer.
class SimpleConsumerImpl : public ConsumerMember {
 public:
  SimpleConsumerImpl(std::string group, SimpleConsumerOptions options);
  ~SimpleConsumerImpl() override;

  absl::Status Start();
  void Shutdown();
  ServiceState state() const;

  absl::Status Subscribe(const std::string& topic, absl::string_view sub_expression)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Unsubscribe(const std::string& topic) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<ReceivedMessage>> Receive(int32_t max_messages,
                                                       absl::Duration invisible_duration,
                                                       absl::Duration await_duration)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Ack(const ReceivedMessage& message);
  absl::Status ChangeInvisibleDuration(ReceivedMessage* message, absl::Duration invisible_duration);

  const std::string& group() const { return group_; }

  // ConsumerMember.
  std::vector<std::string> TopicsInUse() const override ABSL_LOCKS_EXCLUDED(mu_);
  broker::v1::ConsumerData HeartbeatData() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // A broker group's master serving a subscribed topic.
  struct Target {
    std::string topic;
    std::string broker_name;
    std::string address;
  };
  // Every (topic, broker group) to receive from, in turn from the last used.
  std::vector<Target> Targets(ClientInstance& instance) ABSL_LOCKS_EXCLUDED(mu_);
  // One PopMessage; the messages whose exact tag does not match are acked
  // and left out.
  absl::StatusOr<std::vector<ReceivedMessage>> PopFrom(ClientInstance& instance,
                                                       const Target& target, int32_t max_messages,
                                                       absl::Duration invisible_duration,
                                                       absl::Duration await_duration)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The master of the message's broker group.
  absl::StatusOr<std::string> MasterOf(ClientInstance& instance, const MessageExt& message);

  const std::string group_;
  const SimpleConsumerOptions options_;

  MemberLifecycle lifecycle_;

  mutable absl::Mutex mu_;
  // topic -> its subscription.
  std::map<std::string, broker::v1::SubscriptionData> subscriptions_ ABSL_GUARDED_BY(mu_);
  uint32_t next_target_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_SIMPLE_CONSUMER_IMPL_H_
