#include "mq/message_queue.h"

#include "absl/strings/str_cat.h"

namespace mq {

std::string MessageQueue::ToString() const {
  return absl::StrCat(topic, "@", broker_name, "#", queue_id);
}

}  // namespace mq
