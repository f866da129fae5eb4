#include "services/store/commit_log.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/format/big_endian.h"
#include "common/format/crc32.h"
#include "glog/logging.h"

namespace mq::store {
namespace {

// RocketMQ's recoverNormally starts this many files from the end.
constexpr int kNormalRecoveryFiles = 3;

MappedFileQueueOptions QueueOptions(const CommitLogOptions& options) {
  MappedFileQueueOptions queue_options;
  queue_options.dir = options.dir;
  queue_options.file_size = options.file_size;
  queue_options.allocator = options.allocator;
  queue_options.refuse_gaps = true;
  return queue_options;
}

bool TakesQueueOffset(int32_t sys_flag) {
  int32_t type = sys_flag & format::kSysFlagTransactionTypeMask;
  return type != format::kSysFlagTransactionPreparedType &&
         type != format::kSysFlagTransactionRollbackType;
}

// The length of `data` up to its last non-zero byte: how much of the rest of
// a file holds anything. Compares whole pages against zeros for speed, as the
// rest of a file may be a gigabyte.
int64_t DirtyPrefixBytes(absl::string_view data) {
  static const char kZeros[kOsPageSizeBytes] = {};
  size_t end = data.size();
  while (end > 0) {
    size_t chunk = std::min<size_t>(end, kOsPageSizeBytes);
    if (std::memcmp(data.data() + end - chunk, kZeros, chunk) != 0) break;
    end -= chunk;
  }
  while (end > 0 && data[end - 1] == '\0') --end;
  return static_cast<int64_t>(end);
}

}  // namespace

CommitLog::CommitLog(CommitLogOptions options)
    : options_(std::move(options)), queue_(QueueOptions(options_)) {}

absl::Status CommitLog::Load() { return queue_.Load(); }

absl::StatusOr<int64_t> CommitLog::Recover(int64_t start_file_offset, bool check_crc) {
  return Recover(start_file_offset, check_crc, [](int64_t, const format::MessageRecord&) {});
}

absl::StatusOr<int64_t> CommitLog::Recover(
    int64_t start_file_offset, bool check_crc,
    absl::FunctionRef<void(int64_t offset, const format::MessageRecord& record)> visitor) {
  int64_t offset = std::max(start_file_offset, queue_.MinOffset());
  int64_t records = 0;
  while (true) {
    std::shared_ptr<MappedFile> file = queue_.FindFileByOffset(offset);
    if (file == nullptr) break;
    int64_t pos = offset - file->start_offset();
    format::DecodedRecord decoded =
        format::DecodeRecord(file->Read(pos, file->file_size() - pos), check_crc);
    if (decoded.kind == format::RecordKind::kBlank) {
      offset = file->end_offset();
      continue;
    }
    if (decoded.kind == format::RecordKind::kMessage && decoded.message.physical_offset != offset) {
      decoded.kind = format::RecordKind::kCorrupt;
      decoded.error = "physical offset field does not match the record's position";
    }
    if (decoded.kind == format::RecordKind::kCorrupt) {
      absl::string_view rest = file->Read(pos, file->file_size() - pos);
      int64_t dirty = DirtyPrefixBytes(rest);
      if (dirty == 0) {
        LOG(INFO) << "commit log " << options_.dir << " ends at offset " << offset;
      } else {
        LOG(WARNING) << "commit log " << options_.dir << ": cutting " << dirty
                     << " bytes of torn or corrupt data at offset " << offset << " ("
                     << file->path() << " position " << pos << "): " << decoded.error;
      }
      break;
    }
    visitor(offset, decoded.message);
    offset += decoded.size;
    ++records;
  }
  int64_t files_after = 0;
  for (const auto& file : queue_.Files()) files_after += file->start_offset() > offset ? 1 : 0;
  if (files_after > 0) {
    LOG(WARNING) << "commit log " << options_.dir << ": deleting " << files_after
                 << " file(s) past the valid end " << offset;
  }
  absl::Status truncated = queue_.TruncateDirtyFiles(offset);
  if (!truncated.ok()) return truncated;
  queue_.SetFlushedOffset(offset);
  {
    absl::MutexLock lock(&put_mu_);
    current_file_ = nullptr;
  }
  LOG(INFO) << "commit log " << options_.dir << " recovered " << records << " records from "
            << start_file_offset << "; valid end " << offset;
  return offset;
}

int64_t CommitLog::NormalRecoveryStartOffset() const {
  std::vector<std::shared_ptr<MappedFile>> files = queue_.Files();
  if (files.empty()) return 0;
  size_t index = files.size() > kNormalRecoveryFiles ? files.size() - kNormalRecoveryFiles : 0;
  return files[index]->start_offset();
}

bool CommitLog::Validate(const format::MessageRecord& message, AppendResult* result) const {
  if (static_cast<int64_t>(message.properties.size()) > format::kMaxPropertiesBytes) {
    result->status = AppendStatus::kPropertiesSizeExceeded;
    result->error =
        absl::StrCat("encoded properties of ", message.properties.size(),
                     " bytes are over the limit of ", format::kMaxPropertiesBytes, " bytes");
    return false;
  }
  absl::Status status = format::ValidateRecordLimits(message, options_.max_message_body_bytes);
  if (status.ok() &&
      format::RecordSize(message) + format::kBlankMarkerMinBytes > options_.file_size) {
    status = absl::InvalidArgumentError(absl::StrCat("record of ", format::RecordSize(message),
                                                     " bytes does not fit in a commit-log file of ",
                                                     options_.file_size, " bytes"));
  }
  if (!status.ok()) {
    result->status = AppendStatus::kMessageIllegal;
    result->error = std::string(status.message());
    return false;
  }
  return true;
}

bool CommitLog::FitsInCurrentFile(int64_t size) const {
  return current_file_ != nullptr &&
         current_file_->remaining() - static_cast<int64_t>(staged_.size()) >=
             size + format::kBlankMarkerMinBytes;
}

absl::Status CommitLog::EnsureRoom(int64_t size) {
  if (FitsInCurrentFile(size)) return absl::OkStatus();
  CHECK(staged_.empty()) << "records staged for a file about to be closed";
  if (current_file_ != nullptr && !current_file_->IsFull()) {
    // Every record leaves room for a marker, so the rest is at least 8 bytes.
    int64_t rest = current_file_->remaining();
    CHECK_GE(rest, format::kBlankMarkerMinBytes) << current_file_->path();
    char marker[format::kBlankMarkerMinBytes];
    format::EncodeBlankMarker(static_cast<int32_t>(rest), marker);
    if (absl::Status s = current_file_->Write(absl::string_view(marker, sizeof(marker))); !s.ok()) {
      RefuseAppends(absl::StrCat("writing the commit log failed: ", s.message()));
      return s;
    }
    // The file's bytes past the marker are zeros already (never written).
    current_file_->AdvanceWritePosition(rest - format::kBlankMarkerMinBytes);
  }
  absl::StatusOr<std::shared_ptr<MappedFile>> file = queue_.GetOrCreateLastFile(queue_.MaxOffset());
  if (!file.ok()) return file.status();
  current_file_ = *std::move(file);
  if (current_file_->remaining() < size + format::kBlankMarkerMinBytes) {
    return EnsureRoom(size);
  }
  return absl::OkStatus();
}

absl::Status CommitLog::WriteStaged() {
  if (staged_.empty()) return absl::OkStatus();
  if (staged_.size() < options_.write_through_bytes) {
    // A few pages: a copy into the mapping (a syscall inside the append lock
    // costs the concurrent appenders more than the page faults it saves).
    std::memcpy(current_file_->WritableTail().data(), staged_.data(), staged_.size());
    current_file_->AdvanceWritePosition(static_cast<int64_t>(staged_.size()));
    staged_.clear();
    return absl::OkStatus();
  }
  absl::Status written = current_file_->Write(staged_);
  staged_.clear();
  if (!written.ok())
    RefuseAppends(absl::StrCat("writing the commit log failed: ", written.message()));
  return written;
}

std::vector<AppendResult> CommitLog::AppendBatch(absl::Span<const format::MessageRecord> messages) {
  std::vector<AppendResult> results(messages.size());
  if (refusing_.load(std::memory_order_acquire)) {
    std::string reason;
    {
      absl::MutexLock lock(&refuse_mu_);
      reason = refuse_reason_;
    }
    for (AppendResult& result : results) {
      result.status = AppendStatus::kServiceNotAvailable;
      result.error = absl::StrCat("the store refuses writes: ", reason);
    }
    return results;
  }
  // Validation and the CRC of the bulk of each record happen before the lock,
  // in the caller's thread, so concurrent appenders do them in parallel.
  absl::InlinedVector<uint32_t, 16> tail_crcs(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    if (Validate(messages[i], &results[i])) tail_crcs[i] = format::RecordTailCrc(messages[i]);
  }

  absl::MutexLock lock(&put_mu_);
  // One timestamp per batch: the batch is stored at one instant.
  const int64_t now_ms = absl::GetCurrentTimeNanos() / 1000000;
  // Indexes of the staged records, which a failed write fails.
  absl::InlinedVector<size_t, 16> staged_records;
  auto write_staged = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(put_mu_) {
    if (staged_records.empty()) return;
    absl::Status written = WriteStaged();
    if (written.ok()) {
      current_file_->set_store_timestamp_ms(now_ms);
      staged_records.clear();
      append_failures_.Success();
      return;
    }
    append_failures_.Failure(written);
    // Nothing of them is in the log: their queue offsets go back (they were
    // the last ones taken), so appends accepted again later stay dense.
    for (auto it = staged_records.rbegin(); it != staged_records.rend(); ++it) {
      AppendResult& failed = results[*it];
      failed.status = AppendStatus::kServiceNotAvailable;
      failed.error = absl::StrCat("writing the commit log failed: ", written.message());
      if (TakesQueueOffset(messages[*it].sys_flag)) {
        queue_offsets_.find(QueueKeyView{messages[*it].topic, messages[*it].queue_id})->second -= 1;
      }
    }
    staged_records.clear();
  };
  // Appends refused mid-batch (a failed write, a disk-full check): fails the
  // records not yet staged (an OK result without a size).
  auto refused = [&]() {
    if (!refusing_.load(std::memory_order_acquire)) return false;
    absl::MutexLock refuse_lock(&refuse_mu_);
    for (AppendResult& r : results) {
      if (r.status == AppendStatus::kOk && r.size == 0) {
        r.status = AppendStatus::kServiceNotAvailable;
        r.error = absl::StrCat("the store refuses writes: ", refuse_reason_);
      }
    }
    return true;
  };
  for (size_t i = 0; i < messages.size(); ++i) {
    AppendResult& result = results[i];
    if (result.status != AppendStatus::kOk) continue;
    format::MessageRecord record = messages[i];
    const int64_t size = format::RecordSize(record);
    // The record goes to another file: the staged ones go to this one first.
    if (!FitsInCurrentFile(size)) write_staged();
    if (refused()) break;
    absl::Status room = EnsureRoom(size);
    if (!room.ok()) {
      result.status = AppendStatus::kCreateMappedFileFailed;
      result.error = absl::StrCat("no commit-log file for the record: ", room.message());
      append_failures_.Failure(room);
      continue;
    }
    record.physical_offset = current_file_->start_offset() + current_file_->write_position() +
                             static_cast<int64_t>(staged_.size());
    record.store_timestamp_ms = now_ms;
    record.queue_offset = 0;
    if (TakesQueueOffset(record.sys_flag)) {
      auto it = queue_offsets_.find(QueueKeyView{record.topic, record.queue_id});
      if (it == queue_offsets_.end()) {
        it = queue_offsets_
                 .emplace(QueueKey{std::string(record.topic), record.queue_id}, QueueOffset(0))
                 .first;
      }
      record.queue_offset = it->second.value();
      it->second += 1;
    }
    const size_t at = staged_.size();
    staged_.resize(at + static_cast<size_t>(size));
    format::EncodeRecord(record, tail_crcs[i], staged_.data() + at);
    staged_records.push_back(i);
    result.physical_offset = PhysicalOffset(record.physical_offset);
    result.queue_offset = QueueOffset(record.queue_offset);
    result.size = static_cast<int32_t>(size);
    result.store_timestamp_ms = now_ms;
  }
  write_staged();
  return results;
}

absl::StatusOr<RecordRef> CommitLog::ReadRecord(int64_t physical_offset, bool check_crc) const {
  LogEntry entry = ReadNext(physical_offset, check_crc);
  switch (entry.kind) {
    case LogEntryKind::kRecord:
      return std::move(entry.record);
    case LogEntryKind::kNoMoreData:
      return absl::NotFoundError(absl::StrCat("commit-log offset ", physical_offset,
                                              " is at or past the end ", MaxOffset()));
    case LogEntryKind::kNextFile:
      if (physical_offset < MinOffset()) {
        return absl::NotFoundError(absl::StrCat("commit-log offset ", physical_offset,
                                                " was deleted; the log starts at ", MinOffset()));
      }
      return absl::InvalidArgumentError(absl::StrCat("no message at commit-log offset ",
                                                     physical_offset, " (end-of-file marker)"));
    case LogEntryKind::kCorrupt:
      break;
  }
  return absl::DataLossError(absl::StrCat("no valid record at commit-log offset ", physical_offset,
                                          ": ", entry.record.record.error));
}

namespace {

// OK if `copy` is a message record of exactly `size` bytes whose CRC holds
// (nothing damaged is served, in any form), DATA_LOSS naming what is there if
// not.
absl::Status CheckCopiedRecord(absl::string_view copy, int32_t size, int64_t physical_offset) {
  format::DecodedRecord decoded = format::DecodeRecord(copy, /*check_crc=*/true);
  if (decoded.kind == format::RecordKind::kMessage && decoded.size == size) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("no ", size, "-byte record at commit-log offset ", physical_offset, ": ",
                   decoded.kind == format::RecordKind::kMessage
                       ? absl::StrCat("the record there is ", decoded.size, " bytes")
                       : (decoded.kind == format::RecordKind::kBlank ? "an end-of-file marker"
                                                                     : decoded.error)));
}

}  // namespace

