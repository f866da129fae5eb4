// Starting the project's server binaries (name server, store, broker, or all
// three in the standalone server) with the flags tests use (loopback, port 0,
// the small store sizes of tools/small_store.flags, quick shutdown), and small
// helpers around a running cluster: topics, routes, a store's files and stats. The binaries must be
// in the test's (or tool's) runfiles.
#ifndef MQ_TESTING_CLUSTER_PROCESSES_H_
#define MQ_TESTING_CLUSTER_PROCESSES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls.h"
#include "proto/store.grpc.pb.h"
#include "testing/server_process.h"

namespace mq::testing {

// The name server, with `extra` flags (e.g. a short --broker_expiry).
absl::StatusOr<std::unique_ptr<ServerProcess>> StartNamesrv(
    const std::vector<std::string>& extra = {});

// A store of broker group "broker-a" on `data_dir`, with commit-log files of
// `file_size` bytes and the small consume-queue and index files of
// tools/small_store.flags; `extra` adds or
// overrides flags (--role, --broker_id, --master_address, ...).
absl::StatusOr<std::unique_ptr<ServerProcess>> StartStore(const std::string& name,
                                                          const std::string& data_dir,
                                                          int64_t file_size,
                                                          const std::vector<std::string>& extra);

// A broker of group "broker-a" over the store at `store_address`, registering
// with `namesrv_address`; `extra` adds flags (--role, --broker_id, ...).
absl::StatusOr<std::unique_ptr<ServerProcess>> StartBroker(const std::string& name,
                                                           const std::string& store_address,
                                                           const std::string& namesrv_address,
                                                           const std::vector<std::string>& extra);

// Broker groups named `groups` (per group a store and a master broker, its
// --broker_name the group's name), registering with `namesrv_address`; each
// store's data in `data_dir`/<group>, commit-log files of `file_size` bytes;
// `broker_extra` adds flags to every broker. Index i of both lists is group i.
struct BrokerGroups {
  std::vector<std::unique_ptr<ServerProcess>> stores;
  std::vector<std::unique_ptr<ServerProcess>> brokers;
};
absl::StatusOr<BrokerGroups> StartBrokerGroups(const std::vector<std::string>& groups,
                                               const std::string& namesrv_address,
                                               const std::string& data_dir, int64_t file_size,
                                               const std::vector<std::string>& broker_extra = {});

// The standalone server (name server + broker "broker-a" + store) on a
// loopback port over `data_dir`, with the small files of
// tools/small_store.flags; `extra` adds flags.
absl::StatusOr<std::unique_ptr<ServerProcess>> StartStandalone(
    const std::string& data_dir, const std::vector<std::string>& extra = {});

// CreateOrUpdateTopic on the broker at `broker_address`: `queue_nums` read and
// write queues, read-write permission. Dialed as `tls` says, as are the
// helpers below.
absl::Status CreateTopic(const std::string& broker_address, const std::string& topic,
                         int queue_nums, const ClientTls& tls = {});

// Waits until the name server's route of `topic` names `broker_groups` broker
// groups (brokers register a new topic at once, asynchronously).
absl::Status WaitForRoute(const std::string& namesrv_address, const std::string& topic,
                          int broker_groups, absl::Duration timeout = absl::Seconds(20),
                          const ClientTls& tls = {});

// GetStats of the store at `address`.
absl::StatusOr<store::v1::GetStatsResponse> StoreStats(const std::string& address,
                                                       const ClientTls& tls = {});

// OK when the commit logs of two data directories have the same files below
// offset `end`, byte-identical below `end`; otherwise an error naming the
// first difference.
absl::Status CompareCommitLogs(const std::string& dir_a, const std::string& dir_b, int64_t end);

}  // namespace mq::testing

#endif  // MQ_TESTING_CLUSTER_PROCESSES_H_
