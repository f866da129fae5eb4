// Throughput of in-process commit-log appends of 1 KiB messages:
//   async flush (AsyncFlusher) with 1 and 4 appenders, --async_messages each:
//     "prefaulted": one commit-log file large enough for the run, created and
//       pre-faulted before the clock starts, so the figure is the cost of the
//       append path itself;
//     "end-to-end": --file_size files prepared (and warmed, --warm_files) by
//       the background allocator while the run goes on, so the figure also
//       pays for page-cache allocation and disk writeback;
//   sync flush (GroupCommitService) with 1, 16 and 64 appenders for --seconds,
//     each appending one message and waiting for it to be flushed, as a
//     SYNC_FLUSH broker handles one send.
// Prints messages per second for each. Every run uses a fresh directory under
// --dir, deleted afterwards.
#include <stdlib.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "glog/logging.h"
#include "services/store/async_flusher.h"
#include "services/store/commit_log.h"
#include "services/store/group_commit_service.h"
#include "services/store/mapped_file_allocator.h"

ABSL_FLAG(std::string, dir, "/tmp", "Directory under which each run creates its commit log.");
ABSL_FLAG(int64_t, file_size, int64_t{1} << 30, "Commit-log file size in bytes.");
ABSL_FLAG(int32_t, body_bytes, 1024, "Message body size in bytes.");
ABSL_FLAG(int32_t, batch, 1, "Messages per AppendBatch call in the async runs.");
ABSL_FLAG(double, seconds, 3, "Duration of each sync-flush run.");
ABSL_FLAG(int64_t, async_messages, 1000000, "Messages appended by each async-flush run.");
ABSL_FLAG(std::vector<std::string>, async_appenders, std::vector<std::string>({"1", "4"}),
          "Appender counts of the async-flush runs.");
ABSL_FLAG(std::vector<std::string>, sync_appenders, std::vector<std::string>({"1", "16", "64"}),
          "Appender counts of the sync-flush runs; speed-ups are relative to the first.");
ABSL_FLAG(std::vector<std::string>, async_variants,
          std::vector<std::string>({"prefaulted", "end-to-end"}),
          "Async-flush runs to do: prefaulted, end-to-end.");
ABSL_FLAG(bool, warm_files, true, "Pre-fault commit-log files when they are prepared.");
ABSL_FLAG(uint64_t, sync_write_through_bytes, 0,
          "CommitLogOptions::write_through_bytes of the sync-flush runs (0, every append "
          "with pwrite, is what a SYNC_FLUSH store uses; 16384 copies single appends into the "
          "mapping, as under async flushing).");

