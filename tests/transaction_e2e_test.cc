// Transactional messages against real server processes, in both deployments
// (the standalone server, and split name server + store + broker processes),
// driven through the C++ TransactionProducer: commit, rollback, an undecided
// transaction settled by the broker's check, a producer killed before
// deciding (another member of its group answers), the broker killed with
// SIGKILL between half and commit, and bad EndTransaction calls refused.
// The broker runs with a short transaction timeout and check interval.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/format/message_id.h"
#include "common/grpc_options.h"
#include "mq/pull_consumer.h"
#include "mq/transaction_producer.h"
#include "proto/broker.grpc.pb.h"
#include "testing/cluster_processes.h"
#include "testing/server_process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace mq {
namespace {

namespace bv1 = broker::v1;

enum class Deployment { kStandalone, kSplit };

constexpr char kTopic[] = "TxTopic";
constexpr char kGroup[] = "TxGroup";
constexpr int kQueues = 2;
const std::vector<std::string> kTransactionFlags = {"--transaction_timeout=1s",
                                                    "--transaction_check_interval=300ms",
                                                    "--transaction_check_max=1000"};

// The processes of one deployment. The broker (standalone: the whole server)
// can be killed with SIGKILL and restarted on the same port and data.
class Cluster {
 public:
  Cluster(Deployment deployment, std::vector<std::string> extra)
      : deployment_(deployment), extra_(std::move(extra)) {}

  ~Cluster() {
    for (auto* process : {&broker_, &store_, &namesrv_}) {
      if (*process != nullptr) {
        EXPECT_TRUE((*process)->Stop().ok());
      }
    }
  }

  void Start() {
    if (deployment_ == Deployment::kSplit) {
      absl::StatusOr<std::unique_ptr<testing::ServerProcess>> namesrv = testing::StartNamesrv();
      ASSERT_TRUE(namesrv.ok()) << namesrv.status();
      namesrv_ = *std::move(namesrv);
      absl::StatusOr<std::unique_ptr<testing::ServerProcess>> store =
          testing::StartStore("store", data_dir_, 16 << 20, {});
      ASSERT_TRUE(store.ok()) << store.status();
      store_ = *std::move(store);
    }
    StartBroker({});
    ASSERT_TRUE(testing::CreateTopic(broker_->address(), kTopic, kQueues).ok());
    ASSERT_TRUE(testing::WaitForRoute(namesrv_address(), kTopic, 1).ok());
  }

  // SIGKILL of the broker process (standalone: the whole server), then a
  // restart on the same port over the same data.
  void KillAndRestartBroker() {
    const int port = broker_->port();
    broker_->Kill();
    broker_.reset();
    StartBroker({absl::StrCat("--port=", port)});
  }

  std::string namesrv_address() const {
    return deployment_ == Deployment::kSplit ? namesrv_->address() : broker_->address();
  }
  std::string broker_address() const { return broker_->address(); }

 private:
  void StartBroker(const std::vector<std::string>& more) {
    std::vector<std::string> flags = kTransactionFlags;
    flags.insert(flags.end(), extra_.begin(), extra_.end());
    flags.insert(flags.end(), more.begin(), more.end());
    absl::StatusOr<std::unique_ptr<testing::ServerProcess>> broker =
        deployment_ == Deployment::kStandalone
            ? testing::StartStandalone(data_dir_, flags)
            : testing::StartBroker("broker", store_->address(), namesrv_->address(), flags);
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
  }

  const Deployment deployment_;
  const std::vector<std::string> extra_;
  const std::string data_dir_ = testing::MakeTempDir("transaction_e2e");
  std::unique_ptr<testing::ServerProcess> namesrv_;
  std::unique_ptr<testing::ServerProcess> store_;
  std::unique_ptr<testing::ServerProcess> broker_;
};

// Decides by the body's prefix: "commit..." commits, "rollback..." rolls
// back, anything else is undecided at first; a check answers `check_answer`.
class Listener : public TransactionListener {
 public:
  explicit Listener(LocalTransactionState check_answer = LocalTransactionState::kCommitMessage)
      : check_answer_(check_answer) {}

  LocalTransactionState ExecuteLocalTransaction(const Message& message, void* arg) override {
    absl::MutexLock lock(&mu_);
    executed_.push_back(message.unique_id());
    if (message.body().rfind("commit", 0) == 0) return LocalTransactionState::kCommitMessage;
    if (message.body().rfind("rollback", 0) == 0) return LocalTransactionState::kRollbackMessage;
    return LocalTransactionState::kUnknown;
  }
  LocalTransactionState CheckLocalTransaction(const MessageExt& message) override {
    absl::MutexLock lock(&mu_);
    checked_.insert(message.msg_id);
    return check_answer_;
  }
  bool Checked(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    return checked_.count(id) > 0;
  }
  int executed() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(executed_.size());
  }

