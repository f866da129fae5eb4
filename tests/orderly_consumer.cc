// A member of an orderly push consumer group in its own process, for tests
// that kill it: prints one line per listener call,
//   consumed <queue_id> <queue_offset> <start_us> <end_us> <body>
// (microseconds since the epoch), and "queues <n>" whenever the number of
// queues of --topic it holds changes; runs until SIGTERM.
#include <atomic>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/process.h"
#include "mq/push_consumer.h"

ABSL_FLAG(std::string, namesrv_addr, "", "Name server host:port.");
ABSL_FLAG(std::string, topic, "OrderlyTopic", "Topic to consume.");
ABSL_FLAG(std::string, group, "orderly_group", "Consumer group.");
ABSL_FLAG(std::string, instance, "child", "Client instance name.");
ABSL_FLAG(absl::Duration, consume_time, absl::Milliseconds(10), "Time spent per message.");
ABSL_FLAG(absl::Duration, interval, absl::Milliseconds(200),
          "Rebalance, heartbeat and lock renewal interval.");

namespace {

ABSL_CONST_INIT absl::Mutex output_mu(absl::kConstInit);

void Print(const std::string& line) {
  absl::MutexLock lock(&output_mu);
  std::cout << line << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  mq::InitServerProcess(argc, argv,
                        "An orderly push consumer that reports each listener call, until SIGTERM.");
  const absl::Duration interval = absl::GetFlag(FLAGS_interval);
  mq::PushConsumerOptions options;
  options.client.name_server_addresses = {absl::GetFlag(FLAGS_namesrv_addr)};
  options.client.instance_name = absl::GetFlag(FLAGS_instance);
  options.client.client_ip = "127.0.0.1";
  options.client.heartbeat_broker_interval = interval;
  options.consume_from_where = mq::ConsumeFromWhere::kFirstOffset;
  options.rebalance_interval = interval;
  options.persist_consumer_offset_interval = interval;
  options.queue_lock_interval = interval;
  mq::PushConsumer consumer(absl::GetFlag(FLAGS_group), options);
  const absl::Duration consume_time = absl::GetFlag(FLAGS_consume_time);
  consumer
      .RegisterMessageListenerOrderly(
          [consume_time](const std::vector<mq::MessageExt>& messages, mq::ConsumeOrderlyContext&) {
            const int64_t start = absl::ToUnixMicros(absl::Now());
            absl::SleepFor(consume_time);
            const int64_t end = absl::ToUnixMicros(absl::Now());
            for (const mq::MessageExt& m : messages) {
              Print(absl::StrCat("consumed ", m.queue_id, " ", m.queue_offset, " ", start, " ", end,
                                 " ", m.message.body()));
            }
            return mq::ConsumeOrderlyStatus::kSuccess;
          })
      .IgnoreError();
  if (absl::Status s = consumer.Subscribe(absl::GetFlag(FLAGS_topic), "*"); !s.ok()) {
    std::cerr << "subscribe: " << s << "\n";
    return 1;
  }
  if (absl::Status s = consumer.Start(); !s.ok()) {
    std::cerr << "start: " << s << "\n";
    return 1;
  }
  std::atomic<bool> stopping{false};
  std::thread watcher([&] {
    size_t last = 0;
    Print("queues 0");
    while (!stopping.load()) {
      size_t now = 0;
      for (const mq::MessageQueue& queue : consumer.AssignedQueues()) {
        now += queue.topic == absl::GetFlag(FLAGS_topic);
      }
      if (now != last) Print(absl::StrCat("queues ", now));
      last = now;
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  mq::WaitForShutdownSignal();
  stopping = true;
  watcher.join();
  consumer.Shutdown();
  return 0;
}
