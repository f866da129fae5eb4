// A transaction producer that sends one transactional message, leaves it
// undecided (UNKNOW) and then waits for a signal: the transaction e2e test
// kills it with SIGKILL and checks that another member of the group answers
// the broker's check. Prints
//   half MSG_ID          once the half message is stored
//
//   transaction_producer --namesrv_addr=127.0.0.1:9876 --topic=T --group=G --body=B
#include "mq/transaction_producer.h"

#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "common/process.h"

ABSL_FLAG(std::string, namesrv_addr, "", "Name server host:port.");
ABSL_FLAG(std::string, topic, "TxTopic", "Topic to send to.");
ABSL_FLAG(std::string, group, "TxGroup", "Producer group.");
ABSL_FLAG(std::string, instance, "tx-child", "Client instance name.");
ABSL_FLAG(std::string, body, "undecided", "Message body.");

namespace {

// Never decides.
class Undecided : public mq::TransactionListener {
 public:
  mq::LocalTransactionState ExecuteLocalTransaction(const mq::Message&, void*) override {
    return mq::LocalTransactionState::kUnknown;
  }
  mq::LocalTransactionState CheckLocalTransaction(const mq::MessageExt&) override {
    return mq::LocalTransactionState::kUnknown;
  }
};

}  // namespace

int main(int argc, char** argv) {
  mq::InitServerProcess(argc, argv, "Sends one undecided transactional message, then waits.");
  mq::TransactionProducerOptions options;
  options.producer.client.name_server_addresses = {absl::GetFlag(FLAGS_namesrv_addr)};
  options.producer.client.instance_name = absl::GetFlag(FLAGS_instance);
  options.producer.client.client_ip = "127.0.0.1";
  mq::TransactionProducer producer(absl::GetFlag(FLAGS_group), std::make_shared<Undecided>(),
                                   options);
  if (absl::Status started = producer.Start(); !started.ok()) {
    std::cerr << "cannot start: " << started << std::endl;
    return 1;
  }
  absl::StatusOr<mq::TransactionSendResult> sent = producer.SendMessageInTransaction(
      mq::Message(absl::GetFlag(FLAGS_topic), "TagA", absl::GetFlag(FLAGS_body)), nullptr);
  if (!sent.ok()) {
    std::cerr << "cannot send: " << sent.status() << std::endl;
    return 1;
  }
  std::cout << "half " << sent->transaction_id << std::endl;
  mq::WaitForShutdownSignal();
  producer.Shutdown();
  return 0;
}