absl::StatusOr<std::shared_ptr<MappedFile>> CommitLog::FileHolding(int64_t physical_offset,
                                                                   int64_t size) const {
  if (size <= 0 || physical_offset + size > MaxOffset()) {
    return absl::NotFoundError(absl::StrCat("commit-log range [", physical_offset, ", +", size,
                                            ") runs past the end ", MaxOffset()));
  }
  std::shared_ptr<MappedFile> file = queue_.FindFileByOffset(physical_offset);
  if (file == nullptr || physical_offset + size > file->end_offset()) {
    if (physical_offset < MinOffset()) {
      return absl::NotFoundError(absl::StrCat("commit-log offset ", physical_offset,
                                              " was deleted; the log starts at ", MinOffset()));
    }
    return absl::DataLossError(absl::StrCat("commit-log range [", physical_offset, ", +", size,
                                            ") does not lie within one file"));
  }
  return file;
}

absl::Status CommitLog::AppendRecordBytes(int64_t physical_offset, int32_t size,
                                          std::string* out) const {
  absl::StatusOr<std::shared_ptr<MappedFile>> file = FileHolding(physical_offset, size);
  if (!file.ok()) return file.status();
  absl::string_view bytes = (*file)->Read(physical_offset - (*file)->start_offset(), size);
  const size_t before = out->size();
  out->append(bytes.data(), bytes.size());
  absl::Status status =
      CheckCopiedRecord(absl::string_view(*out).substr(before), size, physical_offset);
  if (!status.ok()) out->resize(before);
  return status;
}

