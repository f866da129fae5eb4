// The broker calls about queue offsets that the pull and the push consumer
// share: a group's committed offset, and a queue's min/max/by-time offsets.
#ifndef MQ_CLIENT_SRC_BROKER_OFFSETS_H_
#define MQ_CLIENT_SRC_BROKER_OFFSETS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/src/client_instance.h"
#include "mq/message_queue.h"

namespace mq::client_internal {

// Each call goes to the broker at `address` (one of `queue`'s broker group)
// with a deadline of `timeout`; errors are prefixed with the broker and address.

// The group's committed offset; NOT_FOUND if the group never committed.
absl::StatusOr<int64_t> QueryConsumerOffsetAt(ClientInstance& instance, const std::string& address,
                                              const std::string& group, const MessageQueue& queue,
                                              absl::Duration timeout);

absl::Status UpdateConsumerOffsetAt(ClientInstance& instance, const std::string& address,
                                    const std::string& group, const MessageQueue& queue,
                                    int64_t offset, absl::Duration timeout);

// The first still stored (`min`) or one past the last offset of the queue.
absl::StatusOr<int64_t> QueueOffsetAt(ClientInstance& instance, const std::string& address,
                                      const MessageQueue& queue, bool min, absl::Duration timeout);

// The offset of the first message stored at or after `time`.
absl::StatusOr<int64_t> SearchOffsetAt(ClientInstance& instance, const std::string& address,
                                       const MessageQueue& queue, absl::Time time,
                                       absl::Duration timeout);

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_BROKER_OFFSETS_H_
