// The master side of replication (RocketMQ's HAService and HAConnection): it
// serves Replicate streams opened by slave stores. Per stream: check the
// slave's hello (broker group, id > 0, same commit-log file size, and that the
// slave's log is a prefix of this one), send the whole metadata table, then
// stream commit-log chunks from the slave's end as they are written, metadata
// changes as they happen, and heartbeats when idle; the slave's acks feed the
// SlaveAckWaiter that SYNC_MASTER appends wait on.
//
// Stream protocol (store.proto): slave -> ReplicaHello, then ReplicaAcks;
// master -> MetadataBatch (snapshot), then ReplicationData, MetadataBatch and
// ReplicationHeartbeat messages. Refusals end the stream before any message:
// INVALID_ARGUMENT for a bad hello (wrong group, id, file size),
// FAILED_PRECONDITION "slave log diverges from master at offset N: ..." when
// the slave's log is not a prefix of the master's, or when it ends before the
// master's first kept file (it cannot catch up).
//
// Thread-safety: all methods may be called from any thread. Each stream runs
// on its caller's thread (a gRPC handler) plus one thread reading acks.
#ifndef MQ_SERVICES_STORE_HA_MASTER_H_
#define MQ_SERVICES_STORE_HA_MASTER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/repeated_field.h"
#include "proto/store.grpc.pb.h"
#include "services/store/commit_log.h"
#include "services/store/metadata_store.h"
#include "services/store/replication_options.h"
#include "services/store/slave_ack_waiter.h"

namespace mq::store {

using ReplicaStream = grpc::ServerReaderWriter<v1::MasterMessage, v1::ReplicaMessage>;

// How many bytes before a log's end the hello's divergence check covers.
inline constexpr int64_t kTailCheckBytes = 4096;

// The divergence-check range of a log that ends at `max_offset` and starts at
// `min_offset`: the last kTailCheckBytes bytes, or fewer, so they stay in the
// file holding byte max_offset - 1. 0 for a log without bytes.
int64_t TailCheckBytes(int64_t min_offset, int64_t max_offset, int64_t file_size);

class HaMaster {
 public:
  // `log` and `metadata` must outlive the master.
  HaMaster(CommitLog* log, MetadataStore* metadata, ReplicationOptions options);
  HaMaster(const HaMaster&) = delete;
  HaMaster& operator=(const HaMaster&) = delete;
  ~HaMaster();

  // Serves one slave's stream until the slave leaves, the stream breaks or
  // goes silent, or Stop(). Returns the status for the slave.
  grpc::Status Serve(grpc::ServerContext* context, ReplicaStream* stream) ABSL_LOCKS_EXCLUDED(mu_);

  // The store appended records ending at `end_offset` (called after they are
  // published): wakes the streams.
  void NotifyAppended(int64_t end_offset) ABSL_LOCKS_EXCLUDED(mu_);
  // The metadata table changed (after the change is durable): queues the
  // entries for every stream. Call in the order the changes were applied.
  void NotifyMetadataChanged(const google::protobuf::RepeatedPtrField<v1::MetadataEntry>& entries)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every stream, releases every waiting append, and refuses new streams
  // (UNAVAILABLE). Returns once every stream has ended. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  SlaveAckWaiter& acks() { return acks_; }
  // The connected slaves and how far each acknowledged.
  std::vector<v1::SlaveProgress> Slaves() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Session;

  // Checks the hello; returns where the slave's stream starts.
  absl::StatusOr<int64_t> Handshake(const v1::ReplicaHello& hello) const;
  // Streams to one slave until it ends; the reader thread runs alongside.
  absl::Status StreamTo(Session* session, ReplicaStream* stream, int64_t start)
      ABSL_LOCKS_EXCLUDED(mu_);
  void ReadAcks(Session* session, ReplicaStream* stream) ABSL_LOCKS_EXCLUDED(mu_);

  CommitLog* const log_;
  MetadataStore* const metadata_;
  const ReplicationOptions options_;
  SlaveAckWaiter acks_;

  mutable absl::Mutex mu_;
  // The highest end offset an append reported.
  int64_t appended_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_session_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, Session*> sessions_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_HA_MASTER_H_
