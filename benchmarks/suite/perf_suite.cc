// The measuring half of the benchmark suite (benchmarks/suite/run_suite.py runs it
// next to Redis and makes the table and the plot). With --body_bytes messages
// and the client in this process, it measures:
//   the transport ceiling: a null gRPC unary echo at each in-flight window, a
//     bidi-stream echo and a batch echo, served by this binary (--serve_echo);
//   each deployment (standalone; split namesrv + store + broker): single sends
//     at each window, single sends over SendMessageStream, batched sends
//     (with the servers' peak memory), a fill of
//     --catchup_messages and their catch-up read, produce-to-consume latency
//     at half the peak single-send rate, then, restarted with SYNC_FLUSH,
//     sends at window 1 and --in_flight and batched sends.
// Each figure is printed as a line "ROW<TAB>id<TAB>value<TAB>p50_ms<TAB>p99_ms
// <TAB>calls<TAB>failures" (value: messages per second, or MiB for memory
// rows) followed by a readable line.
// --rows=ID_PREFIX,... measures only those rows (for comparing one row across
// builds), e.g. --rows=split.batch,echo.batch.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "benchmarks/suite/broker_load.h"
#include "benchmarks/suite/cleanup_on_signal.h"
#include "benchmarks/suite/echo.grpc.pb.h"
#include "benchmarks/suite/echo_service.h"
#include "benchmarks/suite/load_generator.h"
#include "benchmarks/suite/pipelined_stream_client.h"
#include "benchmarks/suite/server_memory.h"
#include "common/grpc_options.h"
#include "common/tls.h"
#include "mq/message.h"
#include "mq/producer.h"
#include "mq/push_consumer.h"
#include "proto/acl.grpc.pb.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"

