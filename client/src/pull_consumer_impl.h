// The pull consumer's logic behind the mq::PullConsumer facade.
#ifndef MQ_CLIENT_SRC_PULL_CONSUMER_IMPL_H_
#define MQ_CLIENT_SRC_PULL_CONSUMER_IMPL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/src/client_instance.h"
#include "client/src/member_lifecycle.h"
#include "mq/pull_consumer.h"
#include "proto/broker.pb.h"

namespace mq::client_internal {

// Thread-safe, as mq::PullConsumer.
class PullConsumerImpl : public ConsumerMember {
 public:
  PullConsumerImpl(std::string group, PullConsumerOptions options);
  ~PullConsumerImpl() override;

  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  ServiceState state() const ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<std::vector<MessageQueue>> FetchSubscribeQueues(const std::string& topic)
      ABSL_LOCKS_EXCLUDED(mu_);
  // `block`: long polling (the broker holds an empty answer).
  absl::StatusOr<PullResult> Pull(const MessageQueue& queue, absl::string_view sub_expression,
                                  int64_t offset, int32_t max_nums, bool block)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<int64_t> QueryConsumerOffset(const MessageQueue& queue) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status UpdateConsumerOffset(const MessageQueue& queue, int64_t offset)
      ABSL_LOCKS_EXCLUDED(mu_);
  // min (true) or max (false) offset of the queue.
  absl::StatusOr<int64_t> QueueOffset(const MessageQueue& queue, bool min) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<int64_t> SearchOffset(const MessageQueue& queue, absl::Time time)
      ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& group() const { return group_; }

  // ConsumerMember.
  std::vector<std::string> TopicsInUse() const override ABSL_LOCKS_EXCLUDED(mu_);
  broker::v1::ConsumerData HeartbeatData() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Which broker of a group serves a call.
  enum class BrokerChoice {
    kMasterOnly,     // committed offsets are read from the master only
    kMasterOrAny,    // the master, else any slave
    kSuggestedPull,  // the broker the last pull of the queue suggested, else any
  };

  // The instance when running; `topic` is then subscribed.
  absl::StatusOr<std::shared_ptr<ClientInstance>> CheckRunning(const std::string& topic)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The address for `choice`, refreshing the topic's route once when the
  // broker group is unknown; UNAVAILABLE when there is none.
  absl::StatusOr<std::string> BrokerAddress(ClientInstance& instance, const MessageQueue& queue,
                                            BrokerChoice choice) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string group_;
  const PullConsumerOptions options_;

  MemberLifecycle lifecycle_;

  mutable absl::Mutex mu_;
  std::set<std::string> topics_ ABSL_GUARDED_BY(mu_);
  // Broker id the last pull of a queue suggested (0 = master).
  std::map<MessageQueue, int64_t> suggested_broker_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_PULL_CONSUMER_IMPL_H_
