#include "services/store/consume_queue.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/format/big_endian.h"
#include "glog/logging.h"

namespace mq::store {
namespace {

constexpr int64_t kUnitBytes = ConsumeQueueUnit::kBytes;
// Recovery walks this many files from the end, as RocketMQ.
constexpr size_t kRecoverFiles = 3;

// Where the unit of a queue offset lives in the queue's files.
int64_t UnitPosition(QueueOffset queue_offset) { return queue_offset.value() * kUnitBytes; }

void EncodeUnit(PhysicalOffset commit_log_offset, int32_t size, int64_t tag_code, char* dest) {
  format::StoreBigEndian64(dest, static_cast<uint64_t>(commit_log_offset.value()));
  format::StoreBigEndian32(dest + 8, static_cast<uint32_t>(size));
  format::StoreBigEndian64(dest + 12, static_cast<uint64_t>(tag_code));
}

ConsumeQueueUnit DecodeUnit(QueueOffset queue_offset, const char* src) {
  ConsumeQueueUnit unit;
  unit.queue_offset = queue_offset;
  unit.commit_log_offset = PhysicalOffset(static_cast<int64_t>(format::LoadBigEndian64(src)));
  unit.size = static_cast<int32_t>(format::LoadBigEndian32(src + 8));
  unit.tag_code = static_cast<int64_t>(format::LoadBigEndian64(src + 12));
  return unit;
}

// A unit that was written: never-written space is zeros (size 0).
bool IsWritten(const ConsumeQueueUnit& unit) {
  return unit.commit_log_offset >= PhysicalOffset(0) && unit.size > 0;
}

}  // namespace

ConsumeQueue::ConsumeQueue(std::string topic, int32_t queue_id, std::string dir,
                           ConsumeQueueOptions options)
    : topic_(std::move(topic)),
      queue_id_(queue_id),
      files_(MappedFileQueueOptions{std::move(dir), options.units_per_file * kUnitBytes}) {}

absl::Status ConsumeQueue::Load() {
  if (absl::Status status = files_.Load(); !status.ok()) return status;
  return Recover();
}

absl::optional<ConsumeQueueUnit> ConsumeQueue::ReadUnit(const MappedFile& file,
                                                        QueueOffset queue_offset) const {
  absl::string_view bytes = file.Read(UnitPosition(queue_offset) - file.start_offset(), kUnitBytes);
  if (static_cast<int64_t>(bytes.size()) < kUnitBytes) return absl::nullopt;
  return DecodeUnit(queue_offset, bytes.data());
}

absl::Status ConsumeQueue::Recover() {
  absl::MutexLock lock(&write_mu_);
  std::vector<std::shared_ptr<MappedFile>> files = files_.Files();
  if (!files.empty()) {
    const size_t first = files.size() > kRecoverFiles ? files.size() - kRecoverFiles : 0;
    int64_t end = files[first]->start_offset();
    for (size_t i = first; i < files.size(); ++i) {
      const MappedFile& file = *files[i];
      if (i > first && file.start_offset() != files[i - 1]->end_offset()) break;
      int64_t pos = 0;
      for (; pos + kUnitBytes <= file.write_position(); pos += kUnitBytes) {
        if (!IsWritten(DecodeUnit(QueueOffset(0), file.Read(pos, kUnitBytes).data()))) break;
      }
      end = file.start_offset() + pos;
      if (pos < file.file_size()) break;
    }
    if (absl::Status status = files_.TruncateDirtyFiles(end); !status.ok()) return status;
  }
  ResetEndOffsets();
  min_offset_.store(0, std::memory_order_release);
  CorrectMinOffset(PhysicalOffset(std::numeric_limits<int64_t>::min()));
  LOG(INFO) << "consume queue " << topic_ << "/" << queue_id_ << " recovered: offsets ["
            << MinOffset() << ", " << MaxOffset() << "), commit log up to " << MaxPhysicalOffset();
  return absl::OkStatus();
}

void ConsumeQueue::ResetEndOffsets() {
  const QueueOffset max_offset(files_.MaxOffset() / kUnitBytes);
  max_offset_.store(max_offset.value(), std::memory_order_release);
  PhysicalOffset max_physical(0);
  const QueueOffset first(files_.MinOffset() / kUnitBytes);
  for (QueueOffset q(max_offset - 1); q >= first; q -= 1) {
    std::shared_ptr<MappedFile> file = files_.FindFileByOffset(UnitPosition(q));
    if (file == nullptr) break;
    absl::optional<ConsumeQueueUnit> unit = ReadUnit(*file, q);
    if (unit.has_value() && !unit->is_blank()) {
      max_physical = unit->commit_log_offset + unit->size;
      break;
    }
  }
  max_physical_offset_.store(max_physical.value(), std::memory_order_release);
}

void ConsumeQueue::CorrectMinOffset(PhysicalOffset min_commit_log_offset) {
  absl::MutexLock lock(&min_mu_);
  std::shared_ptr<MappedFile> first = files_.FirstFile();
  const QueueOffset max_offset = MaxOffset();
  if (first == nullptr) {
    min_offset_.store(max_offset.value(), std::memory_order_release);
    return;
  }
  QueueOffset q = std::max(MinOffset(), QueueOffset(first->start_offset() / kUnitBytes));
  std::shared_ptr<MappedFile> file;
  for (; q < max_offset; q += 1) {
    if (file == nullptr || UnitPosition(q) >= file->end_offset()) {
      file = files_.FindFileByOffset(UnitPosition(q));
      if (file == nullptr) break;
    }
    absl::optional<ConsumeQueueUnit> unit = ReadUnit(*file, q);
    if (!unit.has_value()) break;
    if (!unit->is_blank() && unit->commit_log_offset >= min_commit_log_offset) break;
  }
  min_offset_.store(std::min(q, max_offset).value(), std::memory_order_release);
}

absl::Status ConsumeQueue::PutUnit(QueueOffset queue_offset, PhysicalOffset commit_log_offset,
                                   int32_t size, int64_t tag_code) {
  if (queue_offset < QueueOffset(0) || commit_log_offset < PhysicalOffset(0) || size <= 0 ||
      size == ConsumeQueueUnit::kBlankSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad consume queue unit for ", topic_, "/", queue_id_, ": queue offset ",
        queue_offset.value(), ", commit-log offset ", commit_log_offset.value(), ", size ", size));
  }
  absl::MutexLock lock(&write_mu_);
  if (destroyed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("consume queue ", topic_, "/", queue_id_, " was deleted"));
  }
  const QueueOffset max_offset = MaxOffset();
  if (queue_offset < max_offset) {
    std::shared_ptr<MappedFile> file = files_.FindFileByOffset(UnitPosition(queue_offset));
    absl::optional<ConsumeQueueUnit> existing =
        file == nullptr ? absl::nullopt : ReadUnit(*file, queue_offset);
    if (existing.has_value() && existing->commit_log_offset != commit_log_offset) {
      LOG(WARNING) << "consume queue " << topic_ << "/" << queue_id_ << ": offset " << queue_offset
                   << " already points at commit-log offset " << existing->commit_log_offset
                   << ", not " << commit_log_offset << "; keeping it";
    }
    return absl::OkStatus();
  }
  if (queue_offset > max_offset) {
    const bool restart = MinOffset() == max_offset;
    if (restart) {
      LOG(INFO) << "consume queue " << topic_ << "/" << queue_id_ << " starts at offset "
                << queue_offset << " (was empty at " << max_offset << ")";
      if (absl::Status status = files_.Destroy(); !status.ok()) return status;
      absl::StatusOr<std::shared_ptr<MappedFile>> file =
          files_.GetOrCreateLastFile(UnitPosition(queue_offset));
      if (!file.ok()) return file.status();
      absl::MutexLock min_lock(&min_mu_);
      const int64_t start = (*file)->start_offset() / kUnitBytes;
      max_offset_.store(start, std::memory_order_release);
      min_offset_.store(start, std::memory_order_release);
    } else {
      LOG(ERROR) << "[BUG] consume queue " << topic_ << "/" << queue_id_ << ": expected offset "
                 << max_offset << " but got " << queue_offset << "; filling "
                 << queue_offset - max_offset << " blank units";
    }
    if (absl::Status status = AppendBlanks(queue_offset - MaxOffset()); !status.ok()) {
      return status;
    }
    if (restart) {
      absl::MutexLock min_lock(&min_mu_);
      min_offset_.store(queue_offset.value(), std::memory_order_release);
    }
  }
  ConsumeQueueUnit unit;
  unit.queue_offset = queue_offset;
  unit.commit_log_offset = commit_log_offset;
  unit.size = size;
  unit.tag_code = tag_code;
  if (absl::Status status = AppendUnit(unit); !status.ok()) return status;
  max_physical_offset_.store(std::max(MaxPhysicalOffset(), commit_log_offset + size).value(),
                             std::memory_order_release);
  return absl::OkStatus();
}

