// Asynchronous flushing of a log (RocketMQ's FlushRealTimeService, used with
// ASYNC_FLUSH): a background thread wakes every `interval`, flushes when at
// least `least_pages` 4 KiB pages are dirty, and every `thorough_interval`
// flushes whatever is dirty. Appends never wait for it.
//
// Thread-safe. Stop() (also run by the destructor) flushes everything.
#ifndef MQ_SERVICES_STORE_ASYNC_FLUSHER_H_
#define MQ_SERVICES_STORE_ASYNC_FLUSHER_H_

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "services/store/mapped_file_queue.h"

namespace mq::store {

// Defaults are RocketMQ's flushIntervalCommitLog, flushCommitLogLeastPages and
// flushCommitLogThoroughInterval.
struct AsyncFlusherOptions {
  absl::Duration interval = absl::Milliseconds(500);
  int least_pages = 4;
  absl::Duration thorough_interval = absl::Seconds(10);
  // Each flush that wrote something is timed here, if set.
  metrics::Histogram* flush_latency = nullptr;
};

class AsyncFlusher {
 public:
  // `queue` must outlive the flusher. `on_flushed`, if set, is called on the
  // flusher's thread with the new flushed offset after each flush that made
  // progress (e.g. to update the checkpoint).
  AsyncFlusher(MappedFileQueue* queue, AsyncFlusherOptions options,
               std::function<void(int64_t flushed_offset)> on_flushed = nullptr);
  AsyncFlusher(const AsyncFlusher&) = delete;
  AsyncFlusher& operator=(const AsyncFlusher&) = delete;
  ~AsyncFlusher();

  // Starts the thread. Call once.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);

  // Stops the thread and flushes everything written so far (retrying a failed
  // flush a few times). Returns the last flush error, if any. Idempotent.
  absl::Status Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Flushes with `least_pages` until no more progress; returns the error of a
  // failed flush.
  absl::Status FlushAvailable(int least_pages);

  MappedFileQueue* const queue_;
  const AsyncFlusherOptions options_;
  const std::function<void(int64_t)> on_flushed_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_ASYNC_FLUSHER_H_
