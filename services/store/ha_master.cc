#include "services/store/ha_master.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "glog/logging.h"

namespace mq::store {

namespace {

// How long Stop() waits for the streams to end after cancelling them.
constexpr absl::Duration kStopWait = absl::Seconds(10);

}  // namespace

int64_t TailCheckBytes(int64_t min_offset, int64_t max_offset, int64_t file_size) {
  if (max_offset <= min_offset) return 0;
  int64_t last_file_start = (max_offset - 1) - (max_offset - 1) % file_size;
  return std::min(kTailCheckBytes, max_offset - last_file_start);
}

// One slave's stream. Lives on the stack of Serve; registered in sessions_
// while it runs.
struct HaMaster::Session {
  HaMaster* master;
  int64_t id = 0;
  int64_t broker_id = 0;
  std::string address;
  grpc::ServerContext* context = nullptr;
  int64_t acked ABSL_GUARDED_BY(master->mu_) = 0;
  absl::Time last_heard ABSL_GUARDED_BY(master->mu_);
  // Metadata changes not yet sent, latest value per key.
  std::map<std::string, v1::MetadataEntry> pending_metadata ABSL_GUARDED_BY(master->mu_);
  // Everything below this offset was handed to the stream.
  int64_t sent ABSL_GUARDED_BY(master->mu_) = 0;
  // The slave closed its side, the stream broke, or the slave broke the
  // protocol (`reader_error`).
  bool reader_done ABSL_GUARDED_BY(master->mu_) = false;
  absl::Status reader_error ABSL_GUARDED_BY(master->mu_);
};

HaMaster::HaMaster(CommitLog* log, MetadataStore* metadata, ReplicationOptions options)
    : log_(log), metadata_(metadata), options_(std::move(options)), acks_(options_.ack) {
  absl::MutexLock lock(&mu_);
  appended_ = log_->MaxOffset();
}

HaMaster::~HaMaster() { Stop(); }

absl::StatusOr<int64_t> HaMaster::Handshake(const v1::ReplicaHello& hello) const {
  if (hello.broker_id() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("a slave needs a broker id > 0, got ", hello.broker_id()));
  }
  if (!options_.broker_name.empty() && hello.broker_name() != options_.broker_name) {
    return absl::InvalidArgumentError(
        absl::StrCat("a slave of broker group \"", hello.broker_name(),
                     "\" cannot replicate from the master of \"", options_.broker_name, "\""));
  }
  if (hello.commit_log_file_size() != log_->file_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the slave's commit-log file size ", hello.commit_log_file_size(),
        " differs from the master's ", log_->file_size(), "; both must roll files alike"));
  }
  const int64_t slave_end = hello.max_offset();
  const int64_t min = log_->MinOffset();
  const int64_t max = log_->MaxOffset();
  // An empty slave copies everything the master still has.
  if (slave_end == 0) return min;
  if (slave_end > max) {
    return absl::FailedPreconditionError(absl::StrCat("slave log diverges from master at offset ",
                                                      max, ": the slave's log ends at ", slave_end,
                                                      ", past the master's end ", max));
  }
  if (slave_end < min) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the slave's log ends at offset ", slave_end, ", before the master's first kept offset ",
        min,
        " (deleted by retention): the slave cannot catch up; empty its data directory to "
        "copy the master's log anew"));
  }
  const int64_t n = hello.tail_check_bytes();
  if (n < 0 || n > kTailCheckBytes || n > slave_end ||
      (n > 0 && (slave_end - n) / log_->file_size() != (slave_end - 1) / log_->file_size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad divergence check range of ", n, " bytes before offset ", slave_end));
  }
  if (n > 0 && slave_end - n >= min) {
    absl::StatusOr<uint32_t> crc = log_->RangeCrc(slave_end - n, slave_end);
    if (!crc.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("slave log diverges from master at offset ", slave_end - n,
                       ": the master cannot read its own bytes there: ", crc.status().message()));
    }
    if (*crc != hello.tail_crc()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "slave log diverges from master at offset %d: the %d bytes before the slave's end %d "
          "differ (CRC %08x on the slave, %08x on the master); the slave's log is not a copy of "
          "this master's",
          slave_end - n, n, slave_end, hello.tail_crc(), *crc));
    }
  } else if (n > 0) {
    LOG(WARNING) << "cannot verify the slave's log end " << slave_end
                 << ": the master's bytes before it were deleted by retention";
  }
  if (slave_end < max && log_->ReadNext(slave_end).kind == LogEntryKind::kCorrupt) {
    return absl::FailedPreconditionError(
        absl::StrCat("slave log diverges from master at offset ", slave_end,
                     ": the slave's log ends inside a record of the master's"));
  }
  return slave_end;
}

