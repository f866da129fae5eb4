// Keeps the pages just past a log's write position ready, so the appender
// copies into memory instead of faulting. A first write into a fresh page of a
// fallocated file costs a fault that allocates and zero-fills page cache (a
// large folio at a time, 25 ms seen on a busy guest) while the appender holds
// the commit-log append lock; every send behind it waits. KeepAhead, called
// every few milliseconds off the append path, takes that cost instead.
//
// Pages mapped ahead (kMapWritable) are dirty zeros: at a rate too low to reach
// them within the kernel's dirty expiry (30 s) they are written back as zeros,
// which a later append overwrites like any page.
//
// Not thread-safe: one thread calls KeepAhead.
#ifndef MQ_SERVICES_STORE_LOG_PREFAULTER_H_
#define MQ_SERVICES_STORE_LOG_PREFAULTER_H_

#include <cstdint>
#include <memory>

#include "services/store/mapped_file.h"
#include "services/store/mapped_file_queue.h"

namespace mq::store {

class LogPrefaulter {
 public:
  // How the pages ahead are readied, to suit how the log is written.
  enum class Mode {
    // Mapped writable (MappedFile::PrefaultAhead): appends copied into the
    // mapping take no fault.
    kMapWritable,
    // Page cache only (MappedFile::CacheAhead): for appends written with
    // pwrite (SYNC_FLUSH), whose flushes would otherwise write-protect every
    // page mapped ahead (a cross-core TLB flush each time).
    kPageCache,
  };

  // `queue` must outlive the prefaulter. `ahead_bytes` > 0.
  LogPrefaulter(MappedFileQueue* queue, int64_t ahead_bytes, Mode mode = Mode::kMapWritable);
  LogPrefaulter(const LogPrefaulter&) = delete;
  LogPrefaulter& operator=(const LogPrefaulter&) = delete;

  // Readies the log's last file up to `ahead_bytes` past its write position
  // once less than half of that is left ready ahead. Errors are logged; a
  // kernel without MADV_POPULATE_WRITE turns a kMapWritable prefaulter off.
  void KeepAhead();

  // The log offset up to which pages were readied (0 before the first).
  int64_t prefaulted_offset() const;

 private:
  MappedFileQueue* const queue_;
  const int64_t ahead_bytes_;
  const Mode mode_;
  bool disabled_ = false;
  // The file being prefaulted and how far into it (file-relative).
  std::shared_ptr<MappedFile> file_;
  int64_t prefaulted_to_ = 0;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_LOG_PREFAULTER_H_
