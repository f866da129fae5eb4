// Settings of master-to-slave replication (RocketMQ's HA), for both ends of
// the Replicate stream: the master side (HaMaster) and the slave side
// (HaClient).
#ifndef MQ_SERVICES_STORE_REPLICATION_OPTIONS_H_
#define MQ_SERVICES_STORE_REPLICATION_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "common/acl/signature.h"
#include "common/grpc_options.h"
#include "common/tls.h"
#include "common/units.h"
#include "services/store/slave_ack_waiter.h"

namespace mq::store {

// RocketMQ's haTransferBatchSize is 32 KiB over a raw socket; gRPC messages
// carry a per-message cost, so chunks are larger here.
inline constexpr int64_t kDefaultTransferBatchBytes = 1_MiB;
// Chunks stay well under the gRPC message limit (common/grpc_options.h), with
// room for one record of the largest size past the batch size.
inline constexpr int64_t kMaxTransferBatchBytes = 16_MiB;

struct ReplicationOptions {
  // The broker group. A master accepts only slaves that name its group; empty
  // on a master accepts any.
  std::string broker_name;
  // This store's broker id: 0 on a master, > 0 on a slave.
  int64_t broker_id = 0;
  // SLAVE: "host:port" of the master's store. Empty: the slave does not
  // replicate (it only serves what it has).
  std::string master_address;
  // How the slave dials it (plaintext by default).
  ClientTls master_tls;
  // The cluster identity a slave's stream is signed with (access control);
  // empty: unsigned.
  acl::Credentials credentials;
  // SYNC_MASTER: how long an append waits for a slave, and how far the best
  // slave may lag before appends stop waiting (slaveTimeout,
  // haSlaveFallbehindMax).
  SlaveAckWaiterOptions ack;
  // Most bytes of commit log per stream message (one record may exceed it).
  int64_t transfer_batch_bytes = kDefaultTransferBatchBytes;
  // An idle master sends a heartbeat this often, and the slave answers with an
  // ack (haSendHeartbeatInterval).
  absl::Duration heartbeat_interval = absl::Seconds(5);
  // Either side drops a stream on which it heard nothing for this long
  // (haHousekeepingInterval).
  absl::Duration housekeeping_interval = absl::Seconds(20);
  // A slave reconnects after a failed or broken stream after this delay,
  // doubling up to the maximum (RocketMQ retries every 5 s; ours resumes
  // within about a second of the master's return, as every channel does).
  absl::Duration reconnect_backoff_min = absl::Milliseconds(100);
  absl::Duration reconnect_backoff_max = kMaxReconnectBackoff;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_REPLICATION_OPTIONS_H_