grpc::Status HaMaster::Serve(grpc::ServerContext* context, ReplicaStream* stream) {
  v1::ReplicaMessage first;
  if (!stream->Read(&first)) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("the stream ended, or its first message could not be parsed, "
                                   "before the slave's hello"),
        context);
  }
  if (!first.has_hello()) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("the first message of a replication stream must be a hello"),
        context);
  }
  const v1::ReplicaHello& hello = first.hello();
  absl::StatusOr<int64_t> start = Handshake(hello);
  if (!start.ok()) {
    LOG(WARNING) << "refusing slave " << hello.broker_name() << "/" << hello.broker_id() << " at "
                 << context->peer() << ": " << start.status();
    return ToGrpcStatus(start.status(), context);
  }

  Session session;
  session.master = this;
  session.broker_id = hello.broker_id();
  session.address = context->peer();
  session.context = context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      return ToGrpcStatus(absl::UnavailableError("the master store is stopping"), context);
    }
    session.id = next_session_++;
    session.acked = hello.max_offset();
    session.sent = *start;
    session.last_heard = absl::Now();
    sessions_[session.id] = &session;
  }
  acks_.AddSlave(session.id, hello.max_offset());
  LOG(INFO) << "slave " << hello.broker_name() << "/" << hello.broker_id() << " at "
            << session.address << " connected; its log ends at " << hello.max_offset()
            << ", streaming from offset " << *start << " (master log ends at " << log_->MaxOffset()
            << ")";

  absl::Status status = StreamTo(&session, stream, *start);

  acks_.RemoveSlave(session.id);
  int64_t acked;
  {
    absl::MutexLock lock(&mu_);
    sessions_.erase(session.id);
    acked = session.acked;
  }
  LOG(INFO) << "slave " << hello.broker_name() << "/" << hello.broker_id() << " at "
            << session.address << " disconnected at acked offset " << acked << ": " << status;
  return ToGrpcStatus(status, context);
}