 private:
  const LocalTransactionState check_answer_;
  mutable absl::Mutex mu_;
  std::vector<std::string> executed_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> checked_ ABSL_GUARDED_BY(mu_);
};

class TransactionE2eTest : public ::testing::TestWithParam<Deployment> {
 protected:
  void StartCluster(std::vector<std::string> extra = {}) {
    cluster_ = std::make_unique<Cluster>(GetParam(), std::move(extra));
    cluster_->Start();
  }

  void TearDown() override {
    for (auto& producer : producers_) producer->Shutdown();
    if (consumer_ != nullptr) consumer_->Shutdown();
    cluster_.reset();
  }

  ClientOptions Client(const std::string& instance) const {
    ClientOptions client;
    client.name_server_addresses = {cluster_->namesrv_address()};
    client.instance_name = instance;
    client.client_ip = "127.0.0.1";
    return client;
  }

  TransactionProducer* StartProducer(const std::string& instance,
                                     std::shared_ptr<TransactionListener> listener) {
    TransactionProducerOptions options;
    options.producer.client = Client(instance);
    options.channel_refresh_interval = absl::Milliseconds(200);
    producers_.push_back(
        std::make_unique<TransactionProducer>(kGroup, std::move(listener), options));
    EXPECT_TRUE(producers_.back()->Start().ok());
    return producers_.back().get();
  }

  // Every message of the topic, from offset 0 of each queue: msg_id -> count.
  std::map<std::string, int> Delivered() {
    if (consumer_ == nullptr) {
      PullConsumerOptions options;
      options.client = Client("reader");
      consumer_ = std::make_unique<PullConsumer>("TxReaders", options);
      EXPECT_TRUE(consumer_->Start().ok());
    }
    std::map<std::string, int> delivered;
    absl::StatusOr<std::vector<MessageQueue>> queues = consumer_->FetchSubscribeQueues(kTopic);
    EXPECT_TRUE(queues.ok()) << queues.status();
    if (!queues.ok()) return delivered;
    for (const MessageQueue& queue : *queues) {
      int64_t offset = 0;
      while (true) {
        absl::StatusOr<PullResult> pulled = consumer_->Pull(queue, "*", offset, 32);
        if (!pulled.ok() || pulled->status != PullStatus::kFound) break;
        for (const MessageExt& m : pulled->messages) {
          ++delivered[m.msg_id];
          EXPECT_TRUE(m.message.GetProperty("TRAN_MSG").empty()) << m.msg_id;
        }
        offset = pulled->next_begin_offset;
      }
    }
    return delivered;
  }

  // How many halves the broker has seen settled (every half below this
  // offset of its half queue), from its runtime stats; -1 if unknown.
  int64_t HalvesSettled() {
    auto stub = bv1::Broker::NewStub(CreateChannel(cluster_->broker_address()));
    grpc::ClientContext context;
    bv1::GetRuntimeStatsResponse stats;
    if (!stub->GetRuntimeStats(&context, bv1::GetRuntimeStatsRequest(), &stats).ok()) return -1;
    auto it = stats.extra().find("transaction_halves_settled_below");
    int64_t settled = -1;
    if (it == stats.extra().end() || !absl::SimpleAtoi(it->second, &settled)) return -1;
    return settled;
  }

  // Waits until `id` was delivered and the broker's check service has every
  // one of the `halves` sent so far settled (so no check can commit again),
  // then returns how often `id` was delivered.
  int DeliveredCount(const std::string& id, int64_t halves) {
    EXPECT_TRUE(testing::WaitUntil(
        [&] { return Delivered().count(id) > 0 && HalvesSettled() >= halves; }, absl::Seconds(20)))
        << id << " not delivered, or halves unsettled: " << HalvesSettled() << " of " << halves;
    return Delivered()[id];
  }

  std::unique_ptr<Cluster> cluster_;
  std::vector<std::unique_ptr<TransactionProducer>> producers_;
  std::unique_ptr<PullConsumer> consumer_;
};

