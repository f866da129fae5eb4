// Send throughput and latency of the broker over gRPC, 1 KiB messages, async
// flush, against the standalone server and the split services (namesrv +
// store + broker processes), next to a null gRPC echo of the same payload
// measured in the same run on the same machine (the transport ceiling):
//   sync single-message sends with --in_flight calls outstanding (threads);
//   batched sends of --batch messages with --batch_threads threads.
// Every server runs as a child process started from this binary's runfiles
// (or, for the echo server, this binary with --serve_echo).
#include <grpcpp/client_context.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/grpc_options.h"
#include "proto/broker.grpc.pb.h"
#include "tests/bench/echo.grpc.pb.h"
#include "tests/support/server_process.h"

ABSL_FLAG(bool, serve_echo, false, "Run as the echo server (used by the benchmark itself).");
ABSL_FLAG(int, in_flight, 64, "Concurrent sync calls in the single-message runs.");
ABSL_FLAG(int, batch, 32, "Messages per batch in the batched runs.");
ABSL_FLAG(int, batch_threads, 8, "Concurrent batch calls.");
ABSL_FLAG(int, body_bytes, 1024, "Message body size.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Length of each run.");

namespace mq::bench {
namespace {

// On gRPC's callback API, as the broker's service, so both pay the same
// server-side transport costs.
class EchoService final : public v1::Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const v1::EchoMessage* request,
                                 v1::EchoMessage* response) override {
    *response = *request;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

int ServeEcho() {
  EchoService service;
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(&builder);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  std::cout << "echo listening on 127.0.0.1:" << port << std::endl;
  server->Wait();
  return 0;
}

struct Result {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int64_t calls = 0;
  int64_t failures = 0;
};

// Runs `call` on `threads` threads for the duration; each call moves `items`
// messages. Latencies are per call.
Result Measure(int threads, int items, const std::function<bool()>& call) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(threads);
  std::atomic<int64_t> failures{0};
  std::vector<std::thread> workers;
  absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      while (!stop.load(std::memory_order_relaxed)) {
        absl::Time begin = absl::Now();
        bool ok = call();
        latencies[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - begin));
        if (!ok) failures.fetch_add(1);
      }
    });
  }
  absl::SleepFor(absl::GetFlag(FLAGS_duration));
  stop = true;
  for (std::thread& w : workers) w.join();
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result result;
  result.calls = static_cast<int64_t>(all.size());
  result.failures = failures.load();
  result.per_second = static_cast<double>(result.calls - result.failures) * items / seconds;
  if (!all.empty()) {
    result.p50_ms = all[all.size() / 2];
    result.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return result;
}

void Print(const std::string& name, const Result& r, const char* unit) {
  std::printf("%-44s %10.0f %s/s   p50 %7.2f ms   p99 %7.2f ms   (%ld calls, %ld failed)\n",
              name.c_str(), r.per_second, unit, r.p50_ms, r.p99_ms, static_cast<long>(r.calls),
              static_cast<long>(r.failures));
  std::fflush(stdout);
}

std::unique_ptr<testing::ServerProcess> StartOrDie(const std::string& name,
                                                   const std::string& binary,
                                                   const std::vector<std::string>& args) {
  absl::StatusOr<std::unique_ptr<testing::ServerProcess>> process =
      testing::ServerProcess::Start(name, binary, args);
  if (!process.ok()) {
    std::cerr << process.status() << "\n";
    std::exit(1);
  }
  return *std::move(process);
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return context;
}

