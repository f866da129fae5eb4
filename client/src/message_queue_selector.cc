#include "mq/message_queue_selector.h"

#include <cstdint>

namespace mq {
namespace {

uint32_t Fnv1a32(const std::string& text) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash;
}

}  // namespace

MessageQueueSelector SelectQueueByHash(std::string sharding_key) {
  const uint32_t hash = Fnv1a32(sharding_key);
  return [hash](const std::vector<MessageQueue>& queues, const Message&) -> size_t {
    return hash % queues.size();
  };
}

}  // namespace mq
