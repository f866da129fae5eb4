// Delayed delivery under load, in-process against one MessageStore (async
// flush, the schedule thread as in production):
//  1. baseline: normal sends (one 128-byte message per append, as the broker
//     makes them) from --senders threads in --burst bursts, --bursts times;
//  2. --messages timer messages (TIMER_DELIVER_MS) are scheduled, due evenly
//     over the next --window;
//  3. while they are delivered, the same normal-send bursts run every
//     --window / --bursts_during;
//  4. every delivered copy is read back: lateness = its store time (when the
//     schedule appended it to the real topic) - its deliver time.
// Prints the normal send rate without (before and after) and with the
// schedule (and the ratio), lateness p50/p99/max (from the deliver time, or
// from the send for a message sent after it), copies missing or duplicated, and RSS (total and
// anonymous: the mapped files count in the first) before, during and after.
//
//   bazel run -c opt //benchmarks:delay_benchmark -- --dir=/tmp
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "services/store/message_store.h"

ABSL_FLAG(std::string, dir, "/tmp", "Directory under which the store is created (and deleted).");
ABSL_FLAG(int64_t, messages, 1'000'000, "Timer messages scheduled.");
ABSL_FLAG(absl::Duration, window, absl::Minutes(10), "Their deliver times span this.");
ABSL_FLAG(int, senders, 2, "Threads sending normal messages in a burst.");
ABSL_FLAG(absl::Duration, burst, absl::Seconds(3), "Length of a normal-send burst.");
ABSL_FLAG(int, bursts, 3, "Baseline bursts (before scheduling).");
ABSL_FLAG(int, bursts_during, 10, "Bursts while the schedule delivers.");

