// mqbench: a load generator after RocketMQ's benchmark tool. Producer mode
// sends for a duration (or a message count) with sync sends from N threads,
// async sends with N in flight, oneway sends, or batches; consumer mode runs
// a push consumer. Each second it prints a line of throughput and latency,
// and at the end a summary with percentiles.
//
//   mqbench --mode=producer --namesrv=127.0.0.1:9876 --topic=BenchmarkTest
//           --send_mode=sync --threads=64 --message_size=1024 --duration=20s
//   mqbench --mode=consumer --namesrv=127.0.0.1:9876 --topic=BenchmarkTest
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/tls_flags.h"
#include "glog/logging.h"
#include "mq/producer.h"
#include "mq/push_consumer.h"
#include "tools/mqbench/latency_histogram.h"

ABSL_FLAG(std::string, mode, "producer", "producer or consumer.");
ABSL_FLAG(std::string, namesrv, "",
          "Name servers, HOST:PORT[;HOST:PORT] (default: $NAMESRV_ADDR).");
ABSL_FLAG(std::string, topic, "BenchmarkTest", "Topic to send to or consume.");
ABSL_FLAG(std::string, group, "",
          "Producer or consumer group (default benchmark_producer / "
          "benchmark_consumer).");
ABSL_FLAG(std::string, send_mode, "sync", "sync, async, oneway or batch.");
ABSL_FLAG(int, threads, 64, "Sending threads (sync, oneway, batch), each with one send in flight.");
ABSL_FLAG(int, window, 64, "Async: sends in flight at once.");
ABSL_FLAG(int, message_size, 1024, "Body bytes per message.");
ABSL_FLAG(int, batch_size, 32, "Messages per batch (send_mode=batch).");
ABSL_FLAG(bool, coalesce, true,
          "Coalesce concurrent sends to a broker into one request (ClientOptions::coalesce_sends); "
          "false: one request per send.");
ABSL_FLAG(int, coalesce_max_frames_in_flight, mq::ClientOptions().coalesce_max_frames_in_flight,
          "Frames of a send stream awaiting their answer before the next waits "
          "(ClientOptions::coalesce_max_frames_in_flight; 0: no limit).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(20),
          "How long to run; 0 runs until --messages are done.");
ABSL_FLAG(int64_t, messages, 0, "Stop after this many messages (0: no limit).");
ABSL_FLAG(int, queue_nums, 8, "Queues of the topic when the first send creates it.");
ABSL_FLAG(int, consume_threads, 4, "Consumer: listener threads.");
ABSL_FLAG(bool, from_first, false,
          "Consumer: start at the first stored message of a new group "
          "(default: only new messages).");
ABSL_FLAG(bool, tls, false,
          "Dial the name servers and brokers over TLS, checking them against --tls_ca_file and "
          "presenting --tls_cert_file/--tls_key_file when given.");
ABSL_FLAG(bool, tls_skip_verify, false,
          "With --tls: do not check the servers' certificates (encryption only).");
ABSL_FLAG(absl::Duration, report_interval, absl::Seconds(1), "Time between progress lines.");
ABSL_FLAG(std::string, access_key, "",
          "Access control: sign the calls as this user (default: $MQ_ACCESS_KEY).");
ABSL_FLAG(std::string, secret_key, "",
          "Its secret key (default: $MQ_SECRET_KEY, better: a command line is visible to others).");

namespace mq {
namespace tools {
namespace {

// Counters of one run: a reporting interval's, and the whole run's.
class BenchStats {
 public:
  void Record(int64_t messages, absl::Duration latency, bool ok) {
    if (!ok) {
      failures_.fetch_add(messages, std::memory_order_relaxed);
      total_failures_.fetch_add(messages, std::memory_order_relaxed);
      return;
    }
    const int64_t micros = absl::ToInt64Microseconds(latency);
    count_.fetch_add(messages, std::memory_order_relaxed);
    requests_.fetch_add(1, std::memory_order_relaxed);
    latency_sum_.fetch_add(micros, std::memory_order_relaxed);
    int64_t max = max_latency_.load(std::memory_order_relaxed);
    while (micros > max && !max_latency_.compare_exchange_weak(max, micros)) {
    }
    total_.fetch_add(messages, std::memory_order_relaxed);
    histogram_.Record(micros);
  }