void BenchBroker(const std::string& label, const std::string& address) {
  std::shared_ptr<grpc::Channel> channel = CreateChannel(address);
  std::unique_ptr<broker::v1::Broker::Stub> stub = broker::v1::Broker::NewStub(channel);
  broker::v1::CreateOrUpdateTopicRequest create;
  create.mutable_config()->set_topic_name("BenchTopic");
  create.mutable_config()->set_read_queue_nums(8);
  create.mutable_config()->set_write_queue_nums(8);
  create.mutable_config()->set_perm(6);
  broker::v1::CreateOrUpdateTopicResponse created;
  auto context = Context();
  grpc::Status status = stub->CreateOrUpdateTopic(context.get(), create, &created);
  if (!status.ok()) {
    std::cerr << label << ": create topic: " << status.error_message() << "\n";
    std::exit(1);
  }
  const std::string body(absl::GetFlag(FLAGS_body_bytes), 'm');
  Print(absl::StrCat(label, ": sync send, ", absl::GetFlag(FLAGS_in_flight), " in flight"),
        Measure(absl::GetFlag(FLAGS_in_flight), 1,
                [&] {
                  broker::v1::SendMessageRequest request;
                  request.set_producer_group("bench");
                  request.set_queue_id(-1);
                  request.mutable_message()->set_topic("BenchTopic");
                  request.mutable_message()->set_body(body);
                  broker::v1::SendMessageResponse response;
                  auto ctx = Context();
                  return stub->SendMessage(ctx.get(), request, &response).ok();
                }),
        "msgs");
  const int batch = absl::GetFlag(FLAGS_batch);
  std::atomic<int> next_queue{0};
  Print(absl::StrCat(label, ": batch of ", batch, ", ", absl::GetFlag(FLAGS_batch_threads),
                     " in flight"),
        Measure(absl::GetFlag(FLAGS_batch_threads), batch,
                [&] {
                  broker::v1::SendBatchRequest request;
                  request.set_producer_group("bench");
                  request.set_topic("BenchTopic");
                  request.set_queue_id(next_queue.fetch_add(1) % 8);
                  for (int i = 0; i < batch; ++i) {
                    common::v1::Message* m = request.add_messages();
                    m->set_topic("BenchTopic");
                    m->set_body(body);
                  }
                  broker::v1::SendBatchResponse response;
                  auto ctx = Context();
                  return stub->SendBatch(ctx.get(), request, &response).ok();
                }),
        "msgs");
}

int RunBenchmarks(const char* self) {
  const std::string body(absl::GetFlag(FLAGS_body_bytes), 'm');
  // Under $TEST_TMPDIR, or /tmp.
  std::string data = testing::MakeTempDir("broker-bench");
  {
    auto echo = StartOrDie("echo", self, {"--serve_echo"});
    std::unique_ptr<v1::Echo::Stub> stub = v1::Echo::NewStub(CreateChannel(echo->address()));
    Print(absl::StrCat("null gRPC echo of ", body.size(), " B, ", absl::GetFlag(FLAGS_in_flight),
                       " in flight"),
          Measure(absl::GetFlag(FLAGS_in_flight), 1,
                  [&] {
                    v1::EchoMessage request;
                    request.set_payload(body);
                    v1::EchoMessage response;
                    auto ctx = Context();
                    return stub->Echo(ctx.get(), request, &response).ok();
                  }),
          "calls");
    stub.reset();
    echo->Kill();
  }
  {
    auto standalone =
        StartOrDie("standalone", testing::RunfilePath("services/standalone/standalone"),
                   {"--port=0", "--listen_address=127.0.0.1",
                    absl::StrCat("--data_dir=", data, "/standalone"), "--broker_name=bench"});
    BenchBroker("standalone", standalone->address());
    (void)standalone->Stop();
  }
  {
    auto namesrv = StartOrDie("namesrv", testing::RunfilePath("services/namesrv/namesrv"),
                              {"--port=0", "--listen_address=127.0.0.1"});
    auto store = StartOrDie(
        "store", testing::RunfilePath("services/store/store"),
        {"--port=0", "--listen_address=127.0.0.1", absl::StrCat("--data_dir=", data, "/store")});
    auto broker = StartOrDie("broker", testing::RunfilePath("services/broker/broker"),
                             {"--port=0", "--listen_address=127.0.0.1", "--broker_name=bench",
                              absl::StrCat("--namesrv_addr=", namesrv->address()),
                              absl::StrCat("--store_address=", store->address())});
    BenchBroker("split services", broker->address());
    (void)broker->Stop();
    (void)store->Stop();
    (void)namesrv->Stop();
  }
  std::error_code ignored;
  std::filesystem::remove_all(data, ignored);
  return 0;
}

}  // namespace
}  // namespace mq::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_serve_echo)) return mq::bench::ServeEcho();
  return mq::bench::RunBenchmarks(argv[0]);
}