absl::Status CommitLog::AppendRecordRun(int64_t physical_offset, absl::Span<const int32_t> sizes,
                                        std::string* out) const {
  int64_t total = 0;
  for (int32_t size : sizes) {
    if (size <= 0) return absl::InvalidArgumentError(absl::StrCat("record size ", size));
    total += size;
  }
  absl::StatusOr<std::shared_ptr<MappedFile>> file = FileHolding(physical_offset, total);
  if (!file.ok()) return file.status();
  const size_t before = out->size();
  out->resize(before + total);
  absl::Status status =
      (*file)->ReadInto(physical_offset - (*file)->start_offset(), total, out->data() + before);
  int64_t at = 0;
  for (int32_t size : sizes) {
    if (!status.ok()) break;
    status = CheckCopiedRecord(absl::string_view(*out).substr(before + at, size), size,
                               physical_offset + at);
    at += size;
  }
  if (!status.ok()) out->resize(before);
  return status;
}

LogEntry CommitLog::ReadNext(int64_t offset, bool check_crc) const {
  LogEntry entry;
  entry.offset = offset;
  entry.next_offset = offset;
  if (offset >= MaxOffset()) return entry;
  std::shared_ptr<MappedFile> file = queue_.FindFileByOffset(offset);
  if (file == nullptr) {
    int64_t min = MinOffset();
    if (offset < min) {
      entry.kind = LogEntryKind::kNextFile;
      entry.next_offset = min;
    }
    return entry;
  }
  const int64_t pos = offset - file->start_offset();
  absl::string_view data = file->Read(pos, file->file_size() - pos);
  if (data.empty()) return entry;
  format::DecodedRecord decoded = format::DecodeRecord(data, check_crc);
  switch (decoded.kind) {
    case format::RecordKind::kBlank:
      entry.kind = LogEntryKind::kNextFile;
      entry.next_offset = file->end_offset();
      return entry;
    case format::RecordKind::kMessage:
      entry.kind = LogEntryKind::kRecord;
      entry.next_offset = offset + decoded.size;
      break;
    case format::RecordKind::kCorrupt:
      entry.kind = LogEntryKind::kCorrupt;
      break;
  }
  entry.record.file = std::move(file);
  entry.record.offset = offset;
  entry.record.record = decoded;
  return entry;
}

