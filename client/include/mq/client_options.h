// Settings of the client instance that producers and consumers share.
#ifndef MQ_CLIENT_INCLUDE_MQ_CLIENT_OPTIONS_H_
#define MQ_CLIENT_INCLUDE_MQ_CLIENT_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace mq {

// Producers and consumers of one process with the same client id
// ("client_ip@instance_name") share one client instance: its gRPC channels,
// route table, scheduled route refresh and heartbeats. The first one to start
// creates the instance with its ClientOptions; a later one with the same client
// id but other name servers fails to start (use another instance_name).
// TLS to the name servers and brokers (their ports in --tls_mode=enforcing,
// or a --tls_port). Plaintext unless `enabled`.
struct TlsOptions {
  bool enabled = false;
  // PEM bundle of the CAs the servers' certificates must chain to; empty:
  // the system's roots.
  std::string ca_file;
  // This client's certificate chain and key (PEM), for servers that ask for
  // one (--tls_client_auth); both or neither.
  std::string cert_file;
  std::string key_file;
  // false: the servers' certificates are not checked (encryption only, as
  // RocketMQ 5's Java, Go and C++ clients do by default).
  bool verify_server = true;
};

struct ClientOptions {
  // "host:port" of every name server. Empty: the NAMESRV_ADDR environment
  // variable, as "host:port;host:port".
  std::vector<std::string> name_server_addresses;
  // Empty: the process id.
  std::string instance_name;
  // Empty: the first non-loopback IPv4 address of this host (else 127.0.0.1).
  std::string client_ip;
  // How often the routes of every topic in use are refreshed.
  absl::Duration poll_name_server_interval = absl::Seconds(30);
  // How often offline brokers are dropped and heartbeats sent to every broker.
  absl::Duration heartbeat_broker_interval = absl::Seconds(30);
  // Deadline of each route query, heartbeat and unregistration RPC.
  absl::Duration api_timeout = absl::Seconds(3);
  TlsOptions tls;
  // Access control: every call is signed with this user's keys (see the
  // README's "Access control"). Empty access key: calls are not signed.
  std::string access_key;
  std::string secret_key;
  // Coalescing of sends (as RocketMQ 5's autoBatch or Kafka's batching):
  // sends to one broker (sync, async, oneway, batches; any topic and queue)
  // that queue on one of its send streams while the stream's previous frame
  // is being written or awaits its answer travel as one frame, which the
  // broker stores with one append. Each send keeps its own result, status,
  // retries, deadline and callback. A send to an idle stream is written at
  // once (no linger). false: one frame per send.
  bool coalesce_sends = true;
  // Largest coalesced frame, in bytes (a single send bigger than this still
  // goes, alone). Under the broker's 4 MiB limit on a request.
  int64_t coalesce_max_bytes = 1 << 20;
  // Frames of a send stream written and not yet answered before the next
  // frame waits (collecting the sends that queue meanwhile); 0: no limit
  // (frames are then only collected while the previous one is being
  // written). Only with coalesce_sends.
  int coalesce_max_frames_in_flight = 1;
};

// Life cycle of producers, consumers and client instances:
// kCreateJust -> Start() -> kRunning (or kStartFailed) -> Shutdown() -> kShutdownAlready.
enum class ServiceState { kCreateJust, kRunning, kStartFailed, kShutdownAlready };

// "CREATE_JUST", "RUNNING", "START_FAILED", "SHUTDOWN_ALREADY".
const char* ServiceStateName(ServiceState state);

}  // namespace mq

#endif  // MQ_CLIENT_INCLUDE_MQ_CLIENT_OPTIONS_H_