absl::Status HaMaster::StreamTo(Session* session, ReplicaStream* stream, int64_t start) {
  std::thread reader([this, session, stream] { ReadAcks(session, stream); });
  absl::Status status;
  auto write = [&](const v1::MasterMessage& message) {
    if (!stream->Write(message)) status = absl::UnavailableError("the slave went away");
    return status.ok();
  };

  v1::MasterMessage snapshot;
  snapshot.mutable_metadata_batch()->set_snapshot(true);
  for (MetadataStore::Entry& entry : metadata_->List("")) {
    v1::MetadataEntry* out = snapshot.mutable_metadata_batch()->add_entries();
    out->set_key(std::move(entry.key));
    out->set_value(std::move(entry.value));
  }
  absl::Time last_write = absl::Now();
  write(snapshot);

  int64_t next = start;
  while (status.ok()) {
    std::map<std::string, v1::MetadataEntry> pending;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        status = absl::UnavailableError("the master store is stopping");
        break;
      }
      if (session->reader_done) {
        status = session->reader_error.ok() ? absl::CancelledError("the slave closed the stream")
                                            : session->reader_error;
        break;
      }
      if (absl::Now() - session->last_heard > options_.housekeeping_interval) {
        status = absl::DeadlineExceededError(absl::StrCat(
            "no ack from the slave for ", absl::FormatDuration(options_.housekeeping_interval)));
        break;
      }
      pending.swap(session->pending_metadata);
    }
    if (!pending.empty()) {
      v1::MasterMessage message;
      for (auto& [key, entry] : pending) {
        *message.mutable_metadata_batch()->add_entries() = std::move(entry);
      }
      if (!write(message)) break;
      last_write = absl::Now();
    }

    absl::StatusOr<LogChunk> chunk = log_->ReadChunk(next, options_.transfer_batch_bytes);
    if (!chunk.ok()) {
      status = chunk.status();
      break;
    }
    if (!chunk->data.empty()) {
      v1::MasterMessage message;
      v1::ReplicationData* data = message.mutable_data();
      data->set_physical_offset(next);
      data->set_data(chunk->data.data(), chunk->data.size());
      data->set_master_max_offset(log_->MaxOffset());
      next += static_cast<int64_t>(chunk->data.size());
      {
        // Before the write: the slave may ack the chunk before Write returns.
        absl::MutexLock lock(&mu_);
        session->sent = next;
      }
      if (!write(message)) break;
      last_write = absl::Now();
      continue;
    }

    {
      absl::MutexLock lock(&mu_);
      auto ready = [this, session, next]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || session->reader_done || appended_ > next ||
               !session->pending_metadata.empty();
      };
      absl::Duration wait =
          std::max(absl::ZeroDuration(), last_write + options_.heartbeat_interval - absl::Now());
      mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
    }
    if (absl::Now() - last_write >= options_.heartbeat_interval) {
      v1::MasterMessage heartbeat;
      heartbeat.mutable_heartbeat()->set_master_max_offset(log_->MaxOffset());
      if (!write(heartbeat)) break;
      last_write = absl::Now();
    }
  }
  // Unblocks the reader's Read (and any Write still pending on the stream).
  session->context->TryCancel();
  reader.join();
  return status;
}

void HaMaster::ReadAcks(Session* session, ReplicaStream* stream) {
  v1::ReplicaMessage message;
  while (stream->Read(&message)) {
    absl::MutexLock lock(&mu_);
    session->last_heard = absl::Now();
    if (!message.has_ack()) continue;
    const int64_t offset = message.ack().acked_offset();
    // An ack of bytes never sent would let SYNC_MASTER appends return without
    // a copy (RocketMQ issue #3015): drop such a slave.
    if (offset > session->sent) {
      session->reader_error = absl::InvalidArgumentError(absl::StrCat(
          "the slave acknowledged offset ", offset, " but was sent only up to ", session->sent));
      break;
    }
    session->acked = std::max(session->acked, offset);
    acks_.OnAck(session->id, offset);
  }
  absl::MutexLock lock(&mu_);
  session->reader_done = true;
}

void HaMaster::NotifyAppended(int64_t end_offset) {
  absl::MutexLock lock(&mu_);
  appended_ = std::max(appended_, end_offset);
}

void HaMaster::NotifyMetadataChanged(
    const google::protobuf::RepeatedPtrField<v1::MetadataEntry>& entries) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, session] : sessions_) {
    for (const v1::MetadataEntry& entry : entries) session->pending_metadata[entry.key()] = entry;
  }
}

void HaMaster::Stop() {
  acks_.Stop();
  absl::MutexLock lock(&mu_);
  if (!stopping_) {
    stopping_ = true;
    for (auto& [id, session] : sessions_) session->context->TryCancel();
  }
  auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sessions_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ended), kStopWait)) {
    LOG(ERROR) << sessions_.size() << " replication streams did not end within "
               << absl::FormatDuration(kStopWait);
  }
}

std::vector<v1::SlaveProgress> HaMaster::Slaves() const {
  std::vector<v1::SlaveProgress> slaves;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, session] : sessions_) {
    v1::SlaveProgress& progress = slaves.emplace_back();
    progress.set_broker_id(session->broker_id);
    progress.set_address(session->address);
    progress.set_acked_offset(session->acked);
  }
  return slaves;
}

}  // namespace mq::store
