#include "client/src/subscription.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace mq::client_internal {

int32_t TagHashCode(absl::string_view tag) {
  uint32_t hash = 0;
  for (unsigned char c : tag) hash = hash * 31 + c;
  return static_cast<int32_t>(hash);
}

broker::v1::SubscriptionData ParseSubscription(const std::string& topic,
                                               absl::string_view expression) {
  broker::v1::SubscriptionData data;
  data.set_topic(topic);
  const absl::string_view trimmed = absl::StripAsciiWhitespace(expression);
  if (trimmed.empty() || trimmed == "*") {
    data.set_sub_string("*");
    return data;
  }
  data.set_sub_string(std::string(trimmed));
  for (absl::string_view tag : absl::StrSplit(trimmed, "||")) {
    tag = absl::StripAsciiWhitespace(tag);
    if (tag.empty()) continue;
    data.add_tags(std::string(tag));
    data.add_codes(TagHashCode(tag));
  }
  return data;
}

bool MatchesSubscription(const broker::v1::SubscriptionData& subscription, absl::string_view tags) {
  if (subscription.sub_string() == "*") return true;
  return std::find(subscription.tags().begin(), subscription.tags().end(), tags) !=
         subscription.tags().end();
}

std::vector<MessageQueue> SubscribeQueuesFromRoute(const std::string& topic,
                                                   const common::v1::TopicRouteData& route) {
  std::vector<const common::v1::QueueData*> queue_datas;
  for (const auto& qd : route.queue_datas()) {
    if ((qd.perm() & common::v1::PERM_READ) != 0) queue_datas.push_back(&qd);
  }
  std::sort(queue_datas.begin(), queue_datas.end(),
            [](const auto* a, const auto* b) { return a->broker_name() < b->broker_name(); });
  std::vector<MessageQueue> queues;
  for (const common::v1::QueueData* qd : queue_datas) {
    for (int32_t q = 0; q < qd->read_queue_nums(); ++q) {
      queues.push_back(MessageQueue{topic, qd->broker_name(), q});
    }
  }
  return queues;
}

}  // namespace mq::client_internal