  struct Interval {
    int64_t messages = 0;
    int64_t requests = 0;
    int64_t failures = 0;
    int64_t latency_sum_us = 0;
    int64_t max_latency_us = 0;
  };

  Interval TakeInterval() {
    Interval i;
    i.messages = count_.exchange(0);
    i.requests = requests_.exchange(0);
    i.failures = failures_.exchange(0);
    i.latency_sum_us = latency_sum_.exchange(0);
    i.max_latency_us = max_latency_.exchange(0);
    return i;
  }

  int64_t total() const { return total_.load(); }
  int64_t total_failures() const { return total_failures_.load(); }
  const LatencyHistogram& histogram() const { return histogram_; }

 private:
  std::atomic<int64_t> count_{0}, requests_{0}, failures_{0}, latency_sum_{0}, max_latency_{0};
  std::atomic<int64_t> total_{0}, total_failures_{0};
  LatencyHistogram histogram_;
};

double Millis(int64_t micros) { return static_cast<double>(micros) / 1000.0; }

// The user of --access_key / --secret_key, else of $MQ_ACCESS_KEY / $MQ_SECRET_KEY.
void SetCredentials(mq::ClientOptions* client) {
  auto value = [](const std::string& flag, const char* env) {
    if (!flag.empty()) return flag;
    const char* from_env = std::getenv(env);
    return from_env == nullptr ? std::string() : std::string(from_env);
  };
  client->access_key = value(absl::GetFlag(FLAGS_access_key), "MQ_ACCESS_KEY");
  client->secret_key = value(absl::GetFlag(FLAGS_secret_key), "MQ_SECRET_KEY");
}

std::vector<std::string> NameServers() {
  std::string list = absl::GetFlag(FLAGS_namesrv);
  if (list.empty()) {
    const char* env = std::getenv("NAMESRV_ADDR");
    if (env != nullptr) list = env;
  }
  return absl::StrSplit(list, absl::ByAnyChar(";,"), absl::SkipWhitespace());
}

mq::TlsOptions TlsFromFlags() {
  mq::TlsOptions tls;
  tls.enabled = absl::GetFlag(FLAGS_tls);
  tls.ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  tls.verify_server = !absl::GetFlag(FLAGS_tls_skip_verify);
  return tls;
}

std::string RandomBody(int size) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  absl::BitGen gen;
  std::string body(static_cast<size_t>(size), 'x');
  for (char& c : body) c = kAlphabet[absl::Uniform<size_t>(gen, 0, sizeof(kAlphabet) - 1)];
  return body;
}

// Prints a progress line every report interval until `done` is notified.
void Report(BenchStats& stats, const std::string& what, const absl::Notification& done) {
  const absl::Duration interval = absl::GetFlag(FLAGS_report_interval);
  absl::Time last = absl::Now();
  while (!done.WaitForNotificationWithTimeout(interval - (absl::Now() - last))) {
    const absl::Time now = absl::Now();
    const double seconds = absl::ToDoubleSeconds(now - last);
    last = now;
    BenchStats::Interval i = stats.TakeInterval();
    std::cout << absl::StrFormat(
                     "[%s] %s TPS: %.0f | Avg RT(ms): %.3f | Max RT(ms): %.3f | Failed: %d | "
                     "Total: %d",
                     absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone()), what,
                     i.messages / seconds,
                     i.requests == 0 ? 0.0 : Millis(i.latency_sum_us) / i.requests,
                     Millis(i.max_latency_us), i.failures, stats.total())
              << std::endl;
  }
}

void PrintSummary(const BenchStats& stats, const std::string& what, absl::Duration elapsed) {
  const LatencyHistogram& h = stats.histogram();
  std::cout << absl::StrFormat(
                   "[Complete] %s Total: %d | Failed: %d | Duration(s): %.1f | %s TPS(avg): %.0f "
                   "| RT(ms) p50: %.3f p99: %.3f p999: %.3f max: %.3f",
                   what, stats.total(), stats.total_failures(), absl::ToDoubleSeconds(elapsed),
                   what, stats.total() / absl::ToDoubleSeconds(elapsed), Millis(h.Percentile(0.5)),
                   Millis(h.Percentile(0.99)), Millis(h.Percentile(0.999)),
                   Millis(h.Percentile(1.0)))
            << std::endl;
}

// True while the run should go on.
class RunLimit {
 public:
  RunLimit(absl::Duration duration, int64_t messages)
      : end_(duration > absl::ZeroDuration() ? absl::Now() + duration : absl::InfiniteFuture()),
        messages_(messages) {}