absl::StatusOr<LogChunk> CommitLog::ReadChunk(int64_t offset, int64_t max_bytes) const {
  LogChunk chunk;
  chunk.offset = offset;
  if (offset < MinOffset()) {
    return absl::NotFoundError(absl::StrCat("commit-log offset ", offset,
                                            " was deleted; the log starts at ", MinOffset()));
  }
  if (offset >= MaxOffset()) return chunk;
  std::shared_ptr<MappedFile> file = queue_.FindFileByOffset(offset);
  if (file == nullptr) return chunk;
  const int64_t begin = offset - file->start_offset();
  const int64_t written = file->write_position();
  int64_t pos = begin;
  // Only the size and magic of each record are read here: the slave verifies
  // every record's CRC anyway, so the master does not pay for it twice.
  while (pos + format::kBlankMarkerMinBytes <= written) {
    absl::string_view header = file->Read(pos, format::kBlankMarkerMinBytes);
    const uint32_t magic = format::LoadBigEndian32(header.data() + format::kMagicCodeOffset);
    const int64_t size = format::LoadBigEndian32(header.data() + format::kTotalSizeOffset);
    if (magic == format::kBlankMagicCode) {
      pos = file->file_size();
      break;
    }
    if (magic != format::kMessageMagicCode || size < format::kRecordFixedBytes ||
        pos + size > written) {
      return absl::DataLossError(absl::StrCat("no record at commit-log offset ",
                                              file->start_offset() + pos, " (", file->path(),
                                              " position ", pos, ")"));
    }
    if (pos > begin && pos + size - begin > max_bytes) break;
    pos += size;
  }
  chunk.data = file->Read(begin, pos - begin);
  chunk.file = std::move(file);
  return chunk;
}

