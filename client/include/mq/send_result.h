// The outcome of a successful send.
#ifndef MQ_CLIENT_INCLUDE_MQ_SEND_RESULT_H_
#define MQ_CLIENT_INCLUDE_MQ_SEND_RESULT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "mq/message_queue.h"

namespace mq {

// Every status means the message is stored on the master; only kSendOk means
// every configured guarantee (sync flush, slave ack) was met as well.
enum class SendStatus {
  kSendOk,             // SEND_OK
  kFlushDiskTimeout,   // FLUSH_DISK_TIMEOUT: not flushed within the sync-flush timeout
  kFlushSlaveTimeout,  // FLUSH_SLAVE_TIMEOUT: no slave acknowledged in time
  kSlaveNotAvailable,  // SLAVE_NOT_AVAILABLE: no slave connected, or it lags too far
};

// "SEND_OK", "FLUSH_DISK_TIMEOUT", ...
absl::string_view SendStatusName(SendStatus status);

struct SendResult {
  SendStatus status = SendStatus::kSendOk;
  // The producer's unique id (UNIQ_KEY); for a batch, the ids joined by ','.
  std::string msg_id;
  // The broker's id (store host, port, commit-log offset); ',' joined for a batch.
  std::string offset_msg_id;
  // Where the message went.
  MessageQueue message_queue;
  // Offset in that queue; for a batch, the offset of the first message.
  int64_t queue_offset = 0;
};

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_SEND_RESULT_H_
