// A stored message as consumers see it.
#ifndef MQ_CLIENT_INCLUDE_MQ_MESSAGE_EXT_H_
#define MQ_CLIENT_INCLUDE_MQ_MESSAGE_EXT_H_

#include <cstdint>
#include <string>

#include "mq/message.h"

namespace mq {

struct MessageExt {
  // Topic, tags, keys, flag, properties and the body (already uncompressed).
  Message message;
  // The producer's unique id (UNIQ_KEY), the "message id" users see.
  std::string msg_id;
  // The broker's id: hex of store host, port and commit-log offset.
  std::string offset_msg_id;
  std::string broker_name;
  int32_t queue_id = 0;
  // Position in its queue (0, 1, 2, ...).
  int64_t queue_offset = 0;
  int64_t commit_log_offset = 0;
  int32_t store_size = 0;
  int32_t reconsume_times = 0;
  uint32_t body_crc = 0;
  int64_t born_timestamp_ms = 0;
  // "ip:port" of the producer.
  std::string born_host;
  int64_t store_timestamp_ms = 0;
  // "ip:port" of the broker that stored it.
  std::string store_host;
};

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_MESSAGE_EXT_H_