absl::StatusOr<int64_t> CommitLog::AppendRaw(int64_t offset, absl::string_view data) {
  const int64_t size = static_cast<int64_t>(data.size());
  if (size == 0) return absl::InvalidArgumentError("empty replicated chunk");
  if (offset < 0) {
    return absl::InvalidArgumentError(absl::StrCat("replicated chunk at negative offset ", offset));
  }
  const int64_t file_pos = offset % options_.file_size;
  if (file_pos + size > options_.file_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "replicated chunk [", offset, ", ", offset + size,
        ") crosses the end of the commit-log file at ", offset - file_pos + options_.file_size));
  }
  // Check every record before writing a byte: a bad chunk leaves no trace.
  int64_t last_store_timestamp_ms = 0;
  for (int64_t pos = 0; pos < size;) {
    format::DecodedRecord decoded = format::DecodeRecord(data.substr(pos), /*check_crc=*/true);
    const int64_t at = offset + pos;
    if (decoded.kind == format::RecordKind::kBlank) {
      if (file_pos + size != options_.file_size) {
        return absl::DataLossError(absl::StrCat("replicated chunk at offset ", offset,
                                                ": blank marker at offset ", at,
                                                " does not reach the end of its file"));
      }
      break;
    }
    if (decoded.kind == format::RecordKind::kCorrupt) {
      return absl::DataLossError(absl::StrCat("replicated chunk at offset ", offset,
                                              ": corrupt record at offset ", at, ": ",
                                              decoded.error != nullptr ? decoded.error : "?"));
    }
    if (decoded.message.physical_offset != at) {
      return absl::DataLossError(
          absl::StrCat("replicated chunk at offset ", offset, ": the record at offset ", at,
                       " says it belongs at offset ", decoded.message.physical_offset));
    }
    last_store_timestamp_ms = decoded.message.store_timestamp_ms;
    pos += decoded.size;
  }
  if (refusing_.load(std::memory_order_acquire)) {
    absl::MutexLock lock(&refuse_mu_);
    return absl::UnavailableError(absl::StrCat("the store refuses writes: ", refuse_reason_));
  }

  absl::MutexLock lock(&put_mu_);
  const int64_t end = queue_.MaxOffset();
  if (offset != end) {
    if (end != queue_.MinOffset()) {
      return absl::FailedPreconditionError(
          absl::StrCat("replicated chunk at offset ", offset, " but the commit log ends at ", end));
    }
    if (file_pos != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("an empty commit log can only start at a file boundary, not at ", offset));
    }
    // A log without a byte: drop its empty files and start where the master's
    // log starts.
    if (absl::Status s = queue_.Destroy(); !s.ok()) return s;
    queue_.SetFlushedOffset(offset);
    current_file_ = nullptr;
  }
  if (current_file_ == nullptr || current_file_->IsFull() ||
      current_file_->start_offset() + current_file_->write_position() != offset) {
    absl::StatusOr<std::shared_ptr<MappedFile>> file = queue_.GetOrCreateLastFile(offset);
    if (!file.ok()) return file.status();
    current_file_ = *std::move(file);
  }
  if (current_file_->start_offset() + current_file_->write_position() != offset) {
    return absl::InternalError(absl::StrCat("commit-log file ", current_file_->path(),
                                            " does not end at offset ", offset));
  }
  std::memcpy(current_file_->WritableTail().data(), data.data(), data.size());
  current_file_->AdvanceWritePosition(size);
  if (last_store_timestamp_ms != 0) current_file_->set_store_timestamp_ms(last_store_timestamp_ms);
  return offset + size;
}