absl::Status ConsumeQueue::AppendBlanks(int64_t count) {
  while (count > 0) {
    absl::StatusOr<std::shared_ptr<MappedFile>> file =
        files_.GetOrCreateLastFile(UnitPosition(MaxOffset()));
    if (!file.ok()) return file.status();
    absl::Span<char> tail = (*file)->WritableTail();
    const int64_t n = std::min<int64_t>(count, static_cast<int64_t>(tail.size()) / kUnitBytes);
    for (int64_t i = 0; i < n; ++i) {
      EncodeUnit(PhysicalOffset(0), ConsumeQueueUnit::kBlankSize, 0, tail.data() + i * kUnitBytes);
    }
    (*file)->AdvanceWritePosition(n * kUnitBytes);
    max_offset_.store((MaxOffset() + n).value(), std::memory_order_release);
    count -= n;
  }
  return absl::OkStatus();
}

absl::Status ConsumeQueue::AppendUnit(const ConsumeQueueUnit& unit) {
  const int64_t log_offset = UnitPosition(unit.queue_offset);
  absl::StatusOr<std::shared_ptr<MappedFile>> file = files_.GetOrCreateLastFile(log_offset);
  if (!file.ok()) return file.status();
  if ((*file)->start_offset() + (*file)->write_position() != log_offset) {
    return absl::InternalError(absl::StrCat("consume queue ", topic_, "/", queue_id_,
                                            ": write position of ", (*file)->path(),
                                            " is not at offset ", unit.queue_offset.value()));
  }
  char bytes[kUnitBytes];
  EncodeUnit(unit.commit_log_offset, unit.size, unit.tag_code, bytes);
  if (!(*file)->Append(absl::Span<const char>(bytes, sizeof(bytes)))) {
    return absl::InternalError(absl::StrCat("no room for a unit in ", (*file)->path()));
  }
  max_offset_.store((unit.queue_offset + 1).value(), std::memory_order_release);
  return absl::OkStatus();
}

