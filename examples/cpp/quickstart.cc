// Sends one message and reads it back with the C++ client:
//   quickstart [--namesrv=127.0.0.1:9876] [--topic=TopicTest]
// The topic is created on the first send (the broker's auto-create is on by
// default). Exits 0 when the message came back.
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "mq/message.h"
#include "mq/producer.h"
#include "mq/pull_consumer.h"

ABSL_FLAG(std::string, namesrv, "127.0.0.1:9876", "Name server address.");
ABSL_FLAG(std::string, topic, "TopicTest", "Topic to send to.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string topic = absl::GetFlag(FLAGS_topic);

  mq::ProducerOptions producer_options;
  producer_options.client.name_server_addresses = {absl::GetFlag(FLAGS_namesrv)};
  mq::Producer producer("quickstart-producer", producer_options);
  if (absl::Status s = producer.Start(); !s.ok()) {
    std::cerr << "producer: " << s << "\n";
    return 1;
  }
  mq::Message message(topic, /*tags=*/"TagA", /*keys=*/"order-1", "Hello, mq!");
  absl::StatusOr<mq::SendResult> sent = producer.Send(message);
  if (!sent.ok()) {
    std::cerr << "send: " << sent.status() << "\n";
    return 1;
  }
  std::cout << "sent " << sent->msg_id << " to " << sent->message_queue.ToString() << " at offset "
            << sent->queue_offset << " (" << mq::SendStatusName(sent->status) << ")\n";
  producer.Shutdown();

  mq::PullConsumerOptions consumer_options;
  consumer_options.client.name_server_addresses = {absl::GetFlag(FLAGS_namesrv)};
  mq::PullConsumer consumer("quickstart-consumer", consumer_options);
  if (absl::Status s = consumer.Start(); !s.ok()) {
    std::cerr << "consumer: " << s << "\n";
    return 1;
  }
  // A stored message reaches its queue a moment after the send returns (the
  // broker dispatches it asynchronously, as RocketMQ does): the long-polling
  // pull waits for it, where Pull() would answer "nothing" until then.
  absl::StatusOr<mq::PullResult> pulled =
      consumer.PullBlockIfNotFound(sent->message_queue, "TagA", sent->queue_offset, 1);
  if (!pulled.ok() || pulled->messages.empty()) {
    std::cerr << "pull: " << (pulled.ok() ? "nothing found" : pulled.status().ToString()) << "\n";
    return 1;
  }
  const mq::MessageExt& received = pulled->messages.front();
  std::cout << "received " << received.msg_id << ": " << received.message.body() << "\n";
  consumer.Shutdown();
  return received.msg_id == sent->msg_id ? 0 : 1;
}