  // Claims `n` messages; false when the run is over.
  bool Claim(int64_t n) {
    if (absl::Now() >= end_) return false;
    if (messages_ <= 0) return true;
    return claimed_.fetch_add(n) < messages_;
  }

 private:
  const absl::Time end_;
  const int64_t messages_;
  std::atomic<int64_t> claimed_{0};
};

int RunProducer() {
  const std::string mode = absl::GetFlag(FLAGS_send_mode);
  if (mode != "sync" && mode != "async" && mode != "oneway" && mode != "batch") {
    std::cerr << "mqbench: --send_mode must be sync, async, oneway or batch\n";
    return 2;
  }
  ProducerOptions options;
  options.client.name_server_addresses = NameServers();
  options.client.coalesce_sends = absl::GetFlag(FLAGS_coalesce);
  options.client.coalesce_max_frames_in_flight = absl::GetFlag(FLAGS_coalesce_max_frames_in_flight);
  options.client.tls = TlsFromFlags();
  SetCredentials(&options.client);
  options.default_topic_queue_nums = absl::GetFlag(FLAGS_queue_nums);
  const std::string group =
      absl::GetFlag(FLAGS_group).empty() ? "benchmark_producer" : absl::GetFlag(FLAGS_group);
  Producer producer(group, options);
  if (absl::Status s = producer.Start(); !s.ok()) {
    std::cerr << "mqbench: producer: " << s << "\n";
    return 1;
  }
  const std::string topic = absl::GetFlag(FLAGS_topic);
  const std::string body = RandomBody(absl::GetFlag(FLAGS_message_size));
  // The first send fetches (or creates) the topic's route, outside the timing.
  if (absl::StatusOr<SendResult> warm = producer.Send(Message(topic, "warmup", body)); !warm.ok()) {
    std::cerr << "mqbench: first send: " << warm.status() << "\n";
    return 1;
  }
  const int batch_size = mode == "batch" ? absl::GetFlag(FLAGS_batch_size) : 1;
  std::cout << absl::StrFormat(
                   "mqbench producer: topic %s, %s sends, %d %s, %d-byte bodies%s; RT is per "
                   "request",
                   topic, mode,
                   mode == "async" ? absl::GetFlag(FLAGS_window) : absl::GetFlag(FLAGS_threads),
                   mode == "async" ? "in flight" : "threads", body.size(),
                   mode == "batch" ? absl::StrCat(", ", batch_size, " per batch") : "")
            << std::endl;

  BenchStats stats;
  RunLimit limit(absl::GetFlag(FLAGS_duration), absl::GetFlag(FLAGS_messages));
  absl::Notification done;
  std::thread reporter([&] { Report(stats, "Send", done); });
  const absl::Time start = absl::Now();
  if (mode == "async") {
    absl::Mutex mu;
    int inflight = 0;
    const int window = absl::GetFlag(FLAGS_window);
    while (limit.Claim(1)) {
      {
        absl::MutexLock lock(&mu);
        auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return inflight < window; };
        mu.Await(absl::Condition(&room));
        ++inflight;
      }
      const absl::Time sent = absl::Now();
      producer.SendAsync(Message(topic, "bench", body), [&, sent](absl::StatusOr<SendResult> r) {
        stats.Record(1, absl::Now() - sent, r.ok());
        absl::MutexLock lock(&mu);
        --inflight;
      });
    }
    absl::MutexLock lock(&mu);
    auto idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return inflight == 0; };
    mu.Await(absl::Condition(&idle));
  } else {
    std::vector<std::thread> threads;
    for (int t = 0; t < absl::GetFlag(FLAGS_threads); ++t) {
      threads.emplace_back([&] {
        std::vector<Message> batch(batch_size, Message(topic, "bench", body));
        while (limit.Claim(batch_size)) {
          const absl::Time sent = absl::Now();
          bool ok;
          if (mode == "sync") {
            ok = producer.Send(batch[0]).ok();
          } else if (mode == "oneway") {
            ok = producer.SendOneway(batch[0]).ok();
          } else {
            ok = producer.SendBatch(batch).ok();
          }
          stats.Record(batch_size, absl::Now() - sent, ok);
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  const absl::Duration elapsed = absl::Now() - start;
  done.Notify();
  reporter.join();
  producer.Shutdown();
  PrintSummary(stats, "Send", elapsed);
  return 0;
}

int RunConsumer() {
  PushConsumerOptions options;
  options.client.name_server_addresses = NameServers();
  options.client.tls = TlsFromFlags();
  SetCredentials(&options.client);
  options.consume_thread_count = absl::GetFlag(FLAGS_consume_threads);
  options.consume_from_where = absl::GetFlag(FLAGS_from_first) ? ConsumeFromWhere::kFirstOffset
                                                               : ConsumeFromWhere::kLastOffset;
  const std::string group =
      absl::GetFlag(FLAGS_group).empty() ? "benchmark_consumer" : absl::GetFlag(FLAGS_group);
  PushConsumer consumer(group, options);
  BenchStats stats;
  const int64_t limit = absl::GetFlag(FLAGS_messages);
  absl::Notification enough;
  absl::Status registered =
      consumer.RegisterMessageListener([&](const std::vector<MessageExt>& messages) {
        const int64_t now_ms = absl::ToUnixMillis(absl::Now());
        for (const MessageExt& m : messages) {
          // Born-to-consume latency: producer clock to consumer clock.
          stats.Record(1, absl::Milliseconds(now_ms - m.born_timestamp_ms), true);
        }
        if (limit > 0 && stats.total() >= limit && !enough.HasBeenNotified()) enough.Notify();
        return ConsumeStatus::kConsumeSuccess;
      });
  if (!registered.ok()) {
    std::cerr << "mqbench: " << registered << "\n";
    return 2;
  }
  if (absl::Status s = consumer.Subscribe(absl::GetFlag(FLAGS_topic), "*"); !s.ok()) {
    std::cerr << "mqbench: subscribe: " << s << "\n";
    return 2;
  }
  if (absl::Status s = consumer.Start(); !s.ok()) {
    std::cerr << "mqbench: consumer: " << s << "\n";
    return 1;
  }
  std::cout << "mqbench consumer: topic " << absl::GetFlag(FLAGS_topic) << ", group " << group
            << "; RT is born-to-consume" << std::endl;
  absl::Notification done;
  std::thread reporter([&] { Report(stats, "Consume", done); });
  const absl::Time start = absl::Now();
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  enough.WaitForNotificationWithTimeout(duration > absl::ZeroDuration() ? duration
                                                                        : absl::InfiniteDuration());
  const absl::Duration elapsed = absl::Now() - start;
  done.Notify();
  reporter.join();
  consumer.Shutdown();
  PrintSummary(stats, "Consume", elapsed);
  return 0;
}

}  // namespace
}  // namespace tools
}  // namespace mq

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Load generator: mqbench --mode=producer|consumer --namesrv=HOST:PORT [--topic=T] "
      "[--send_mode=sync|async|oneway|batch] [--threads=64] [--duration=20s]");
  absl::ParseCommandLine(argc, argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = google::GLOG_WARNING;
  // Debian's abseil is built without NDEBUG: skip its lock-order graph here,
  // as the servers do (common/process.cc).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "producer") return mq::tools::RunProducer();
  if (mode == "consumer") return mq::tools::RunConsumer();
  std::cerr << "mqbench: --mode must be producer or consumer\n";
  return 2;
}