absl::optional<ConsumeQueueUnit> ConsumeQueue::GetUnit(QueueOffset queue_offset) const {
  if (queue_offset < MinOffset() || queue_offset >= MaxOffset()) return absl::nullopt;
  std::shared_ptr<MappedFile> file = files_.FindFileByOffset(UnitPosition(queue_offset));
  if (file == nullptr) return absl::nullopt;
  return ReadUnit(*file, queue_offset);
}

std::vector<ConsumeQueueUnit> ConsumeQueue::GetUnits(QueueOffset queue_offset,
                                                     int64_t max_units) const {
  std::vector<ConsumeQueueUnit> units;
  if (queue_offset < MinOffset() || max_units <= 0) return units;
  const QueueOffset end = std::min(MaxOffset(), queue_offset + max_units);
  units.reserve(std::max<int64_t>(0, end - queue_offset));
  std::shared_ptr<MappedFile> file;
  for (QueueOffset q = queue_offset; q < end; q += 1) {
    if (file == nullptr || UnitPosition(q) >= file->end_offset()) {
      file = files_.FindFileByOffset(UnitPosition(q));
      if (file == nullptr) break;
    }
    absl::optional<ConsumeQueueUnit> unit = ReadUnit(*file, q);
    if (!unit.has_value()) break;
    units.push_back(*unit);
  }
  return units;
}