namespace mq::store {
namespace {

constexpr char kDelayTopic[] = "BenchDelay";
constexpr char kNormalTopic[] = "BenchNormal";
constexpr int kQueues = 4;
constexpr char kDueProperty[] = "bench_due_ms";

struct Rss {
  int64_t total_kib = 0;
  int64_t anon_kib = 0;
};

Rss ReadRss() {
  Rss rss;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    auto value = [&](absl::string_view key, int64_t* out) {
      if (line.rfind(std::string(key), 0) != 0) return;
      std::string rest = line.substr(key.size());
      rest.erase(rest.find_last_not_of(" kB") + 1);
      rest.erase(0, rest.find_first_not_of(" \t"));
      (void)absl::SimpleAtoi(rest, out);
    };
    value("VmRSS:", &rss.total_kib);
    value("RssAnon:", &rss.anon_kib);
  }
  return rss;
}

v1::AppendEntry Entry(const std::string& topic, int64_t n, std::string body) {
  v1::AppendEntry entry;
  entry.mutable_message()->set_topic(topic);
  entry.mutable_message()->set_body(std::move(body));
  (*entry.mutable_message()->mutable_properties())["UNIQ_KEY"] = absl::StrCat("U", n);
  entry.set_queue_id(static_cast<int32_t>(n % kQueues));
  entry.set_born_timestamp_ms(absl::ToUnixMillis(absl::Now()));
  entry.set_born_host("127.0.0.1:5555");
  entry.set_store_host("127.0.0.1:10911");
  return entry;
}

// Normal sends from `senders` threads for `length`; messages per second.
double Burst(MessageStore* store, absl::Duration length, std::atomic<int64_t>* counter) {
  std::atomic<int64_t> sent{0};
  absl::Time end = absl::Now() + length;
  std::vector<std::thread> threads;
  for (int t = 0; t < absl::GetFlag(FLAGS_senders); ++t) {
    threads.emplace_back([&] {
      while (absl::Now() < end) {
        v1::AppendBatchRequest request;
        *request.add_entries() = Entry(kNormalTopic, counter->fetch_add(1), std::string(128, 'n'));
        absl::StatusOr<v1::AppendBatchResponse> response = store->AppendBatch(request);
        CHECK(response.ok() && response->results(0).status() == v1::PUT_OK);
        sent.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return sent.load() / absl::ToDoubleSeconds(length);
}

double Mean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return values.empty() ? 0 : sum / values.size();
}

int Run() {
  std::string root = absl::StrCat(absl::GetFlag(FLAGS_dir), "/delay_benchmark_", getpid());
  MessageStoreOptions options;
  options.root_dir = root;
  options.commit_log_file_size = int64_t{256} << 20;
  options.clean_initial_delay = absl::Hours(1);
  options.delay.timer_max_delay = absl::Hours(1);
  absl::StatusOr<std::unique_ptr<MessageStore>> opened = MessageStore::Open(options);
  CHECK(opened.ok()) << opened.status();
  MessageStore* store = opened->get();
  std::atomic<int64_t> normal_counter{0};

  Rss rss_before = ReadRss();
  std::vector<double> baseline;
  for (int i = 0; i < absl::GetFlag(FLAGS_bursts); ++i) {
    baseline.push_back(Burst(store, absl::GetFlag(FLAGS_burst), &normal_counter));
  }

  const int64_t total = absl::GetFlag(FLAGS_messages);
  const absl::Duration window = absl::GetFlag(FLAGS_window);
  absl::Time start = absl::Now();
  constexpr int kBatch = 64;
  for (int64_t n = 0; n < total;) {
    v1::AppendBatchRequest request;
    for (int i = 0; i < kBatch && n < total; ++i, ++n) {
      // Due evenly over the window, in an order unlike the append order.
      int64_t slot = (n * 7919) % total;
      int64_t due_ms = absl::ToUnixMillis(start + window * (static_cast<double>(slot) / total));
      v1::AppendEntry entry = Entry(kDelayTopic, n, std::string(128, 'd'));
      auto& properties = *entry.mutable_message()->mutable_properties();
      properties["TIMER_DELIVER_MS"] = absl::StrCat(due_ms);
      properties[kDueProperty] = absl::StrCat(due_ms);
      *request.add_entries() = std::move(entry);
    }
    absl::StatusOr<v1::AppendBatchResponse> response = store->AppendBatch(request);
    CHECK(response.ok());
    for (const v1::AppendResult& result : response->results()) {
      CHECK_EQ(result.status(), v1::PUT_OK) << result.error();
    }
  }
  absl::Duration schedule_time = absl::Now() - start;
  std::printf("scheduled %ld timer messages in %.1f s\n", static_cast<long>(total),
              absl::ToDoubleSeconds(schedule_time));
  std::fflush(stdout);

  std::vector<double> during;
  Rss rss_max;
  int64_t max_in_memory = 0;
  const int bursts_during = absl::GetFlag(FLAGS_bursts_during);
  for (int i = 0; i < bursts_during; ++i) {
    absl::Time next = start + window * (static_cast<double>(i) / bursts_during);
    if (absl::Now() < next) absl::SleepFor(next - absl::Now());
    during.push_back(Burst(store, absl::GetFlag(FLAGS_burst), &normal_counter));
    Rss rss = ReadRss();
    rss_max.total_kib = std::max(rss_max.total_kib, rss.total_kib);
    rss_max.anon_kib = std::max(rss_max.anon_kib, rss.anon_kib);
    max_in_memory = std::max(max_in_memory, store->schedule()->timer_entries_in_memory());
    std::printf(
        "  burst %d at +%.0f s: %.0f msg/s, RSS %ld MiB (anon %ld MiB), timer entries "
        "in memory %ld, delivered %ld\n",
        i, absl::ToDoubleSeconds(absl::Now() - start), during.back(),
        static_cast<long>(rss.total_kib / 1024), static_cast<long>(rss.anon_kib / 1024),
        static_cast<long>(store->schedule()->timer_entries_in_memory()),
        static_cast<long>(store->schedule()->delivered()));
    std::fflush(stdout);
  }
  // Every message due; give the last ones a moment to land.
  absl::Time all_due = start + window;
  while (absl::Now() < all_due + absl::Seconds(5)) {
    absl::SleepFor(absl::Seconds(1));
    int64_t in_memory = store->schedule()->timer_entries_in_memory();
    max_in_memory = std::max(max_in_memory, in_memory);
  }
  while (store->dispatched_offset() < store->max_physical_offset()) {
    absl::SleepFor(absl::Milliseconds(10));
  }

  std::vector<double> after;
  for (int i = 0; i < absl::GetFlag(FLAGS_bursts); ++i) {
    after.push_back(Burst(store, absl::GetFlag(FLAGS_burst), &normal_counter));
  }

  // Lateness counts from the deliver time, or from the send for a message
  // sent after its time (scheduling a million takes a while): it cannot
  // arrive before it was sent.
  std::vector<int64_t> lateness_ms;
  lateness_ms.reserve(total);
  int64_t sent_after_due = 0;
  std::vector<uint8_t> seen(total, 0);
  int64_t duplicates = 0;
  for (int q = 0; q < kQueues; ++q) {
    int64_t offset = 0;
    while (true) {
      v1::GetMessagesRequest request;
      request.set_topic(kDelayTopic);
      request.set_queue_id(q);
      request.set_offset(offset);
      request.set_max_count(1024);
      absl::StatusOr<v1::GetMessagesResponse> response = store->GetMessages(request);
      CHECK(response.ok());
      if (response->messages_size() == 0) break;
      for (const common::v1::MessageExt& m : response->messages()) {
        int64_t due = 0, n = 0;
        CHECK(absl::SimpleAtoi(m.properties().at(kDueProperty), &due));
        CHECK(absl::SimpleAtoi(m.properties().at("UNIQ_KEY").substr(1), &n));
        if (seen[n]++ > 0) ++duplicates;
        if (m.born_timestamp_ms() > due) ++sent_after_due;
        lateness_ms.push_back(m.store_timestamp_ms() - std::max(due, m.born_timestamp_ms()));
      }
      offset = response->next_begin_offset();
    }
  }
  int64_t missing = 0;
  for (uint8_t s : seen) missing += s == 0;
  std::sort(lateness_ms.begin(), lateness_ms.end());
  auto percentile = [&](double p) {
    return lateness_ms.empty()
               ? 0
               : lateness_ms[std::min<size_t>(lateness_ms.size() - 1, p * lateness_ms.size())];
  };
  Rss rss_after = ReadRss();
  double base = Mean(baseline), with = Mean(during), base_after = Mean(after);
  std::printf(
      "\nnormal sends (%d threads, 128 B): %.0f msg/s without the schedule (before), %.0f msg/s "
      "while it delivers, %.0f msg/s after it is done: ratio %.2f against before, %.2f against "
      "before and after\n",
      absl::GetFlag(FLAGS_senders), base, with, base_after, base > 0 ? with / base : 0,
      base + base_after > 0 ? with / ((base + base_after) / 2) : 0);
  std::printf("timer messages sent after their deliver time (delivered at once): %ld\n",
              static_cast<long>(sent_after_due));
  std::printf("delivered %zu of %ld timer messages (missing %ld, duplicated %ld)\n",
              lateness_ms.size(), static_cast<long>(total), static_cast<long>(missing),
              static_cast<long>(duplicates));
  std::printf("lateness: min %ld ms, p50 %ld ms, p99 %ld ms, p99.9 %ld ms, max %ld ms\n",
              static_cast<long>(lateness_ms.empty() ? 0 : lateness_ms.front()),
              static_cast<long>(percentile(0.5)), static_cast<long>(percentile(0.99)),
              static_cast<long>(percentile(0.999)),
              static_cast<long>(lateness_ms.empty() ? 0 : lateness_ms.back()));
  std::printf(
      "RSS: before %ld MiB (anon %ld), max during %ld MiB (anon %ld), after %ld MiB "
      "(anon %ld); timer entries in memory at most %ld\n",
      static_cast<long>(rss_before.total_kib / 1024), static_cast<long>(rss_before.anon_kib / 1024),
      static_cast<long>(rss_max.total_kib / 1024), static_cast<long>(rss_max.anon_kib / 1024),
      static_cast<long>(rss_after.total_kib / 1024), static_cast<long>(rss_after.anon_kib / 1024),
      static_cast<long>(max_in_memory));
  opened->reset();
  std::filesystem::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace mq::store

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  google::InitGoogleLogging(argv[0]);
  return mq::store::Run();
}
