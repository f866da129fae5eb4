// A push consumer process for the retry tests, which kill it with SIGKILL in
// the middle of its retries. It consumes a topic in clustering mode and
// prints one line per delivery, until SIGTERM:
//   started CLIENT_ID
//   consumed MSG_ID RECONSUME_TIMES TOPIC [BODY_HEX]
// (BODY_HEX with --print_body: other tests read messages back byte-for-byte).
//
//   retry_consumer --namesrv_addr=127.0.0.1:9876 --group=G --topic=T --fail
#include <iostream>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/flags/flag.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/process.h"
#include "mq/push_consumer.h"

ABSL_FLAG(std::string, namesrv_addr, "", "Name server host:port.");
ABSL_FLAG(std::string, group, "RetryGroup", "Consumer group.");
ABSL_FLAG(std::string, topic, "RetryTopic", "Topic to consume.");
ABSL_FLAG(std::string, instance_name, "retry-consumer", "Client instance name.");
ABSL_FLAG(bool, fail, false, "Answer RECONSUME_LATER to every message.");
ABSL_FLAG(absl::Duration, consume_time, absl::ZeroDuration(),
          "How long the listener takes per call.");
ABSL_FLAG(int, max_reconsume_times, -1, "PushConsumerOptions::max_reconsume_times.");
ABSL_FLAG(bool, print_body, false, "Append each message's body, in hex, to its line.");

namespace {

ABSL_CONST_INIT absl::Mutex output_mu(absl::kConstInit);

void Print(const std::string& line) {
  absl::MutexLock lock(&output_mu);
  std::cout << line << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  mq::InitServerProcess(argc, argv, "Consumes a topic and prints every delivery, until SIGTERM.");
  mq::PushConsumerOptions options;
  options.client.name_server_addresses = {absl::GetFlag(FLAGS_namesrv_addr)};
  options.client.instance_name = absl::GetFlag(FLAGS_instance_name);
  options.client.client_ip = "127.0.0.1";
  options.consume_from_where = mq::ConsumeFromWhere::kFirstOffset;
  options.rebalance_interval = absl::Milliseconds(300);
  options.persist_consumer_offset_interval = absl::Milliseconds(300);
  options.max_reconsume_times = absl::GetFlag(FLAGS_max_reconsume_times);
  options.reconsume_delay = absl::Milliseconds(500);
  mq::PushConsumer consumer(absl::GetFlag(FLAGS_group), options);
  const bool fail = absl::GetFlag(FLAGS_fail);
  const absl::Duration consume_time = absl::GetFlag(FLAGS_consume_time);
  const bool print_body = absl::GetFlag(FLAGS_print_body);
  absl::Status status = consumer.RegisterMessageListener(
      [fail, consume_time, print_body](const std::vector<mq::MessageExt>& messages) {
        absl::SleepFor(consume_time);
        for (const mq::MessageExt& m : messages) {
          Print(absl::StrCat(
              "consumed ", m.msg_id, " ", m.reconsume_times, " ", m.message.topic(),
              print_body ? absl::StrCat(" ", absl::BytesToHexString(m.message.body())) : ""));
        }
        return fail ? mq::ConsumeStatus::kReconsumeLater : mq::ConsumeStatus::kConsumeSuccess;
      });
  if (status.ok()) status = consumer.Subscribe(absl::GetFlag(FLAGS_topic), "*");
  if (status.ok()) status = consumer.Start();
  if (!status.ok()) {
    std::cerr << "retry_consumer: " << status << std::endl;
    return 1;
  }
  Print(absl::StrCat("started ", consumer.client_id()));
  const int signal = mq::WaitForShutdownSignal();
  consumer.Shutdown();
  Print(absl::StrCat("stopped by signal ", signal));
  return 0;
}
