// The slave side of replication (RocketMQ's HAClient): keeps a Replicate
// stream open to the master's store, appends the commit-log chunks it receives
// at the master's offsets (CommitLog::AppendRaw), applies metadata changes to
// the slave's MetadataStore, and acknowledges its log end after each chunk and
// each heartbeat. See ha_master.h for the protocol.
//
// A broken, refused or silent stream is retried with back-off (1 s doubling
// to 5 s by default). A refusal with FAILED_PRECONDITION (the slave's log
// diverges from the master's) stops replication for good: the slave keeps its
// data untouched, logs the error and reports it in status(); an operator
// decides what to do with the log.
//
// Thread-safety: Start and Stop from one thread; status() from any.
#ifndef MQ_SERVICES_STORE_HA_CLIENT_H_
#define MQ_SERVICES_STORE_HA_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/store.grpc.pb.h"
#include "services/store/commit_log.h"
#include "services/store/metadata_store.h"
#include "services/store/replication_options.h"

namespace mq::store {

class HaClient {
 public:
  // `log` and `metadata` must outlive the client. `on_appended` is called on
  // the client's thread with the new log end after each appended chunk (the
  // store wakes its dispatcher). options.master_address must be set.
  HaClient(CommitLog* log, MetadataStore* metadata, std::function<void(int64_t)> on_appended,
           ReplicationOptions options);
  HaClient(const HaClient&) = delete;
  HaClient& operator=(const HaClient&) = delete;
  ~HaClient();

  // Starts replicating in the background. Call once.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Closes the stream and stops. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  v1::ReplicationStatus status() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Drops the stream when the master has been silent too long.
  void Watch() ABSL_LOCKS_EXCLUDED(mu_);
  // One stream, from the hello to its end. `progressed` is set once a chunk
  // was appended.
  absl::Status RunStream(v1::Store::Stub* stub, bool* progressed) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ApplyMetadata(const v1::MetadataBatch& batch);
  v1::ReplicaHello Hello() const;

  CommitLog* const log_;
  MetadataStore* const metadata_;
  const std::function<void(int64_t)> on_appended_;
  const ReplicationOptions options_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream's context, for Stop and the watchdog to cancel it.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Time last_heard_ ABSL_GUARDED_BY(mu_);
  v1::ReplicationStatus status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  std::thread watchdog_;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_HA_CLIENT_H_