namespace mq::store {
namespace {

enum class FlushMode { kAsync, kSync };

struct RunConfig {
  FlushMode mode = FlushMode::kAsync;
  int appenders = 1;
  int batch = 1;
  // Async runs: stop after this many messages. Sync runs: run --seconds.
  int64_t messages = 0;
  bool prefault = false;
};

struct RunResult {
  int64_t messages = 0;
  double seconds = 0;
  // CPU time the appender threads used, summed: on a machine shared with
  // other work the wall-clock rate understates what the append path can do.
  double appender_cpu_seconds = 0;
  int64_t flushes = 0;
};

double ThreadCpuSeconds() {
  struct timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

std::string NewDir() {
  std::string pattern = absl::StrCat(absl::GetFlag(FLAGS_dir), "/commit_log_benchmark_XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  char* dir = ::mkdtemp(buffer.data());
  CHECK(dir != nullptr) << "mkdtemp " << pattern;
  return dir;
}

RunResult RunIn(const std::string& dir, const RunConfig& config) {
  const std::string body(absl::GetFlag(FLAGS_body_bytes), 'b');
  const std::string properties = "TAGS\x01TagA\x02KEYS\x01order-1";
  auto make_record = [&](int queue_id) {
    format::MessageRecord r;
    r.topic = "BenchmarkTopic";
    r.queue_id = queue_id;
    r.body = body;
    r.properties = properties;
    r.born_timestamp_ms = absl::ToUnixMillis(absl::Now());
    r.born_host = format::HostAddress{0x0A000001, 50000};
    r.store_host = format::HostAddress{0x0A000002, 10911};
    return r;
  };

  MappedFileAllocatorOptions allocator_options;
  allocator_options.warm_files =
      absl::GetFlag(FLAGS_warm_files) && config.mode == FlushMode::kAsync;
  MappedFileAllocator allocator(allocator_options);
  CommitLogOptions options;
  options.dir = dir;
  options.file_size = absl::GetFlag(FLAGS_file_size);
  options.allocator = &allocator;
  if (config.mode == FlushMode::kSync) {
    options.write_through_bytes = absl::GetFlag(FLAGS_sync_write_through_bytes);
  }
  if (config.prefault) {
    const int64_t bytes =
        (config.messages + 1) * format::RecordSize(make_record(0)) + kOsPageSizeBytes;
    options.file_size = (bytes + (1 << 20) - 1) / (1 << 20) * (1 << 20);
    options.allocator = nullptr;
  }
  CommitLog log(options);
  CHECK(log.Load().ok());
  CHECK(log.Recover(0, true).status().ok());

  std::unique_ptr<AsyncFlusher> async_flusher;
  std::unique_ptr<GroupCommitService> group_commit;
  if (config.mode == FlushMode::kAsync) {
    async_flusher = std::make_unique<AsyncFlusher>(&log.file_queue(), AsyncFlusherOptions());
    async_flusher->Start();
  } else {
    group_commit = std::make_unique<GroupCommitService>(&log.file_queue(), GroupCommitOptions());
    group_commit->Start();
  }

  // The first file exists before the clock starts, as in a running store.
  {
    format::MessageRecord first = make_record(0);
    CHECK(log.AppendBatch(absl::MakeConstSpan(&first, 1))[0].status == AppendStatus::kOk);
    if (config.prefault) CHECK(log.file_queue().LastFile()->Warm().ok());
  }

  std::atomic<int64_t> claimed{0};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> total{0};
  std::atomic<int64_t> failures{0};
  absl::Mutex cpu_mu;
  double cpu_seconds = 0;
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int t = 0; t < config.appenders; ++t) {
    threads.emplace_back([&, t] {
      std::vector<format::MessageRecord> records(config.batch, make_record(t % 8));
      const double cpu_start = ThreadCpuSeconds();
      int64_t count = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (config.messages > 0 && claimed.fetch_add(config.batch) >= config.messages) break;
        std::vector<AppendResult> results = log.AppendBatch(records);
        int64_t end = 0;
        for (const AppendResult& r : results) {
          if (r.status != AppendStatus::kOk) ++failures;
          end = std::max(end, (r.physical_offset + r.size).value());
        }
        if (group_commit != nullptr && !group_commit->WaitForFlush(end).ok()) ++failures;
        count += config.batch;
      }
      total += count;
      absl::MutexLock lock(&cpu_mu);
      cpu_seconds += ThreadCpuSeconds() - cpu_start;
    });
  }
  if (config.messages == 0) {
    absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
    stop = true;
  }
  for (std::thread& t : threads) t.join();
  RunResult result;
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.messages = total.load();
  result.appender_cpu_seconds = cpu_seconds;
  if (group_commit != nullptr) {
    result.flushes = group_commit->flush_count();
    CHECK(group_commit->Stop().ok());
  } else {
    CHECK(async_flusher->Stop().ok());
  }
  CHECK_EQ(failures.load(), 0);
  CHECK_EQ(log.FlushedOffset(), log.MaxOffset());
  CHECK(log.file_queue().Destroy().ok());
  return result;
}

RunResult Run(const RunConfig& config) {
  const std::string dir = NewDir();
  RunResult result = RunIn(dir, config);
  // After the allocator is gone, with any file it had prepared.
  std::filesystem::remove_all(dir);
  return result;
}

void Report(const char* name, const RunConfig& config, const RunResult& r) {
  double rate = r.messages / r.seconds;
  double mib = rate * absl::GetFlag(FLAGS_body_bytes) / (1 << 20);
  std::printf("%-17s appenders=%-3d batch=%-3d %12.0f msgs/s %8.1f MiB/s", name, config.appenders,
              config.batch, rate, mib);
  std::printf("  (%.2f us appender CPU/msg)", r.appender_cpu_seconds * 1e6 / r.messages);
  if (r.flushes > 0) {
    std::printf("  flushes=%lld (%.1f msgs/flush)", static_cast<long long>(r.flushes),
                static_cast<double>(r.messages) / r.flushes);
  }
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace
}  // namespace mq::store

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Warnings and errors to stderr; no log files.
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = google::GLOG_WARNING;
  google::InitGoogleLogging(argv[0]);
  using mq::store::FlushMode;
  using mq::store::RunConfig;
  for (const std::string& variant : absl::GetFlag(FLAGS_async_variants)) {
    CHECK(variant == "prefaulted" || variant == "end-to-end") << variant;
    const bool prefault = variant == "prefaulted";
    for (const std::string& count : absl::GetFlag(FLAGS_async_appenders)) {
      RunConfig config;
      config.mode = FlushMode::kAsync;
      config.appenders = std::stoi(count);
      config.batch = absl::GetFlag(FLAGS_batch);
      config.messages = absl::GetFlag(FLAGS_async_messages);
      config.prefault = prefault;
      mq::store::Report(absl::StrCat("async ", variant).c_str(), config, mq::store::Run(config));
    }
  }
  double first_rate = 0;
  int first_appenders = 0;
  for (const std::string& count : absl::GetFlag(FLAGS_sync_appenders)) {
    RunConfig config;
    config.mode = FlushMode::kSync;
    config.appenders = std::stoi(count);
    mq::store::RunResult r = mq::store::Run(config);
    mq::store::Report("sync", config, r);
    double rate = r.messages / r.seconds;
    if (first_appenders == 0) {
      first_rate = rate;
      first_appenders = config.appenders;
    } else {
      std::printf("%17s speed-up of %d over %d appenders: %.1fx\n", "", config.appenders,
                  first_appenders, rate / first_rate);
    }
  }
  return 0;
}
