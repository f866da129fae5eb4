// RocketMQ 5 sends through the split deployment's proxy, with its route cache
// on and off, in one run: a name server, a store and broker, and two proxy
// processes, one with --v5_route_cache_ttl=<--cache_ttl>, one with
// --v5_route_cache_ttl=0s (every send asks the name server for the route).
// `--in_flight` threads each send unary apache.rocketmq.v2 SendMessage calls
// (one NORMAL message of --body_bytes) back to back; the two proxies take
// turns (--rounds rounds of --duration / rounds each) so both see the same
// machine. Prints msgs/s and p50/p99 of each, and the on/off ratios.
//
//   bazel run -c opt //benchmarks:v5_send_benchmark -- --duration=20s --in_flight=32
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
#include "proto/apache/rocketmq/v2/messaging.grpc.pb.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

ABSL_FLAG(absl::Duration, duration, absl::Seconds(20),
          "Load time per proxy, in --rounds turns alternating between them.");
ABSL_FLAG(int, rounds, 4, "Turns per proxy.");
ABSL_FLAG(int, in_flight, 32, "Concurrent SendMessage calls (one thread each).");
ABSL_FLAG(int, channels, 4, "Connections to each proxy the threads share.");
ABSL_FLAG(int, body_bytes, 1024, "Message body size.");
ABSL_FLAG(int, queues, 8, "Queues of the topic.");
ABSL_FLAG(absl::Duration, cache_ttl, absl::Seconds(3),
          "--v5_route_cache_ttl of the proxy with the cache on.");

