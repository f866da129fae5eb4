// A producer for the multi-host test: sends one message after another to a
// topic and reports every outcome and every change of its route on stdout,
// until SIGTERM. Lines:
//   topic TOPIC created on HOST:PORT
//   route BROKER,BROKER          (the brokers the producer would send to now)
//   send SEQ ok BROKER MILLIS    (a sync send, retries included, took MILLIS)
//   send SEQ failed MILLIS STATUS
//   stopped sent=N failed=M
//
//   failover_producer --namesrv_addr=10.213.1.2:9876 --topic=Failover \
//       --create_topic_on=10.213.1.3:10911,10.213.1.4:10911
#include <grpcpp/client_context.h>

#include <atomic>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_options.h"
#include "common/process.h"
#include "mq/producer.h"
#include "proto/broker.grpc.pb.h"

ABSL_FLAG(std::string, namesrv_addr, "", "Name server host:port.");
ABSL_FLAG(std::string, topic, "FailoverTopic", "Topic to send to.");
ABSL_FLAG(std::vector<std::string>, create_topic_on, {},
          "Brokers (host:port) to create the topic on before sending.");
ABSL_FLAG(int32_t, queues, 4, "Queues of the topic on each broker.");
ABSL_FLAG(absl::Duration, pause, absl::Milliseconds(20), "Pause between two sends.");
ABSL_FLAG(absl::Duration, route_check_interval, absl::Milliseconds(100),
          "How often the producer's route is compared with the last one printed.");

namespace {

// Keeps the lines of the two threads whole.
ABSL_CONST_INIT absl::Mutex output_mu(absl::kConstInit);

void Print(const std::string& line) {
  absl::MutexLock lock(&output_mu);
  std::cout << line << std::endl;
}

// Creates the topic on one broker, retrying while the broker starts.
bool CreateTopic(const std::string& broker_address, const std::string& topic, int32_t queues) {
  auto stub = mq::broker::v1::Broker::NewStub(mq::CreateChannel(broker_address));
  mq::broker::v1::CreateOrUpdateTopicRequest request;
  request.mutable_config()->set_topic_name(topic);
  request.mutable_config()->set_read_queue_nums(queues);
  request.mutable_config()->set_write_queue_nums(queues);
  request.mutable_config()->set_perm(mq::common::v1::PERM_READ | mq::common::v1::PERM_WRITE);
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    mq::broker::v1::CreateOrUpdateTopicResponse response;
    grpc::Status status = stub->CreateOrUpdateTopic(&context, request, &response);
    if (status.ok()) return true;
    if (absl::Now() > deadline) {
      std::cerr << "cannot create " << topic << " on " << broker_address << ": "
                << status.error_message() << "\n";
      return false;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

}  // namespace

int main(int argc, char** argv) {
  mq::InitServerProcess(argc, argv,
                        "Sends messages one after another and reports each outcome and each "
                        "route change, until SIGTERM.");
  const std::string topic = absl::GetFlag(FLAGS_topic);
  for (const std::string& broker : absl::GetFlag(FLAGS_create_topic_on)) {
    if (!CreateTopic(broker, topic, absl::GetFlag(FLAGS_queues))) return 1;
    Print(absl::StrCat("topic ", topic, " created on ", broker));
  }

  mq::ProducerOptions options;
  options.client.name_server_addresses = {absl::GetFlag(FLAGS_namesrv_addr)};
  // Follow the name server closely: the test watches brokers leave and return.
  options.client.poll_name_server_interval = absl::Seconds(1);
  options.send_latency_fault_enable = true;
  // A host cut off from the network answers nothing: without a cap per
  // attempt (off by default, as in RocketMQ) a send to it would spend its
  // whole 3 s budget there instead of retrying on the other group. The brokers
  // here are ASYNC_MASTER with ASYNC_FLUSH, where the cap is safe.
  options.max_attempt_timeout = absl::Seconds(1);
  mq::Producer producer("failover_producers", options);
  if (absl::Status started = producer.Start(); !started.ok()) {
    std::cerr << "producer: " << started << "\n";
    return 1;
  }

  std::atomic<bool> stopping{false};
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> failed{0};

  std::thread route_watcher([&] {
    std::string last;
    while (!stopping.load()) {
      absl::StatusOr<std::vector<mq::MessageQueue>> queues = producer.FetchPublishQueues(topic);
      std::string now;
      if (queues.ok()) {
        std::set<std::string> brokers;
        for (const mq::MessageQueue& queue : *queues) brokers.insert(queue.broker_name);
        now = absl::StrCat("route ", absl::StrJoin(brokers, ","));
      } else {
        now = absl::StrCat("route unknown: ", queues.status().message());
      }
      if (now != last) Print(now);
      last = now;
      absl::SleepFor(absl::GetFlag(FLAGS_route_check_interval));
    }
  });

  std::thread sender([&] {
    for (int64_t seq = 0; !stopping.load(); ++seq) {
      absl::Time start = absl::Now();
      absl::StatusOr<mq::SendResult> result =
          producer.Send(mq::Message(topic, "TagA", absl::StrCat("message ", seq)));
      int64_t millis = absl::ToInt64Milliseconds(absl::Now() - start);
      if (result.ok()) {
        ++sent;
        Print(absl::StrCat("send ", seq, " ok ", result->message_queue.broker_name, " ", millis));
      } else {
        ++failed;
        Print(absl::StrCat("send ", seq, " failed ", millis, " ", result.status().ToString()));
      }
      absl::SleepFor(absl::GetFlag(FLAGS_pause));
    }
  });

  mq::WaitForShutdownSignal();
  stopping.store(true);
  sender.join();
  route_watcher.join();
  producer.Shutdown();
  Print(absl::StrCat("stopped sent=", sent.load(), " failed=", failed.load()));
  return 0;
}
