#include "benchmarks/suite/load_generator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace mq::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Calls that complete during the first fifth of a run (at most 1 s) warm up
// connections and caches and are not counted.
absl::Duration WarmUp(absl::Duration duration) { return std::min(absl::Seconds(1), duration / 5); }

// The calls of one run: per-slot start times and results, the count of calls
// outstanding, and the measurement window.
class CallTracker {
 public:
  CallTracker(int slots, const StartCall& start, int items)
      : start_(start), items_(items), slots_(slots) {}

  void BeginMeasuring() {
    measure_from_ = Clock::now();
    measuring_.store(true);
  }

  // Stops reissuing (closed loop) and waits for outstanding calls.
  void Drain() {
    stopping_.store(true);
    measure_to_ = Clock::now();
    measuring_.store(false);
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](int* outstanding) { return *outstanding == 0; }, &outstanding_),
                         absl::Seconds(60));
  }

  // Starts a call on `slot`; `reissue` starts the next one when it completes.
  void Issue(int slot, bool reissue) {
    {
      absl::MutexLock lock(&mu_);
      ++outstanding_;
    }
    IssueCounted(slot, reissue);
  }

  // Slots whose call completed in a paced run, for reuse.
  std::vector<int> TakeFreeSlots() {
    absl::MutexLock lock(&mu_);
    return std::exchange(free_slots_, {});
  }

  void CountSkipped() { skipped_.fetch_add(1); }

  // Skipped paced calls count as failures but not as calls.
  LoadResult Result() {
    LoadResult result;
    std::vector<double> latencies;
    int64_t call_failures = 0;
    for (const Slot& slot : slots_) {
      latencies.insert(latencies.end(), slot.latencies.begin(), slot.latencies.end());
      call_failures += slot.failures;
    }
    result.failures = call_failures + skipped_.load();
    result.calls = static_cast<int64_t>(latencies.size());
    double seconds = std::chrono::duration<double>(measure_to_ - measure_from_).count();
    int64_t succeeded = result.calls - call_failures;
    if (seconds > 0) result.per_second = static_cast<double>(succeeded) * items_ / seconds;
    FillPercentiles(std::move(latencies), &result);
    return result;
  }

 private:
  struct Slot {
    Clock::time_point begin;
    std::vector<double> latencies;
    int64_t failures = 0;
  };

  void IssueCounted(int slot, bool reissue) {
    slots_[slot].begin = Clock::now();
    start_(slot, [this, slot, reissue](bool ok) { Complete(slot, ok, reissue); });
  }

  void Complete(int slot, bool ok, bool reissue) {
    Slot& s = slots_[slot];
    if (measuring_.load()) {
      s.latencies.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - s.begin).count());
      if (!ok) ++s.failures;
    }
    if (reissue && !stopping_.load()) {
      IssueCounted(slot, reissue);
      return;
    }
    absl::MutexLock lock(&mu_);
    if (!reissue) free_slots_.push_back(slot);
    --outstanding_;
  }

  const StartCall& start_;
  const int items_;
  std::vector<Slot> slots_;
  std::atomic<bool> measuring_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> skipped_{0};
  Clock::time_point measure_from_;
  Clock::time_point measure_to_;
  absl::Mutex mu_;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int> free_slots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void FillPercentiles(std::vector<double> latencies_ms, LoadResult* result) {
  if (latencies_ms.empty()) return;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  result->p50_ms = latencies_ms[latencies_ms.size() / 2];
  result->p99_ms = latencies_ms[std::min(latencies_ms.size() - 1, latencies_ms.size() * 99 / 100)];
}

LoadResult RunClosedLoop(int window, int items, absl::Duration duration, const StartCall& start) {
  CallTracker tracker(window, start, items);
  for (int slot = 0; slot < window; ++slot) tracker.Issue(slot, /*reissue=*/true);
  absl::SleepFor(WarmUp(duration));
  tracker.BeginMeasuring();
  absl::SleepFor(duration - WarmUp(duration));
  tracker.Drain();
  return tracker.Result();
}

LoadResult RunThreads(int threads, int items, absl::Duration duration,
                      const std::function<bool(int thread)>& call) {
  struct PerThread {
    std::vector<double> latencies;
    int64_t failures = 0;
  };
  std::vector<PerThread> results(threads);
  std::atomic<bool> measuring{false};
  std::atomic<bool> stopping{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      PerThread& mine = results[t];
      while (!stopping.load()) {
        const Clock::time_point begin = Clock::now();
        const bool ok = call(t);
        const Clock::time_point end = Clock::now();
        if (!measuring.load()) continue;
        mine.latencies.push_back(std::chrono::duration<double, std::milli>(end - begin).count());
        if (!ok) ++mine.failures;
      }
    });
  }
  absl::SleepFor(WarmUp(duration));
  const Clock::time_point from = Clock::now();
  measuring.store(true);
  absl::SleepFor(duration - WarmUp(duration));
  measuring.store(false);
  const Clock::time_point to = Clock::now();
  stopping.store(true);
  for (std::thread& worker : workers) worker.join();
  LoadResult result;
  std::vector<double> latencies;
  for (PerThread& r : results) {
    latencies.insert(latencies.end(), r.latencies.begin(), r.latencies.end());
    result.failures += r.failures;
  }
  result.calls = static_cast<int64_t>(latencies.size());
  const double seconds = std::chrono::duration<double>(to - from).count();
  if (seconds > 0) {
    result.per_second = static_cast<double>(result.calls - result.failures) * items / seconds;
  }
  FillPercentiles(std::move(latencies), &result);
  return result;
}

LoadResult RunPaced(double rate, int max_in_flight, absl::Duration duration,
                    const StartCall& start) {
  CallTracker tracker(max_in_flight, start, /*items=*/1);
  std::vector<int> free;
  for (int slot = max_in_flight - 1; slot >= 0; --slot) free.push_back(slot);
  const absl::Time begin = absl::Now();
  const absl::Duration interval = absl::Seconds(1) / rate;
  bool measuring = false;
  for (int64_t i = 0;; ++i) {
    absl::Time due = begin + interval * i;
    if (due - begin >= duration) break;
    if (!measuring && due - begin >= WarmUp(duration)) {
      tracker.BeginMeasuring();
      measuring = true;
    }
    absl::SleepFor(due - absl::Now());
    if (free.empty()) free = tracker.TakeFreeSlots();
    if (free.empty()) {
      if (measuring) tracker.CountSkipped();
      continue;
    }
    int slot = free.back();
    free.pop_back();
    tracker.Issue(slot, /*reissue=*/false);
  }
  tracker.Drain();
  return tracker.Result();
}

}  // namespace mq::bench