ABSL_FLAG(bool, serve_echo, false, "Run as the echo server (used by the suite itself).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "Length of each timed run.");
ABSL_FLAG(int, body_bytes, 1024, "Message body size.");
ABSL_FLAG(int, in_flight, 64, "Calls in flight in the single-message runs.");
ABSL_FLAG(std::string, windows, "1,4,16,64,256",
          "In-flight windows of the single-message sweep (the plot's x axis).");
ABSL_FLAG(int, channels, 4,
          "gRPC channels (connections) the load is spread over; 4, as the C++ Producer keeps "
          "4 send streams per broker, each on a connection of its own.");
ABSL_FLAG(int, batch, 32, "Messages per batch in the batched runs.");
ABSL_FLAG(int, batch_in_flight, 8, "Batches in flight in the batched runs.");
ABSL_FLAG(int, queues, 8, "Queues of the benchmark topics.");
ABSL_FLAG(int64_t, catchup_messages, 1000000, "Messages stored, then read back.");
ABSL_FLAG(int, pull_batch, mq::PushConsumerOptions().pull_batch_size,
          "Messages per pull in the catch-up read (default: the push consumer's).");
ABSL_FLAG(int, pull_chains_per_queue, 2, "Pulls in flight per queue in the catch-up read.");
ABSL_FLAG(int, pop_receivers, 4,
          "Receivers (threads) of the POP catch-up and of the redelivery drain.");
ABSL_FLAG(int, pop_acks_in_flight, 4,
          "Acks each POP receiver sends without waiting for their answer.");
ABSL_FLAG(bool, pop_stored_records, true,
          "POP rows: answers as stored records (as the C++ SimpleConsumer asks), else as message "
          "fields.");
ABSL_FLAG(absl::Duration, pop_invisible, absl::Seconds(30),
          "Invisible time of the messages of the POP redelivery row.");
ABSL_FLAG(int64_t, pop_redelivery_in_flight, 100000,
          "Messages in flight when the POP redelivery latency is measured.");
ABSL_FLAG(bool, pull_stored_records, true,
          "Catch-up pulls ask for stored records (as the C++ client does), not message fields.");
ABSL_FLAG(std::string, deployments, "standalone,split",
          "Deployments to measure: standalone, split, and the same served and dialed over TLS "
          "(standalone-tls, split-tls: every port TLS-only with a self-signed certificate, the "
          "broker dialing its store and name server over TLS).");
ABSL_FLAG(std::string, acl, "off",
          "Access control of the deployments: off, on, or off,on (each in turn). On: "
          "--acl_enable with a cluster secret; the raw Broker loads sign as the cluster identity, "
          "the Producer as an ordinary user; those rows are named <deployment>+acl.<row>.");
ABSL_FLAG(bool, echo, true, "Measure the transport ceiling rows.");
ABSL_FLAG(std::vector<std::string>, rows, {},
          "Measure only the rows whose id starts with one of these (comma-separated), e.g. "
          "--rows=split.batch,standalone.send.w64; empty measures every row.");
ABSL_FLAG(std::vector<std::string>, broker_args, {},
          "Extra flags for the standalone server and the broker (comma-separated), e.g. "
          "--broker_args=--send_threads=64.");
ABSL_FLAG(std::vector<std::string>, store_args, {},
          "Extra flags for the standalone server and the store (comma-separated), e.g. "
          "--store_args=--commit_log_prefault_bytes=0.");

ABSL_FLAG(std::vector<std::string>, coalesce, std::vector<std::string>({"on", "off"}),
          "Producer rows: measure with coalescing of sends on (row id as is), off (row id + "
          "'.nocoalesce'), or both, one after the other.");
ABSL_FLAG(int, producer_async_window, 1024, "Sends in flight of the async Producer row.");
ABSL_FLAG(int, coalesce_max_frames_in_flight, mq::ClientOptions().coalesce_max_frames_in_flight,
          "Coalesced Producer rows: ClientOptions::coalesce_max_frames_in_flight.");

namespace mq::bench {
namespace {

// Whether the row `id` is to be measured (--rows).
bool Wanted(absl::string_view id) {
  const std::vector<std::string> rows = absl::GetFlag(FLAGS_rows);
  if (rows.empty()) return true;
  for (const std::string& row : rows) {
    if (absl::StartsWith(id, row)) return true;
  }
  return false;
}

// Whether any row whose id starts with `group` (e.g. "split.syncflush.") is
// to be measured, other than those starting with `except` (if not empty).
bool AnyWanted(absl::string_view group, absl::string_view except = "") {
  if (Wanted(group)) return true;
  for (const std::string& row : absl::GetFlag(FLAGS_rows)) {
    if (absl::StartsWith(row, group) && (except.empty() || !absl::StartsWith(row, except))) {
      return true;
    }
  }
  return false;
}

void Report(const std::string& id, const std::string& what, const LoadResult& r) {
  std::printf("ROW\t%s\t%.1f\t%.3f\t%.3f\t%ld\t%ld\n", id.c_str(), r.per_second, r.p50_ms, r.p99_ms,
              static_cast<long>(r.calls), static_cast<long>(r.failures));
  std::printf("  %-58s %10.0f msgs/s  p50 %7.2f ms  p99 %7.2f ms  (%ld calls, %ld failed)\n",
              what.c_str(), r.per_second, r.p50_ms, r.p99_ms, static_cast<long>(r.calls),
              static_cast<long>(r.failures));
  std::fflush(stdout);
}

// Runs `measure` and reports it as row `id`, if that row is wanted.
void MeasureRow(const std::string& id, const std::string& what,
                const std::function<LoadResult()>& measure) {
  if (Wanted(id)) Report(id, what, measure());
}

void ReportMemory(const std::string& id, const MemoryPeak& peak) {
  std::printf("ROW\t%s.rss_anon\t%.1f\t0\t0\t0\t0\nROW\t%s.rss_file\t%.1f\t0\t0\t0\t0\n",
              id.c_str(), peak.anon_mib, id.c_str(), peak.file_mib);
  std::printf("  %-58s %10.1f MiB private, %.1f MiB mapped file pages\n",
              "server memory peak under the batched load", peak.anon_mib, peak.file_mib);
  std::fflush(stdout);
}

std::vector<int> Windows() {
  std::vector<int> windows;
  for (absl::string_view w : absl::StrSplit(absl::GetFlag(FLAGS_windows), ',', absl::SkipEmpty())) {
    int value = 0;
    if (absl::SimpleAtoi(w, &value) && value > 0) windows.push_back(value);
  }
  return windows;
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

void CheckOk(const absl::Status& status) {
  if (!status.ok()) {
    std::cerr << status << "\n";
    std::exit(1);
  }
}

std::string Payload(size_t bytes) { return std::string(bytes, 'e'); }

void MeasureEcho(const char* self) {
  auto echo = StartOrDie("echo", self, {"--serve_echo"});
  const int channels = absl::GetFlag(FLAGS_channels);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  std::vector<std::unique_ptr<v1::Echo::Stub>> stubs;
  for (int i = 0; i < channels; ++i) {
    stubs.push_back(v1::Echo::NewStub(CreateDedicatedChannel(echo->address())));
  }
  struct Slot {
    std::unique_ptr<grpc::ClientContext> context;
    v1::EchoMessage request;
    v1::EchoMessage response;
    v1::EchoBatchMessage batch_request;
    v1::EchoBatchMessage batch_response;
  };
  const int max_window = std::max(absl::GetFlag(FLAGS_in_flight), 256);
  std::vector<Slot> slots(max_window);
  for (Slot& slot : slots) {
    slot.request.set_payload(Payload(absl::GetFlag(FLAGS_body_bytes)));
    for (int i = 0; i < absl::GetFlag(FLAGS_batch); ++i) {
      slot.batch_request.add_payloads(Payload(absl::GetFlag(FLAGS_body_bytes)));
    }
  }
  auto context = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return c;
  };
  StartCall unary = [&](int index, std::function<void(bool)> done) {
    Slot& slot = slots[index];
    slot.context = context();
    stubs[index % channels]->async()->Echo(
        slot.context.get(), &slot.request, &slot.response,
        [done = std::move(done)](grpc::Status status) { done(status.ok()); });
  };
  for (int window : Windows()) {
    if (window > max_window) continue;
    MeasureRow(absl::StrCat("echo.unary.w", window),
               absl::StrCat("null unary echo, ", window, " in flight"),
               [&] { return RunClosedLoop(window, 1, duration, unary); });
  }
  StartCall batch = [&](int index, std::function<void(bool)> done) {
    Slot& slot = slots[index];
    slot.context = context();
    stubs[index % channels]->async()->EchoBatch(
        slot.context.get(), &slot.batch_request, &slot.batch_response,
        [done = std::move(done)](grpc::Status status) { done(status.ok()); });
  };
  MeasureRow("echo.batch",
             absl::StrCat("null batch echo, ", absl::GetFlag(FLAGS_batch), " per call, ",
                          absl::GetFlag(FLAGS_batch_in_flight), " in flight"),
             [&] {
               return RunClosedLoop(absl::GetFlag(FLAGS_batch_in_flight),
                                    absl::GetFlag(FLAGS_batch), duration, batch);
             });
  if (Wanted("echo.stream")) {
    using EchoStream = PipelinedStreamClient<v1::EchoMessage, v1::EchoMessage>;
    std::vector<std::unique_ptr<EchoStream>> streams;
    for (int i = 0; i < channels; ++i) {
      v1::Echo::Stub* stub = stubs[i].get();
      streams.push_back(std::make_unique<EchoStream>(EchoStream::Protocol{
          [stub](grpc::ClientContext* context, auto* reactor) {
            stub->async()->EchoStream(context, reactor);
          },
          /*stamp=*/nullptr,
          // Echoes come back in order.
          [](const v1::EchoMessage&, uint64_t answers_before) { return answers_before; },
          [](const v1::EchoMessage&) { return true; }}));
    }
    v1::EchoMessage message;
    message.set_payload(Payload(absl::GetFlag(FLAGS_body_bytes)));
    StartCall stream = [&](int index, std::function<void(bool)> done) {
      streams[index % channels]->Send(message, std::move(done));
    };
    Report("echo.stream",
           absl::StrCat("null bidi-stream echo, ", absl::GetFlag(FLAGS_in_flight), " in flight"),
           RunClosedLoop(absl::GetFlag(FLAGS_in_flight), 1, duration, stream));
    for (auto& s : streams) s->Close();
  }
  echo->Kill();
}

// The processes of one deployment; the broker's address is where clients go.
struct Deployment {
  std::vector<std::unique_ptr<testing::ServerProcess>> processes;
  std::string broker_address;
  std::string namesrv_address;
  // How clients dial it.
  ClientTls tls;
  // With access control on: the identities the loads sign with.
  acl::Credentials cluster;
  acl::Credentials user;

  std::vector<pid_t> ServerPids() const {
    std::vector<pid_t> pids;
    for (const auto& p : processes) pids.push_back(p->pid());
    return pids;
  }
  void Stop() {
    for (auto it = processes.rbegin(); it != processes.rend(); ++it) (void)(*it)->Stop();
    processes.clear();
  }
};

// `args` followed by each list of extra flags in `extra`.
std::vector<std::string> WithExtra(std::vector<std::string> args,
                                   std::initializer_list<const std::vector<std::string>*> extra) {
  for (const std::vector<std::string>* flags : extra) {
    args.insert(args.end(), flags->begin(), flags->end());
  }
  return args;
}

// With access control on, an ordinary user whose table gives it PUB|SUB on
// every topic (so the check runs in full) and SUB on every group.
void CreateBenchUser(Deployment* d) {
  d->user = {"bench", "bench-secret"};
  acl::v1::CreateUserRequest request;
  request.mutable_user()->set_access_key(d->user.access_key);
  request.mutable_user()->set_secret_key(d->user.secret_key);
  request.mutable_user()->set_default_topic_perm(acl::v1::PUB_SUB);
  request.mutable_user()->set_default_group_perm(acl::v1::SUB);
  auto stub = acl::v1::AclAdmin::NewStub(CreateChannel(d->broker_address, d->tls, d->cluster));
  acl::v1::CreateUserResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub->CreateUser(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "cannot create the benchmark user: " << status.error_message() << "\n";
    std::exit(1);
  }
}

// "standalone-tls" -> "standalone".
std::string BaseKind(const std::string& kind) {
  return std::string(absl::StripSuffix(kind, "-tls"));
}

Deployment Deploy(const std::string& kind, const std::string& data, bool sync_flush, bool acl) {
  const std::string flush =
      sync_flush ? "--flush_disk_type=SYNC_FLUSH" : "--flush_disk_type=ASYNC_FLUSH";
  std::vector<std::string> broker_args = absl::GetFlag(FLAGS_broker_args);
  std::vector<std::string> store_args = absl::GetFlag(FLAGS_store_args);
  std::vector<std::string> namesrv_args;
  Deployment d;
  if (acl) {
    const std::string secret_file = data + ".secret";
    std::ofstream(secret_file) << "bench-cluster-secret\n";
    for (auto* args : {&broker_args, &store_args, &namesrv_args}) {
      args->push_back("--acl_enable");
      args->push_back("--acl_cluster_secret_file=" + secret_file);
    }
    d.cluster = {"cluster", "bench-cluster-secret"};
  }
  if (absl::EndsWith(kind, "-tls")) {
    absl::StatusOr<SelfSignedCertificate> cert = EnsureSelfSignedCertificate(data + "-tls");
    CheckOk(cert.status());
    const std::vector<std::string> tls = {
        "--tls_mode=enforcing", "--tls_cert_file=" + cert->cert_file,
        "--tls_key_file=" + cert->key_file, "--tls_ca_file=" + cert->cert_file};
    for (auto* args : {&broker_args, &store_args, &namesrv_args}) {
      args->insert(args->end(), tls.begin(), tls.end());
    }
    broker_args.push_back("--peer_tls");
    d.tls.enabled = true;
    d.tls.ca_file = cert->cert_file;
  }
  if (BaseKind(kind) == "standalone") {
    d.processes.push_back(
        StartOrDie("standalone", testing::RunfilePath("services/standalone/standalone"),
                   WithExtra({"--port=0", "--listen_address=127.0.0.1",
                              absl::StrCat("--data_dir=", data), "--broker_name=bench", flush},
                             {&broker_args, &store_args})));
    d.broker_address = d.processes.back()->address();
    d.namesrv_address = d.broker_address;
    if (acl) CreateBenchUser(&d);
    return d;
  }
  d.processes.push_back(
      StartOrDie("namesrv", testing::RunfilePath("services/namesrv/namesrv"),
                 WithExtra({"--port=0", "--listen_address=127.0.0.1"}, {&namesrv_args})));
  const std::string namesrv = d.processes.back()->address();
  d.namesrv_address = namesrv;
  d.processes.push_back(StartOrDie("store", testing::RunfilePath("services/store/store"),
                                   WithExtra({"--port=0", "--listen_address=127.0.0.1",
                                              absl::StrCat("--data_dir=", data), flush},
                                             {&store_args})));
  const std::string store = d.processes.back()->address();
  d.processes.push_back(StartOrDie(
      "broker", testing::RunfilePath("services/broker/broker"),
      WithExtra({"--port=0", "--listen_address=127.0.0.1", "--broker_name=bench",
                 absl::StrCat("--namesrv_addr=", namesrv), absl::StrCat("--store_address=", store)},
                {&broker_args})));
  d.broker_address = d.processes.back()->address();
  if (acl) CreateBenchUser(&d);
  return d;
}

// How a Producer row sends.
enum class ProducerShape {
  // SendAsync with callbacks, `in_flight` at a time.
  kAsync,
  // `in_flight` threads, each a sync Send at a time.
  kSync,
  // `in_flight` threads, each a SendBatch of `batch` messages at a time.
  kBatch,
};

// What an application gets: the C++ client's Producer (route lookup, queue
// selection, retries, fault avoidance), whose sends share the client
// instance's SendMessageStreams (coalesced unless `coalesce` is false).
LoadResult ProducerLoad(const Deployment& d, const std::string& kind, const std::string& topic,
                        ProducerShape shape, int in_flight, int batch, bool coalesce,
                        absl::Duration duration, int body) {
  ProducerOptions options;
  options.client.name_server_addresses = {d.namesrv_address};
  options.client.instance_name = absl::StrCat("perf-suite-", kind, coalesce ? "" : "-nocoalesce");
  options.client.coalesce_sends = coalesce;
  options.client.coalesce_max_frames_in_flight = absl::GetFlag(FLAGS_coalesce_max_frames_in_flight);
  options.client.tls.enabled = d.tls.enabled;
  options.client.tls.ca_file = d.tls.ca_file;
  options.client.access_key = d.user.access_key;
  options.client.secret_key = d.user.secret_key;
  Producer producer("perf_suite_producer", options);
  CheckOk(producer.Start());
  const Message message(topic, Payload(body));
  LoadResult result;
  switch (shape) {
    case ProducerShape::kAsync: {
      StartCall send = [&](int, std::function<void(bool)> done) {
        producer.SendAsync(message, [done = std::move(done)](absl::StatusOr<SendResult> result) {
          done(result.ok() && result->status == SendStatus::kSendOk);
        });
      };
      result = RunClosedLoop(in_flight, 1, duration, send);
      break;
    }
    case ProducerShape::kSync:
      result = RunThreads(in_flight, 1, duration, [&](int) {
        absl::StatusOr<SendResult> sent = producer.Send(message);
        return sent.ok() && sent->status == SendStatus::kSendOk;
      });
      break;
    case ProducerShape::kBatch: {
      const std::vector<Message> messages(batch, message);
      result = RunThreads(in_flight, batch, duration, [&](int) {
        absl::StatusOr<SendResult> sent = producer.SendBatch(messages);
        return sent.ok() && sent->status == SendStatus::kSendOk;
      });
      break;
    }
  }
  producer.Shutdown();
  return result;
}

// Measures a Producer row once per --coalesce mode: `id` with coalescing,
// `id`.nocoalesce without.
void MeasureProducerRow(const Deployment& d, const std::string& kind, const std::string& id,
                        const std::string& what, ProducerShape shape, int in_flight, int batch,
                        absl::Duration duration, int body) {
  for (const std::string& mode : absl::GetFlag(FLAGS_coalesce)) {
    const bool coalesce = mode == "on";
    if (!coalesce && mode != "off") {
      std::cerr << "unknown --coalesce mode '" << mode << "' (on, off)\n";
      std::exit(2);
    }
    MeasureRow(coalesce ? id : id + ".nocoalesce",
               absl::StrCat(what, coalesce ? ", coalesced" : ", not coalesced"), [&] {
                 return ProducerLoad(d, kind, "Bench", shape, in_flight, batch, coalesce, duration,
                                     body);
               });
  }
}

mq::bench::PopReceiverOptions PopReceiverOptionsFromFlags() {
  mq::bench::PopReceiverOptions options;
  options.receivers = absl::GetFlag(FLAGS_pop_receivers);
  options.acks_in_flight = absl::GetFlag(FLAGS_pop_acks_in_flight);
  options.stored_records = absl::GetFlag(FLAGS_pop_stored_records);
  return options;
}

void MeasureDeployment(const std::string& kind, const std::string& data_root, bool acl) {
  const int queues = absl::GetFlag(FLAGS_queues);
  const int body = absl::GetFlag(FLAGS_body_bytes);
  const int channels = absl::GetFlag(FLAGS_channels);
  const int batch = absl::GetFlag(FLAGS_batch);
  const int batch_in_flight = absl::GetFlag(FLAGS_batch_in_flight);
  const int in_flight = absl::GetFlag(FLAGS_in_flight);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const std::string id = kind + (acl ? "+acl." : ".");
  double peak_single = 0;
  // The SYNC_FLUSH rows are under "syncflush."; the rest run with async flush.
  if (AnyWanted(id, id + "syncflush.")) {
    std::cout << kind << (acl ? " with access control" : "") << " (async flush):" << std::endl;
    Deployment d = Deploy(kind, absl::StrCat(data_root, "/", id, "async"), false, acl);
    BrokerStubs stubs(d.broker_address, channels, d.tls, d.cluster);
    CheckOk(CreateTopic(stubs, "Bench", queues));
    const int max_window = std::max(in_flight, 256);
    SendLoad singles(&stubs, "Bench", queues, max_window, 1, body);
    for (int window : Windows()) {
      const std::string row = absl::StrCat(id, "send.w", window);
      if (window > max_window || !Wanted(row)) continue;
      LoadResult r = RunClosedLoop(window, 1, duration, singles.AsStartCall());
      if (window == in_flight) peak_single = r.per_second;
      Report(row, absl::StrCat("sync send, ", window, " in flight"), r);
    }
    if (Wanted(id + "stream")) {
      using SendStream =
          PipelinedStreamClient<broker::v1::SendStreamRequest, broker::v1::SendStreamResponse>;
      std::vector<std::unique_ptr<SendStream>> streams;
      for (int i = 0; i < channels; ++i) {
        broker::v1::Broker::Stub* stub = stubs.For(i);
        streams.push_back(std::make_unique<SendStream>(SendStream::Protocol{
            [stub](grpc::ClientContext* context, auto* reactor) {
              stub->async()->SendMessageStream(context, reactor);
            },
            [](uint64_t id, broker::v1::SendStreamRequest* request) {
              request->set_request_id(id);
            },
            [](const broker::v1::SendStreamResponse& answer, uint64_t) {
              return answer.request_id();
            },
            [](const broker::v1::SendStreamResponse& answer) {
              return answer.has_response() && answer.response().status() == broker::v1::SEND_OK;
            }}));
      }
      broker::v1::SendStreamRequest request;
      broker::v1::SendMessageRequest& send = *request.mutable_send();
      send.set_producer_group("bench");
      send.set_queue_id(-1);
      send.mutable_message()->set_topic("Bench");
      send.mutable_message()->set_body(Payload(body));
      StartCall stream = [&](int index, std::function<void(bool)> done) {
        streams[index % channels]->Send(request, std::move(done));
      };
      Report(id + "stream",
             absl::StrCat("sync send over SendMessageStream, ", in_flight, " in flight"),
             RunClosedLoop(in_flight, 1, duration, stream));
      for (auto& s : streams) s->Close();
    }
    MeasureProducerRow(d, kind, id + "producer",
                       absl::StrCat("Producer async sends, ", in_flight, " in flight"),
                       ProducerShape::kAsync, in_flight, 1, duration, body);
    MeasureProducerRow(d, kind, id + "producer_sync",
                       absl::StrCat("Producer sync sends, ", in_flight, " threads"),
                       ProducerShape::kSync, in_flight, 1, duration, body);
    const int async_window = absl::GetFlag(FLAGS_producer_async_window);
    MeasureProducerRow(d, kind, absl::StrCat(id, "producer_async", async_window),
                       absl::StrCat("Producer async sends, ", async_window, " in flight"),
                       ProducerShape::kAsync, async_window, 1, duration, body);
    MeasureProducerRow(
        d, kind, id + "producer_batch",
        absl::StrCat("Producer batched sends, ", batch, " per call, ", batch_in_flight, " threads"),
        ProducerShape::kBatch, batch_in_flight, batch, duration, body);
    // Throughput against concurrency (the plot): Producer async sends.
    for (int window : Windows()) {
      if (window == in_flight) continue;  // the "producer" row
      MeasureProducerRow(d, kind, absl::StrCat(id, "producer.w", window),
                         absl::StrCat("Producer async sends, ", window, " in flight"),
                         ProducerShape::kAsync, window, 1, duration, body);
    }
    if (Wanted(id + "batch")) {
      SendLoad batches(&stubs, "Bench", queues, batch_in_flight, batch, body);
      MemorySampler memory(d.ServerPids());
      Report(id + "batch",
             absl::StrCat("batched send, ", batch, " per call, ", batch_in_flight, " in flight"),
             RunClosedLoop(batch_in_flight, batch, duration, batches.AsStartCall()));
      ReportMemory(kind, memory.Stop());
    }
    if (Wanted(id + "fill") || Wanted(id + "catchup")) {
      const int64_t catchup = absl::GetFlag(FLAGS_catchup_messages);
      CheckOk(CreateTopic(stubs, "CatchUp", queues));
      absl::Time fill_begin = absl::Now();
      CheckOk(Fill(stubs, "CatchUp", queues, catchup, body));
      LoadResult fill;
      fill.per_second =
          static_cast<double>(catchup) / absl::ToDoubleSeconds(absl::Now() - fill_begin);
      fill.calls = catchup / 32;
      Report(id + "fill", absl::StrCat("fill of ", catchup, " (batches of 32)"), fill);
      Report(id + "catchup",
             absl::StrCat("catch-up read of ", catchup, ", ", absl::GetFlag(FLAGS_pull_batch),
                          " per pull, p = per pull"),
             CatchUp(stubs, "CatchUp", queues, catchup, absl::GetFlag(FLAGS_pull_batch),
                     absl::GetFlag(FLAGS_pull_chains_per_queue),
                     absl::GetFlag(FLAGS_pull_stored_records)));
      // POP consumption of the same stored messages, by a group of its own.
      if (Wanted(id + "popcatchup")) {
        const mq::bench::PopReceiverOptions pop = PopReceiverOptionsFromFlags();
        Report(id + "popcatchup",
               absl::StrCat("POP consumption of ", catchup, " stored, ", pop.receivers,
                            " receivers (pop 32, ack without waiting), p = per pop"),
               PopCatchUp(stubs, "CatchUp", "PopBench", catchup, pop));
      }
    }
    if (Wanted(id + "popredelivery")) {
      const int64_t in_flight = absl::GetFlag(FLAGS_pop_redelivery_in_flight);
      CheckOk(CreateTopic(stubs, "PopRevive", queues));
      CheckOk(Fill(stubs, "PopRevive", queues, in_flight, body));
      Report(id + "popredelivery",
             absl::StrCat("POP redelivery of ", in_flight, " in flight (invisible ",
                          absl::FormatDuration(absl::GetFlag(FLAGS_pop_invisible)), ", ",
                          absl::GetFlag(FLAGS_pop_receivers),
                          " receivers), p = after the invisible time"),
             PopRedelivery(stubs, "PopRevive", "PopReviveBench", in_flight,
                           PopReceiverOptionsFromFlags(), absl::GetFlag(FLAGS_pop_invisible)));
    }
    // Paced at half the peak single-send rate, so only after that was measured.
    if (peak_single > 0 && Wanted(id + "e2e")) {
      CheckOk(CreateTopic(stubs, "EndToEnd", queues));
      EndToEndResult e2e = EndToEnd(stubs, "EndToEnd", queues, peak_single / 2, duration, body);
      Report(
          id + "e2e_send",
          absl::StrCat("paced sends at half the peak (", static_cast<int>(peak_single / 2), "/s)"),
          e2e.send);
      Report(id + "e2e", "produce-to-consume latency, long-polling pulls", e2e.delivery);
    }
    d.Stop();
  }
  if (!AnyWanted(id + "syncflush.")) return;
  std::cout << kind << (acl ? " with access control" : "") << " (SYNC_FLUSH):" << std::endl;
  {
    Deployment d = Deploy(kind, absl::StrCat(data_root, "/", id, "sync"), true, acl);
    BrokerStubs stubs(d.broker_address, channels, d.tls, d.cluster);
    CheckOk(CreateTopic(stubs, "Bench", queues));
    SendLoad singles(&stubs, "Bench", queues, in_flight, 1, body);
    for (int window : {1, in_flight}) {
      MeasureRow(absl::StrCat(id, "syncflush.w", window),
                 absl::StrCat("sync-flush send, ", window, " in flight"),
                 [&] { return RunClosedLoop(window, 1, duration, singles.AsStartCall()); });
    }
    MeasureProducerRow(d, kind, id + "syncflush.producer",
                       absl::StrCat("sync-flush Producer async sends, ", in_flight, " in flight"),
                       ProducerShape::kAsync, in_flight, 1, duration, body);
    MeasureProducerRow(d, kind, id + "syncflush.producer_sync",
                       absl::StrCat("sync-flush Producer sync sends, ", in_flight, " threads"),
                       ProducerShape::kSync, in_flight, 1, duration, body);
    MeasureRow(id + "syncflush.batch",
               absl::StrCat("sync-flush batched send, ", batch, " per call, ", batch_in_flight,
                            " in flight"),
               [&] {
                 SendLoad batches(&stubs, "Bench", queues, batch_in_flight, batch, body);
                 return RunClosedLoop(batch_in_flight, batch, duration, batches.AsStartCall());
               });
    d.Stop();
  }
}

int RunSuite(const char* self) {
  std::string data = testing::MakeTempDir("perf-suite");
  CleanUpOnSignal(data);
  if (absl::GetFlag(FLAGS_echo) && AnyWanted("echo.")) {
    std::cout << "transport ceiling (null gRPC echo):" << std::endl;
    MeasureEcho(self);
  }
  for (absl::string_view kind :
       absl::StrSplit(absl::GetFlag(FLAGS_deployments), ',', absl::SkipEmpty())) {
    if (BaseKind(std::string(kind)) != "standalone" && BaseKind(std::string(kind)) != "split") {
      std::cerr << "unknown deployment '" << kind
                << "' (standalone, split, standalone-tls, split-tls)\n";
      return 2;
    }
    for (absl::string_view mode :
         absl::StrSplit(absl::GetFlag(FLAGS_acl), ',', absl::SkipEmpty())) {
      if (mode != "off" && mode != "on") {
        std::cerr << "--acl: unknown mode '" << mode << "' (off, on)\n";
        return 2;
      }
      MeasureDeployment(std::string(kind), data, mode == "on");
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(data, ignored);
  return 0;
}

}  // namespace
}  // namespace mq::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As the servers (common/process.cc): the load generator measures gRPC and
  // the servers, not abseil's debug-build lock-order graph.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (absl::GetFlag(FLAGS_serve_echo)) return mq::bench::ServeEcho();
  return mq::bench::RunSuite(argv[0]);
}
