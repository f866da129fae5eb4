// Replication benchmark with real processes: a name server, a master store
// and broker, a slave store. Senders push batches through the broker's
// SendBatch for a fixed time, first with an ASYNC_MASTER group, then with a
// SYNC_MASTER group (fresh data directories, same load). Prints the send
// throughput and latency of both, the SYNC/ASYNC throughput ratio, and how far
// the slave lagged (in bytes, sampled, and the drain time after the load).
//
//   bazel run -c opt //benchmarks:replication_benchmark -- --duration=10s --senders=8
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/grpc_options.h"
#include "proto/broker.grpc.pb.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Load time per mode.");
ABSL_FLAG(int, senders, 8, "Concurrent sender threads.");
ABSL_FLAG(int, batch, 32, "Messages per SendBatch.");
ABSL_FLAG(int, body_size, 256, "Bytes per message body.");
ABSL_FLAG(int64_t, commit_log_file_size, int64_t{128} << 20, "Commit-log file size of the stores.");
ABSL_FLAG(std::string, ha_transfer_batch_size, "",
          "Passed to the master store when set (bytes per replication message).");

namespace mq {
namespace {

namespace bv1 = broker::v1;
namespace sv1 = store::v1;

constexpr char kTopic[] = "BenchTopic";
constexpr int kQueues = 8;

struct Result {
  std::string mode;
  double messages_per_second = 0;
  double megabytes_per_second = 0;
  int64_t send_ok = 0;
  int64_t send_other = 0;
  int64_t send_failed = 0;
  absl::Duration latency_p50;
  absl::Duration latency_p99;
  int64_t lag_p50 = 0;
  int64_t lag_p99 = 0;
  int64_t lag_max = 0;
  absl::Duration drain;
};

template <typename T>
T Percentile(std::vector<T> values, double p) {
  if (values.empty()) return T();
  std::sort(values.begin(), values.end());
  size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[index];
}

int Fail(const absl::Status& status) {
  std::cerr << "replication_benchmark: " << status << "\n";
  return 1;
}

absl::StatusOr<Result> Run(const std::string& role) {
  using testing::ServerProcess;
  std::string master_dir = testing::MakeTempDir("bench-master");
  std::string slave_dir = testing::MakeTempDir("bench-slave");
  const int64_t file_size = absl::GetFlag(FLAGS_commit_log_file_size);
  absl::StatusOr<std::unique_ptr<ServerProcess>> namesrv = testing::StartNamesrv();
  if (!namesrv.ok()) return namesrv.status();
  std::vector<std::string> master_flags = {absl::StrCat("--role=", role)};
  if (!absl::GetFlag(FLAGS_ha_transfer_batch_size).empty()) {
    master_flags.push_back(
        absl::StrCat("--ha_transfer_batch_size=", absl::GetFlag(FLAGS_ha_transfer_batch_size)));
  }
  absl::StatusOr<std::unique_ptr<ServerProcess>> master =
      testing::StartStore("store-m", master_dir, file_size, master_flags);
  if (!master.ok()) return master.status();
  absl::StatusOr<std::unique_ptr<ServerProcess>> slave = testing::StartStore(
      "store-s", slave_dir, file_size,
      {"--role=SLAVE", "--broker_id=1", absl::StrCat("--master_address=", (*master)->address())});
  if (!slave.ok()) return slave.status();
  absl::StatusOr<std::unique_ptr<ServerProcess>> broker = testing::StartBroker(
      "broker-m", (*master)->address(), (*namesrv)->address(), {absl::StrCat("--role=", role)});
  if (!broker.ok()) return broker.status();
  std::unique_ptr<bv1::Broker::Stub> stub =
      bv1::Broker::NewStub(CreateChannel((*broker)->address()));
  {
    bv1::CreateOrUpdateTopicRequest request;
    request.mutable_config()->set_topic_name(kTopic);
    request.mutable_config()->set_read_queue_nums(kQueues);
    request.mutable_config()->set_write_queue_nums(kQueues);
    request.mutable_config()->set_perm(6);
    bv1::CreateOrUpdateTopicResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub->CreateOrUpdateTopic(&context, request, &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
  }
  // The slave must be connected before the load, or SYNC_MASTER answers
  // SLAVE_NOT_AVAILABLE.
  absl::Time connect_deadline = absl::Now() + absl::Seconds(20);
  while (true) {
    absl::StatusOr<sv1::GetStatsResponse> stats = testing::StoreStats((*master)->address());
    if (stats.ok() && stats->slaves_size() == 1) break;
    if (absl::Now() > connect_deadline) return absl::DeadlineExceededError("slave never connected");
    absl::SleepFor(absl::Milliseconds(50));
  }

  const int batch = absl::GetFlag(FLAGS_batch);
  const std::string body(absl::GetFlag(FLAGS_body_size), 'b');
  std::atomic<bool> stop{false};
  std::atomic<int64_t> send_ok{0}, send_other{0}, send_failed{0};
  absl::Mutex mu;
  std::vector<absl::Duration> latencies;
  std::vector<int64_t> lags;

  std::vector<std::thread> threads;
  for (int s = 0; s < absl::GetFlag(FLAGS_senders); ++s) {
    threads.emplace_back([&] {
      std::vector<absl::Duration> local;
      bv1::SendBatchRequest request;
      request.set_producer_group("bench-producer");
      request.set_topic(kTopic);
      request.set_queue_id(-1);
      for (int i = 0; i < batch; ++i) {
        common::v1::Message* message = request.add_messages();
        message->set_topic(kTopic);
        message->set_body(body);
      }
      while (!stop.load()) {
        bv1::SendBatchResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        absl::Time start = absl::Now();
        grpc::Status status = stub->SendBatch(&context, request, &response);
        local.push_back(absl::Now() - start);
        if (!status.ok()) {
          send_failed += batch;
        } else if (response.status() == bv1::SEND_OK) {
          send_ok += batch;
        } else {
          send_other += batch;
        }
      }
      absl::MutexLock lock(&mu);
      latencies.insert(latencies.end(), local.begin(), local.end());
    });
  }
  threads.emplace_back([&] {
    while (!stop.load()) {
      absl::StatusOr<sv1::GetStatsResponse> stats = testing::StoreStats((*master)->address());
      if (stats.ok() && stats->slaves_size() > 0) {
        int64_t lag = stats->max_physical_offset() - stats->slaves(0).acked_offset();
        absl::MutexLock lock(&mu);
        lags.push_back(std::max<int64_t>(0, lag));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  absl::Time started = absl::Now();
  absl::SleepFor(absl::GetFlag(FLAGS_duration));
  stop = true;
  for (std::thread& t : threads) t.join();
  absl::Duration elapsed = absl::Now() - started;

  // How long the slave takes to hold everything once the load stops.
  absl::Time load_end = absl::Now();
  absl::Duration drain;
  while (true) {
    absl::StatusOr<sv1::GetStatsResponse> m = testing::StoreStats((*master)->address());
    absl::StatusOr<sv1::GetStatsResponse> s = testing::StoreStats((*slave)->address());
    if (m.ok() && s.ok() && s->max_physical_offset() == m->max_physical_offset()) {
      drain = absl::Now() - load_end;
      break;
    }
    if (absl::Now() - load_end > absl::Seconds(60)) {
      return absl::DeadlineExceededError("the slave did not catch up within 60 s");
    }
    absl::SleepFor(absl::Milliseconds(1));
  }

  Result result;
  result.mode = role;
  result.send_ok = send_ok;
  result.send_other = send_other;
  result.send_failed = send_failed;
  double seconds = absl::ToDoubleSeconds(elapsed);
  result.messages_per_second = static_cast<double>(send_ok + send_other) / seconds;
  result.megabytes_per_second = result.messages_per_second * body.size() / (1 << 20);
  result.latency_p50 = Percentile(latencies, 0.50);
  result.latency_p99 = Percentile(latencies, 0.99);
  result.lag_p50 = Percentile(lags, 0.50);
  result.lag_p99 = Percentile(lags, 0.99);
  result.lag_max = lags.empty() ? 0 : *std::max_element(lags.begin(), lags.end());
  result.drain = drain;
  for (auto* process : {&*broker, &*slave, &*master, &*namesrv}) {
    absl::Status stopped = (*process)->Stop();
    if (!stopped.ok()) std::cerr << "stop: " << stopped << "\n";
  }
  std::error_code ignored;
  std::filesystem::remove_all(master_dir, ignored);
  std::filesystem::remove_all(slave_dir, ignored);
  return result;
}

void Print(const Result& r) {
  std::printf(
      "%-12s %9.0f msg/s %7.2f MB/s  send p50 %6.2f ms p99 %7.2f ms  ok %lld other %lld "
      "failed %lld  slave lag p50 %lld B p99 %lld B max %lld B  drain %.1f ms\n",
      r.mode.c_str(), r.messages_per_second, r.megabytes_per_second,
      absl::ToDoubleMilliseconds(r.latency_p50), absl::ToDoubleMilliseconds(r.latency_p99),
      static_cast<long long>(r.send_ok), static_cast<long long>(r.send_other),
      static_cast<long long>(r.send_failed), static_cast<long long>(r.lag_p50),
      static_cast<long long>(r.lag_p99), static_cast<long long>(r.lag_max),
      absl::ToDoubleMilliseconds(r.drain));
  std::fflush(stdout);
}

}  // namespace
}  // namespace mq

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::printf(
      "replication benchmark: %d senders x %d messages of %d bytes per batch, %s per mode\n",
      absl::GetFlag(FLAGS_senders), absl::GetFlag(FLAGS_batch), absl::GetFlag(FLAGS_body_size),
      absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str());
  absl::StatusOr<mq::Result> async_master = mq::Run("ASYNC_MASTER");
  if (!async_master.ok()) return mq::Fail(async_master.status());
  mq::Print(*async_master);
  absl::StatusOr<mq::Result> sync_master = mq::Run("SYNC_MASTER");
  if (!sync_master.ok()) return mq::Fail(sync_master.status());
  mq::Print(*sync_master);
  double ratio = sync_master->messages_per_second / async_master->messages_per_second;
  std::printf("SYNC_MASTER / ASYNC_MASTER throughput: %.2f (target >= 0.60)\n", ratio);
  return 0;
}
