#include "client/src/allocate_strategy.h"

#include <algorithm>

namespace mq::client_internal {

std::vector<MessageQueue> AllocateAveragely(std::vector<MessageQueue> queues,
                                            std::vector<std::string> client_ids,
                                            const std::string& client_id) {
  std::sort(queues.begin(), queues.end());
  queues.erase(std::unique(queues.begin(), queues.end()), queues.end());
  std::sort(client_ids.begin(), client_ids.end());
  client_ids.erase(std::unique(client_ids.begin(), client_ids.end()), client_ids.end());
  auto me = std::find(client_ids.begin(), client_ids.end(), client_id);
  if (me == client_ids.end() || queues.empty()) return {};
  const size_t index = static_cast<size_t>(me - client_ids.begin());
  const size_t base = queues.size() / client_ids.size();
  const size_t extra = queues.size() % client_ids.size();
  const size_t start = index * base + std::min(index, extra);
  const size_t count = base + (index < extra ? 1 : 0);
  return std::vector<MessageQueue>(queues.begin() + start, queues.begin() + start + count);
}

}  // namespace mq::client_internal