absl::StatusOr<QueueOffset> ConsumeQueue::OffsetByTime(int64_t timestamp_ms,
                                                       StoreTimeLookup lookup) const {
  const QueueOffset max_offset = MaxOffset();
  // The first non-blank unit in [from, to), if any.
  auto first_message = [&](QueueOffset from, QueueOffset to) -> absl::optional<ConsumeQueueUnit> {
    for (QueueOffset q = from; q < to; q += 1) {
      absl::optional<ConsumeQueueUnit> unit = GetUnit(q);
      if (unit.has_value() && !unit->is_blank()) return unit;
    }
    return absl::nullopt;
  };
  QueueOffset lo = MinOffset();
  QueueOffset hi = max_offset;
  // Invariant: every message before `lo` is older than `timestamp_ms`, and
  // the first message at or after `hi`, if any, is not.
  while (lo < hi) {
    const QueueOffset mid = lo + (hi - lo) / 2;
    absl::optional<ConsumeQueueUnit> unit = first_message(mid, hi);
    if (!unit.has_value()) {
      hi = mid;
      continue;
    }
    absl::StatusOr<int64_t> stored_ms = lookup(unit->commit_log_offset, unit->size);
    if (!stored_ms.ok() && !absl::IsNotFound(stored_ms.status())) return stored_ms.status();
    if (!stored_ms.ok() || *stored_ms < timestamp_ms) {
      lo = unit->queue_offset + 1;
    } else {
      hi = mid;
    }
  }
  absl::optional<ConsumeQueueUnit> answer = first_message(lo, max_offset);
  return answer.has_value() ? answer->queue_offset : max_offset;
}

absl::Status ConsumeQueue::TruncateByPhysicalOffset(PhysicalOffset commit_log_offset) {
  absl::MutexLock lock(&write_mu_);
  const QueueOffset max_offset = MaxOffset();
  const QueueOffset first(files_.MinOffset() / kUnitBytes);
  // Commit-log offsets grow with the queue offset: walk back to the last
  // message below the cut. Blank units right before the first message cut
  // stay: they fill offsets that re-dispatch will not bring back.
  QueueOffset cut = max_offset;
  for (QueueOffset q = max_offset - 1; q >= first; q -= 1) {
    std::shared_ptr<MappedFile> file = files_.FindFileByOffset(UnitPosition(q));
    if (file == nullptr) break;
    absl::optional<ConsumeQueueUnit> unit = ReadUnit(*file, q);
    if (!unit.has_value()) break;
    if (unit->is_blank()) continue;
    if (unit->commit_log_offset < commit_log_offset) break;
    cut = q;
  }
  if (cut == max_offset) return absl::OkStatus();
  LOG(INFO) << "consume queue " << topic_ << "/" << queue_id_ << ": dropping offsets [" << cut
            << ", " << max_offset << ") at or past commit-log offset " << commit_log_offset;
  if (absl::Status status = files_.TruncateDirtyFiles(UnitPosition(cut)); !status.ok()) {
    return status;
  }
  ResetEndOffsets();
  absl::MutexLock min_lock(&min_mu_);
  if (MinOffset() > cut) min_offset_.store(cut.value(), std::memory_order_release);
  return absl::OkStatus();
}

int ConsumeQueue::DeleteFilesBelowPhysicalOffset(PhysicalOffset min_commit_log_offset) {
  int deleted = files_.DeleteFilesWhile(
      [&](const MappedFile& file) {
        const QueueOffset first(file.start_offset() / kUnitBytes);
        for (QueueOffset q(file.end_offset() / kUnitBytes - 1); q >= first; q -= 1) {
          absl::optional<ConsumeQueueUnit> unit = ReadUnit(file, q);
          if (unit.has_value() && !unit->is_blank()) {
            return unit->commit_log_offset < min_commit_log_offset;
          }
        }
        return true;
      },
      std::numeric_limits<int>::max());
  CorrectMinOffset(min_commit_log_offset);
  return deleted;
}

absl::Status ConsumeQueue::Flush(int least_pages) {
  int64_t flushed = files_.FlushedOffset();
  while (true) {
    absl::StatusOr<int64_t> next = files_.Flush(least_pages);
    if (!next.ok()) return next.status();
    if (*next == flushed) return absl::OkStatus();
    flushed = *next;
  }
}

absl::Status ConsumeQueue::Destroy() {
  absl::MutexLock lock(&write_mu_);
  destroyed_ = true;
  absl::Status status = files_.Destroy();
  absl::MutexLock min_lock(&min_mu_);
  min_offset_.store(0, std::memory_order_release);
  max_offset_.store(0, std::memory_order_release);
  max_physical_offset_.store(0, std::memory_order_release);
  return status;
}

}  // namespace mq::store