TEST_P(TransactionE2eTest, CommitDeliversOnceAndRollbackNever) {
  StartCluster();
  auto listener = std::make_shared<Listener>(LocalTransactionState::kRollbackMessage);
  TransactionProducer* producer = StartProducer("p1", listener);

  absl::StatusOr<TransactionSendResult> committed =
      producer->SendMessageInTransaction(Message(kTopic, "TagA", "commit-1"), nullptr);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(committed->local_transaction_state, LocalTransactionState::kCommitMessage);
  EXPECT_TRUE(committed->end_transaction_status.ok()) << committed->end_transaction_status;
  absl::StatusOr<TransactionSendResult> rolled_back =
      producer->SendMessageInTransaction(Message(kTopic, "TagA", "rollback-1"), nullptr);
  ASSERT_TRUE(rolled_back.ok()) << rolled_back.status();
  EXPECT_EQ(rolled_back->local_transaction_state, LocalTransactionState::kRollbackMessage);
  EXPECT_TRUE(rolled_back->end_transaction_status.ok()) << rolled_back->end_transaction_status;

  EXPECT_EQ(DeliveredCount(committed->transaction_id, 2), 1);
  EXPECT_EQ(Delivered().count(rolled_back->transaction_id), 0u);
  // Settled transactions are never checked.
  EXPECT_FALSE(listener->Checked(committed->transaction_id));
  EXPECT_FALSE(listener->Checked(rolled_back->transaction_id));
}

TEST_P(TransactionE2eTest, UnknownIsCommittedWhenTheCheckSaysSo) {
  StartCluster();
  auto listener = std::make_shared<Listener>(LocalTransactionState::kCommitMessage);
  TransactionProducer* producer = StartProducer("p1", listener);
  absl::StatusOr<TransactionSendResult> sent =
      producer->SendMessageInTransaction(Message(kTopic, "TagA", "undecided-1"), nullptr);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->local_transaction_state, LocalTransactionState::kUnknown);
  EXPECT_EQ(Delivered().count(sent->transaction_id), 0u) << "visible before any decision";
  EXPECT_EQ(DeliveredCount(sent->transaction_id, 1), 1);
  EXPECT_TRUE(listener->Checked(sent->transaction_id));
}

TEST_P(TransactionE2eTest, AnotherMemberAnswersWhenTheProducerWasKilled) {
  StartCluster();
  absl::StatusOr<std::unique_ptr<testing::ServerProcess>> child = testing::ServerProcess::Spawn(
      "tx-child", testing::RunfilePath("tests/transaction_producer"),
      {absl::StrCat("--namesrv_addr=", cluster_->namesrv_address()),
       absl::StrCat("--topic=", kTopic), absl::StrCat("--group=", kGroup), "--instance=child"});
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitForOutput("half ", absl::Seconds(20)));
  std::string id;
  for (const std::string& line : (*child)->Lines()) {
    if (line.rfind("half ", 0) == 0) id = line.substr(5);
  }
  ASSERT_FALSE(id.empty());
  (*child)->Kill();

  auto listener = std::make_shared<Listener>(LocalTransactionState::kCommitMessage);
  StartProducer("member-2", listener);
  EXPECT_EQ(DeliveredCount(id, 1), 1);
  EXPECT_TRUE(listener->Checked(id));
}