namespace mq {
namespace {

namespace v2 = apache::rocketmq::v2;
using testing::ServerProcess;

constexpr char kTopic[] = "V5SendBench";

struct Result {
  int64_t ok = 0;
  int64_t failed = 0;
  absl::Duration elapsed;
  std::vector<absl::Duration> latencies;
  std::string first_error;
};

absl::Duration Percentile(std::vector<absl::Duration> values, double p) {
  if (values.empty()) return absl::ZeroDuration();
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

// `threads` senders of unary SendMessage against the proxy at `address` for
// `duration`; adds to `result`.
void Load(const std::vector<std::shared_ptr<grpc::Channel>>& channels, absl::Duration duration,
          Result* result) {
  const std::string body(absl::GetFlag(FLAGS_body_bytes), 'b');
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < absl::GetFlag(FLAGS_in_flight); ++t) {
    threads.emplace_back([&, t] {
      auto stub = v2::MessagingService::NewStub(channels[t % channels.size()]);
      v2::SendMessageRequest request;
      v2::Message* message = request.add_messages();
      message->mutable_topic()->set_name(kTopic);
      message->set_body(body);
      message->mutable_system_properties()->set_message_type(v2::MessageType::NORMAL);
      Result local;
      for (int64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        message->mutable_system_properties()->set_message_id(absl::StrFormat("%04X%016X", t, i));
        v2::SendMessageResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        context.AddMetadata("x-mq-client-id", absl::StrCat("v5-send-bench-", t));
        absl::Time start = absl::Now();
        grpc::Status status = stub->SendMessage(&context, request, &response);
        local.latencies.push_back(absl::Now() - start);
        if (status.ok() && response.status().code() == v2::Code::OK) {
          ++local.ok;
        } else {
          ++local.failed;
          if (local.first_error.empty()) {
            local.first_error =
                status.ok() ? response.status().DebugString() : status.error_message();
          }
        }
      }
      absl::MutexLock lock(&mu);
      result->ok += local.ok;
      result->failed += local.failed;
      result->latencies.insert(result->latencies.end(), local.latencies.begin(),
                               local.latencies.end());
      if (result->first_error.empty()) result->first_error = local.first_error;
    });
  }
  absl::Time started = absl::Now();
  absl::SleepFor(duration);
  stop = true;
  for (std::thread& thread : threads) thread.join();
  result->elapsed += absl::Now() - started;
}

double Rate(const Result& r) {
  return static_cast<double>(r.ok) / absl::ToDoubleSeconds(r.elapsed);
}

void Print(const char* name, const Result& r) {
  std::printf("%-10s %9.0f msgs/s  p50 %6.2f ms  p99 %7.2f ms  ok %lld failed %lld%s%s\n", name,
              Rate(r), absl::ToDoubleMilliseconds(Percentile(r.latencies, 0.50)),
              absl::ToDoubleMilliseconds(Percentile(r.latencies, 0.99)),
              static_cast<long long>(r.ok), static_cast<long long>(r.failed),
              r.first_error.empty() ? "" : "  first error: ", r.first_error.c_str());
}

absl::StatusOr<std::unique_ptr<ServerProcess>> StartProxy(const std::string& name,
                                                          const std::string& namesrv,
                                                          absl::Duration ttl) {
  return ServerProcess::Start(name, testing::RunfilePath("services/proxy/proxy"),
                              {"--port=0", absl::StrCat("--namesrv_addr=", namesrv),
                               absl::StrCat("--v5_route_cache_ttl=", absl::FormatDuration(ttl))});
}

int Fail(const absl::Status& status) {
  std::cerr << "v5_send_benchmark: " << status << "\n";
  return 1;
}

int Main() {
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  const absl::Duration turn = absl::GetFlag(FLAGS_duration) / rounds;
  std::string data_dir = testing::MakeTempDir("v5-send-bench");
  absl::StatusOr<std::unique_ptr<ServerProcess>> namesrv = testing::StartNamesrv();
  if (!namesrv.ok()) return Fail(namesrv.status());
  absl::StatusOr<testing::BrokerGroups> brokers =
      testing::StartBrokerGroups({"broker-a"}, (*namesrv)->address(), data_dir, int64_t{256} << 20);
  if (!brokers.ok()) return Fail(brokers.status());
  absl::Status created =
      testing::CreateTopic(brokers->brokers[0]->address(), kTopic, absl::GetFlag(FLAGS_queues));
  if (created.ok()) created = testing::WaitForRoute((*namesrv)->address(), kTopic, 1);
  if (!created.ok()) return Fail(created);
  absl::StatusOr<std::unique_ptr<ServerProcess>> cached =
      StartProxy("proxy-cache", (*namesrv)->address(), absl::GetFlag(FLAGS_cache_ttl));
  if (!cached.ok()) return Fail(cached.status());
  absl::StatusOr<std::unique_ptr<ServerProcess>> uncached =
      StartProxy("proxy-nocache", (*namesrv)->address(), absl::ZeroDuration());
  if (!uncached.ok()) return Fail(uncached.status());
  auto channels = [](const std::string& address) {
    std::vector<std::shared_ptr<grpc::Channel>> out;
    for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_channels)); ++i) {
      out.push_back(CreateDedicatedChannel(address));
    }
    return out;
  };
  std::vector<std::shared_ptr<grpc::Channel>> on_channels = channels((*cached)->address());
  std::vector<std::shared_ptr<grpc::Channel>> off_channels = channels((*uncached)->address());

  std::printf(
      "v5 SendMessage through the proxy: %d calls in flight, %d B bodies, %s per proxy "
      "in %d turns; cache on = --v5_route_cache_ttl=%s\n",
      absl::GetFlag(FLAGS_in_flight), absl::GetFlag(FLAGS_body_bytes),
      absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(), rounds,
      absl::FormatDuration(absl::GetFlag(FLAGS_cache_ttl)).c_str());
  // Warm-up: connections, the broker's first writes.
  Result warm_up;
  Load(on_channels, absl::Seconds(1), &warm_up);
  Load(off_channels, absl::Seconds(1), &warm_up);
  Result on, off;
  for (int round = 0; round < rounds; ++round) {
    // Alternate who goes first, so neither always follows the other.
    if (round % 2 == 0) {
      Load(off_channels, turn, &off);
      Load(on_channels, turn, &on);
    } else {
      Load(on_channels, turn, &on);
      Load(off_channels, turn, &off);
    }
  }
  Print("cache off", off);
  Print("cache on", on);
  if (Rate(off) > 0 && !off.latencies.empty()) {
    std::printf(
        "on/off: throughput %.2fx, p50 %.2fx, p99 %.2fx\n", Rate(on) / Rate(off),
        absl::FDivDuration(Percentile(on.latencies, 0.50), Percentile(off.latencies, 0.50)),
        absl::FDivDuration(Percentile(on.latencies, 0.99), Percentile(off.latencies, 0.99)));
  }
  std::fflush(stdout);
  for (ServerProcess* process : {cached->get(), uncached->get()}) {
    absl::Status stopped = process->Stop();
    if (!stopped.ok()) std::cerr << "stop: " << stopped << "\n";
  }
  for (int i = static_cast<int>(brokers->brokers.size()) - 1; i >= 0; --i) {
    absl::Status stopped = brokers->brokers[i]->Stop();
    if (stopped.ok()) stopped = brokers->stores[i]->Stop();
    if (!stopped.ok()) std::cerr << "stop: " << stopped << "\n";
  }
  absl::Status stopped = (*namesrv)->Stop();
  if (!stopped.ok()) std::cerr << "stop: " << stopped << "\n";
  std::error_code ignored;
  std::filesystem::remove_all(data_dir, ignored);
  return off.failed + on.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace mq

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return mq::Main();
}
