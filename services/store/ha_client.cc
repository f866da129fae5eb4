#include "services/store/ha_client.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "common/tls.h"
#include "glog/logging.h"
#include "services/store/ha_master.h"

namespace mq::store {

namespace {

// The watchdog checks the stream this often (or more often for a short
// housekeeping interval).
constexpr absl::Duration kWatchInterval = absl::Seconds(1);

absl::Status Prefixed(absl::string_view prefix, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

}  // namespace

HaClient::HaClient(CommitLog* log, MetadataStore* metadata,
                   std::function<void(int64_t)> on_appended, ReplicationOptions options)
    : log_(log),
      metadata_(metadata),
      on_appended_(std::move(on_appended)),
      options_(std::move(options)) {
  absl::MutexLock lock(&mu_);
  status_.set_master_address(options_.master_address);
}

HaClient::~HaClient() { Stop(); }

void HaClient::Start() {
  thread_ = std::thread([this] { Run(); });
  watchdog_ = std::thread([this] { Watch(); });
}

void HaClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
  if (watchdog_.joinable()) watchdog_.join();
}

v1::ReplicationStatus HaClient::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void HaClient::Run() {
  std::unique_ptr<v1::Store::Stub> stub = v1::Store::NewStub(
      CreateChannel(options_.master_address, options_.master_tls, options_.credentials));
  absl::Duration backoff = options_.reconnect_backoff_min;
  int failures = 0;
  while (true) {
    bool progressed = false;
    absl::Status status = WithTlsHint(RunStream(stub.get(), &progressed), options_.master_tls);
    {
      absl::MutexLock lock(&mu_);
      status_.set_connected(false);
      if (stopping_) return;
      status_.set_last_error(status.ToString());
    }
    if (status.code() == absl::StatusCode::kFailedPrecondition) {
      LOG(ERROR) << "replication from master " << options_.master_address
                 << " stopped for good: " << status
                 << ". This slave keeps its data as it is and serves reads; an operator must "
                    "empty its data directory (or point it at the right master) and restart it";
      absl::MutexLock lock(&mu_);
      status_.set_stopped(true);
      return;
    }
    if (progressed) {
      backoff = options_.reconnect_backoff_min;
      failures = 0;
    }
    // A master that stays down would otherwise log every few seconds.
    if (failures++ % 12 == 0) {
      LOG(WARNING) << "replication stream to master " << options_.master_address
                   << " ended: " << status << "; reconnecting in " << absl::FormatDuration(backoff);
    }
    absl::MutexLock lock(&mu_);
    auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stop), backoff)) return;
    backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
  }
}

void HaClient::Watch() {
  absl::Duration interval = std::min(kWatchInterval, options_.housekeeping_interval / 4);
  absl::MutexLock lock(&mu_);
  auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop), interval)) {
    if (context_ != nullptr && absl::Now() - last_heard_ > options_.housekeeping_interval) {
      LOG(WARNING) << "master " << options_.master_address << " silent for "
                   << absl::FormatDuration(options_.housekeeping_interval)
                   << "; dropping the replication stream";
      context_->TryCancel();
      last_heard_ = absl::Now();
    }
  }
}

v1::ReplicaHello HaClient::Hello() const {
  v1::ReplicaHello hello;
  hello.set_broker_name(options_.broker_name);
  hello.set_broker_id(options_.broker_id);
  hello.set_commit_log_file_size(log_->file_size());
  int64_t max = log_->MaxOffset();
  int64_t n = TailCheckBytes(log_->MinOffset(), max, log_->file_size());
  // A log without a byte asks for the master's whole log.
  if (n == 0) return hello;
  absl::StatusOr<uint32_t> crc = log_->RangeCrc(max - n, max);
  if (!crc.ok()) {
    // Unreadable own bytes: no check; the master still checks the offsets.
    LOG(ERROR) << "cannot read the end of this slave's commit log: " << crc.status();
    n = 0;
  }
  hello.set_max_offset(max);
  hello.set_tail_check_bytes(n);
  hello.set_tail_crc(crc.ok() ? *crc : 0);
  return hello;
}