TEST_P(TransactionE2eTest, BrokerKilledBetweenHalfAndCommitDeliversOnce) {
  StartCluster();
  auto listener = std::make_shared<Listener>(LocalTransactionState::kCommitMessage);
  // The first producer never decides and is gone before the crash; the
  // member started after the restart answers the check.
  auto undecided = std::make_shared<Listener>(LocalTransactionState::kUnknown);
  TransactionProducer* first = StartProducer("before-crash", undecided);
  absl::StatusOr<TransactionSendResult> committed =
      first->SendMessageInTransaction(Message(kTopic, "TagA", "commit-before-crash"), nullptr);
  ASSERT_TRUE(committed.ok()) << committed.status();
  absl::StatusOr<TransactionSendResult> half =
      first->SendMessageInTransaction(Message(kTopic, "TagA", "undecided-at-crash"), nullptr);
  ASSERT_TRUE(half.ok()) << half.status();
  first->Shutdown();

  cluster_->KillAndRestartBroker();

  StartProducer("after-crash", listener);
  EXPECT_EQ(DeliveredCount(half->transaction_id, 2), 1);
  EXPECT_EQ(Delivered()[committed->transaction_id], 1);
  EXPECT_TRUE(listener->Checked(half->transaction_id));
  EXPECT_FALSE(listener->Checked(committed->transaction_id));

  // Committing the same half again by hand is refused; still one copy.
  auto stub = bv1::Broker::NewStub(CreateChannel(cluster_->broker_address()));
  absl::StatusOr<format::OffsetMessageId> offset =
      format::ParseOffsetMessageId(half->offset_msg_id);
  ASSERT_TRUE(offset.ok());
  bv1::EndTransactionRequest request;
  request.set_producer_group(kGroup);
  request.set_transaction_id(half->transaction_id);
  request.set_commit_log_offset(offset->physical_offset);
  request.set_queue_offset(half->queue_offset);
  request.set_resolution(bv1::TRANSACTION_COMMIT);
  grpc::ClientContext context;
  bv1::EndTransactionResponse response;
  grpc::Status status = stub->EndTransaction(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_EQ(Delivered()[half->transaction_id], 1);
}

TEST_P(TransactionE2eTest, BadEndTransactionCallsAreRefusedAndChangeNothing) {
  StartCluster();
  auto listener = std::make_shared<Listener>(LocalTransactionState::kUnknown);
  TransactionProducer* producer = StartProducer("p1", listener);
  absl::StatusOr<TransactionSendResult> half =
      producer->SendMessageInTransaction(Message(kTopic, "TagA", "undecided-1"), nullptr);
  ASSERT_TRUE(half.ok()) << half.status();
  absl::StatusOr<format::OffsetMessageId> offset =
      format::ParseOffsetMessageId(half->offset_msg_id);
  ASSERT_TRUE(offset.ok());

  auto stub = bv1::Broker::NewStub(CreateChannel(cluster_->broker_address()));
  auto end = [&](const bv1::EndTransactionRequest& request) {
    grpc::ClientContext context;
    bv1::EndTransactionResponse response;
    return stub->EndTransaction(&context, request, &response);
  };
  bv1::EndTransactionRequest good;
  good.set_producer_group(kGroup);
  good.set_transaction_id(half->transaction_id);
  good.set_commit_log_offset(offset->physical_offset);
  good.set_queue_offset(half->queue_offset);
  good.set_resolution(bv1::TRANSACTION_COMMIT);

  bv1::EndTransactionRequest bad_offset = good;
  bad_offset.set_commit_log_offset(offset->physical_offset + (1 << 20));
  EXPECT_EQ(end(bad_offset).error_code(), grpc::StatusCode::NOT_FOUND);
  bv1::EndTransactionRequest wrong_group = good;
  wrong_group.set_producer_group("SomeoneElse");
  EXPECT_EQ(end(wrong_group).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  bv1::EndTransactionRequest wrong_queue_offset = good;
  wrong_queue_offset.set_queue_offset(half->queue_offset + 5);
  EXPECT_EQ(end(wrong_queue_offset).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bv1::EndTransactionRequest bad_group_name = good;
  bad_group_name.set_producer_group("");
  EXPECT_EQ(end(bad_group_name).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Direct sends to the half topic are refused.
  bv1::SendMessageRequest direct;
  direct.set_producer_group(kGroup);
  direct.set_queue_id(0);
  direct.mutable_message()->set_topic("RMQ_SYS_TRANS_HALF_TOPIC");
  direct.mutable_message()->set_body("sneaky");
  grpc::ClientContext send_context;
  bv1::SendMessageResponse sent;
  EXPECT_EQ(stub->SendMessage(&send_context, direct, &sent).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  EXPECT_TRUE(Delivered().empty());
  // The good call still works, once.
  EXPECT_TRUE(end(good).ok());
  EXPECT_EQ(end(good).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(DeliveredCount(half->transaction_id, 1), 1);
}

TEST_P(TransactionE2eTest, RejectTransactionMessageRefusesHalves) {
  StartCluster({"--reject_transaction_message"});
  auto listener = std::make_shared<Listener>();
  TransactionProducer* producer = StartProducer("p1", listener);
  absl::StatusOr<TransactionSendResult> sent =
      producer->SendMessageInTransaction(Message(kTopic, "TagA", "commit-1"), nullptr);
  EXPECT_TRUE(absl::IsPermissionDenied(sent.status())) << sent.status();
  EXPECT_EQ(listener->executed(), 0);
  EXPECT_TRUE(Delivered().empty());
}

INSTANTIATE_TEST_SUITE_P(Deployments, TransactionE2eTest,
                         ::testing::Values(Deployment::kStandalone, Deployment::kSplit),
                         [](const ::testing::TestParamInfo<Deployment>& info) {
                           return info.param == Deployment::kStandalone ? "Standalone" : "Split";
                         });

}  // namespace
}  // namespace mq
