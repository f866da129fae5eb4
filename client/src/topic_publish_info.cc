#include "client/src/topic_publish_info.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"

namespace mq::client_internal {
namespace {

bool IsWritable(uint32_t perm) { return (perm & common::v1::PERM_WRITE) != 0; }

}  // namespace

std::shared_ptr<const TopicPublishInfo> TopicPublishInfo::FromRoute(
    const std::string& topic, const common::v1::TopicRouteData& route) {
  std::shared_ptr<TopicPublishInfo> info(new TopicPublishInfo());
  info->route_ = route;
  if (!route.order_topic_conf().empty()) {
    for (absl::string_view entry :
         absl::StrSplit(route.order_topic_conf(), ';', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(entry, ':');
      int32_t nums = 0;
      if (parts.first.empty() || !absl::SimpleAtoi(parts.second, &nums) || nums <= 0) {
        LOG(WARNING) << "topic " << topic << ": ignoring bad order_topic_conf entry '" << entry
                     << "'";
        continue;
      }
      for (int32_t q = 0; q < nums; ++q) {
        info->queues_.push_back(MessageQueue{topic, std::string(parts.first), q});
      }
    }
    info->order_topic_ = true;
    return info;
  }

  std::vector<const common::v1::QueueData*> queue_datas;
  for (const auto& qd : route.queue_datas()) queue_datas.push_back(&qd);
  std::sort(queue_datas.begin(), queue_datas.end(),
            [](const auto* a, const auto* b) { return a->broker_name() < b->broker_name(); });
  for (const common::v1::QueueData* qd : queue_datas) {
    if (!IsWritable(qd->perm())) continue;
    const auto broker = std::find_if(
        route.broker_datas().begin(), route.broker_datas().end(),
        [qd](const common::v1::BrokerData& bd) { return bd.broker_name() == qd->broker_name(); });
    if (broker == route.broker_datas().end() || broker->broker_addrs().count(0) == 0) continue;
    for (int32_t q = 0; q < qd->write_queue_nums(); ++q) {
      info->queues_.push_back(MessageQueue{topic, qd->broker_name(), q});
    }
  }
  return info;
}

const MessageQueue* TopicPublishInfo::SelectQueue(
    const ThreadLocalIndex& index, absl::string_view avoid_broker,
    const std::function<bool(const MessageQueue&)>& usable) const {
  const size_t size = queues_.size();
  for (size_t i = 0; i < size; ++i) {
    const MessageQueue& queue = queues_[index.IncrementAndGet() % size];
    if (!avoid_broker.empty() && queue.broker_name == avoid_broker) continue;
    if (usable && !usable(queue)) continue;
    return &queue;
  }
  return nullptr;
}

const MessageQueue* TopicPublishInfo::SelectQueue(const ThreadLocalIndex& index) const {
  if (queues_.empty()) return nullptr;
  return &queues_[index.IncrementAndGet() % queues_.size()];
}

int32_t TopicPublishInfo::WriteQueueNumsOf(absl::string_view broker_name) const {
  for (const auto& qd : route_.queue_datas()) {
    if (qd.broker_name() == broker_name && IsWritable(qd.perm())) return qd.write_queue_nums();
  }
  return -1;
}

}  // namespace mq::client_internal