absl::StatusOr<uint32_t> CommitLog::RangeCrc(int64_t begin, int64_t end) const {
  if (begin > end || begin < 0) {
    return absl::InvalidArgumentError(absl::StrCat("bad range [", begin, ", ", end, ")"));
  }
  if (begin == end) return 0;
  std::shared_ptr<MappedFile> file = queue_.FindFileByOffset(begin);
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("commit-log offset ", begin, " is not in the log [",
                                            MinOffset(), ", ", MaxOffset(), ")"));
  }
  if (end > file->end_offset()) {
    return absl::InvalidArgumentError(
        absl::StrCat("range [", begin, ", ", end, ") spans more than one commit-log file"));
  }
  absl::string_view bytes = file->Read(begin - file->start_offset(), end - begin);
  if (static_cast<int64_t>(bytes.size()) != end - begin) {
    return absl::NotFoundError(
        absl::StrCat("commit-log range [", begin, ", ", end, ") is past the written data"));
  }
  return format::Crc32(0, bytes.data(), bytes.size());
}

void CommitLog::RefuseAppends(std::string reason) {
  absl::MutexLock lock(&refuse_mu_);
  if (!refusing_.load(std::memory_order_relaxed) || refuse_reason_ != reason) {
    LOG(WARNING) << "commit log " << options_.dir << " refuses appends: " << reason;
  }
  refuse_reason_ = std::move(reason);
  refusing_.store(true, std::memory_order_release);
}

void CommitLog::AcceptAppends() {
  absl::MutexLock lock(&refuse_mu_);
  if (refusing_.load(std::memory_order_relaxed)) {
    LOG(INFO) << "commit log " << options_.dir << " accepts appends again";
  }
  refusing_.store(false, std::memory_order_release);
  refuse_reason_.clear();
}

QueueOffset CommitLog::GetQueueOffset(absl::string_view topic, int32_t queue_id) const {
  absl::MutexLock lock(&put_mu_);
  auto it = queue_offsets_.find(QueueKeyView{topic, queue_id});
  return it == queue_offsets_.end() ? QueueOffset(0) : it->second;
}

void CommitLog::SetQueueOffset(absl::string_view topic, int32_t queue_id, QueueOffset next_offset) {
  absl::MutexLock lock(&put_mu_);
  auto it = queue_offsets_.find(QueueKeyView{topic, queue_id});
  if (it == queue_offsets_.end()) {
    queue_offsets_.emplace(QueueKey{std::string(topic), queue_id}, next_offset);
  } else {
    it->second = next_offset;
  }
}

void CommitLog::RemoveQueueOffsets(absl::string_view topic) {
  absl::MutexLock lock(&put_mu_);
  absl::erase_if(queue_offsets_, [topic](const auto& entry) { return entry.first.topic == topic; });
}

void CommitLog::ClearQueueOffsets() {
  absl::MutexLock lock(&put_mu_);
  queue_offsets_.clear();
}

}  // namespace mq::store