absl::Status HaClient::RunStream(v1::Store::Stub* stub, bool* progressed) {
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    context_ = &context;
    last_heard_ = absl::Now();
  }
  std::unique_ptr<grpc::ClientReaderWriter<v1::ReplicaMessage, v1::MasterMessage>> stream =
      stub->Replicate(&context);
  v1::ReplicaMessage hello;
  *hello.mutable_hello() = Hello();
  int64_t start = hello.hello().max_offset();
  // An error of this side ends the stream.
  absl::Status local;
  if (stream->Write(hello)) {
    v1::MasterMessage message;
    while (stream->Read(&message)) {
      {
        absl::MutexLock lock(&mu_);
        last_heard_ = absl::Now();
        if (!status_.connected()) {
          status_.set_connected(true);
          LOG(INFO) << "replicating from master " << options_.master_address
                    << "; this slave's log ends at " << start;
        }
      }
      int64_t ack = -1;
      switch (message.kind_case()) {
        case v1::MasterMessage::kData: {
          const v1::ReplicationData& data = message.data();
          absl::StatusOr<int64_t> end = log_->AppendRaw(data.physical_offset(), data.data());
          if (!end.ok()) {
            local = Prefixed("appending replicated data: ", end.status());
            break;
          }
          *progressed = true;
          if (on_appended_) on_appended_(*end);
          ack = *end;
          absl::MutexLock lock(&mu_);
          status_.set_master_max_offset(data.master_max_offset());
          break;
        }
        case v1::MasterMessage::kHeartbeat: {
          ack = log_->MaxOffset();
          absl::MutexLock lock(&mu_);
          status_.set_master_max_offset(message.heartbeat().master_max_offset());
          break;
        }
        case v1::MasterMessage::kMetadataBatch:
          local = ApplyMetadata(message.metadata_batch());
          break;
        case v1::MasterMessage::kMetadata: {
          v1::MetadataBatch batch;
          *batch.add_entries() = message.metadata();
          local = ApplyMetadata(batch);
          break;
        }
        case v1::MasterMessage::KIND_NOT_SET:
          break;
      }
      if (!local.ok()) break;
      if (ack >= 0) {
        v1::ReplicaMessage reply;
        reply.mutable_ack()->set_acked_offset(ack);
        if (!stream->Write(reply)) break;
      }
    }
  }
  if (!local.ok()) context.TryCancel();
  grpc::Status finished = stream->Finish();
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
  }
  if (!local.ok()) return local;
  if (finished.ok()) return absl::UnavailableError("the master ended the stream");
  return Prefixed("master: ", FromGrpcStatus(finished, context));
}

absl::Status HaClient::ApplyMetadata(const v1::MetadataBatch& batch) {
  std::vector<MetadataStore::Mutation> mutations;
  if (batch.snapshot()) {
    absl::flat_hash_set<std::string> keep;
    for (const v1::MetadataEntry& entry : batch.entries()) keep.insert(entry.key());
    for (MetadataStore::Entry& entry : metadata_->List("")) {
      if (!keep.contains(entry.key)) mutations.push_back({std::move(entry.key), "", true});
    }
  }
  for (const v1::MetadataEntry& entry : batch.entries()) {
    // A snapshot repeats what the slave mostly has already.
    if (batch.snapshot() && !entry.deleted() && metadata_->Get(entry.key()) == entry.value()) {
      continue;
    }
    mutations.push_back({entry.key(), entry.value(), entry.deleted()});
  }
  if (mutations.empty()) return absl::OkStatus();
  absl::Status status = metadata_->Put(mutations);
  if (!status.ok()) return Prefixed("applying replicated metadata: ", status);
  return absl::OkStatus();
}

}  // namespace mq::store
