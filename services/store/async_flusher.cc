#include "services/store/async_flusher.h"

#include <utility>

#include "absl/time/clock.h"
#include "glog/logging.h"

namespace mq::store {
namespace {

// RocketMQ retries the final flush this many times on shutdown.
constexpr int kShutdownFlushAttempts = 10;

}  // namespace

AsyncFlusher::AsyncFlusher(MappedFileQueue* queue, AsyncFlusherOptions options,
                           std::function<void(int64_t)> on_flushed)
    : queue_(queue), options_(options), on_flushed_(std::move(on_flushed)) {}

AsyncFlusher::~AsyncFlusher() {
  absl::Status status = Stop();
  if (!status.ok()) LOG(ERROR) << "final flush of " << queue_->dir() << ": " << status;
}

void AsyncFlusher::Start() {
  absl::MutexLock lock(&mu_);
  CHECK(!started_) << "AsyncFlusher started twice";
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

absl::Status AsyncFlusher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::OkStatus();
    stopped_ = true;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::Status status;
  for (int attempt = 0; attempt < kShutdownFlushAttempts; ++attempt) {
    status = FlushAvailable(0);
    if (status.ok()) break;
  }
  return status;
}

absl::Status AsyncFlusher::FlushAvailable(int least_pages) {
  int64_t before = queue_->FlushedOffset();
  const absl::Time start = absl::Now();
  while (true) {
    int64_t previous = queue_->FlushedOffset();
    absl::StatusOr<int64_t> flushed = queue_->Flush(least_pages);
    if (!flushed.ok()) return flushed.status();
    // One call flushes one file; a full file hands over to the next.
    if (*flushed == previous) break;
  }
  int64_t after = queue_->FlushedOffset();
  if (after > before && options_.flush_latency != nullptr) {
    options_.flush_latency->ObserveDuration(absl::Now() - start);
  }
  if (after > before && on_flushed_) on_flushed_(after);
  return absl::OkStatus();
}

void AsyncFlusher::Run() {
  absl::Time last_thorough = absl::Now();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.interval);
      if (stopping_) return;
    }
    int least_pages = options_.least_pages;
    absl::Time now = absl::Now();
    if (now - last_thorough >= options_.thorough_interval) {
      least_pages = 0;
      last_thorough = now;
    }
    absl::Status status = FlushAvailable(least_pages);
    if (!status.ok()) LOG(ERROR) << "flushing " << queue_->dir() << ": " << status;
  }
}

}  // namespace mq::store
