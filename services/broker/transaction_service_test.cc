#include "services/broker/transaction_service.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/format/property_keys.h"
#include "common/status.h"
#include "common/testing/fake_clock.h"
#include "testing/small_store.h"
#include "testing/temp_dir.h"

namespace mq::broker {
namespace {

constexpr char kTopic[] = "Orders";
constexpr char kGroup[] = "TxGroup";

class RecordingChecker : public TransactionChecker {
 public:
  bool SendCheck(const broker::v1::TransactionCheck& check) override {
    absl::MutexLock lock(&mu_);
    checks_.push_back(check);
    return true;
  }
  std::vector<broker::v1::TransactionCheck> checks() const {
    absl::MutexLock lock(&mu_);
    return checks_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<broker::v1::TransactionCheck> checks_ ABSL_GUARDED_BY(mu_);
};

class TransactionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenSmallStore(dir_);
    ASSERT_NE(store_, nullptr);
    clock_.Set(absl::Now());
    service_ = NewService();
    ASSERT_TRUE(service_->Load().ok());
  }

  std::unique_ptr<TransactionService> NewService(TransactionOptions options = Options()) {
    return std::make_unique<TransactionService>(store_.get(), &checker_, "broker-a",
                                                "127.0.0.1:10911", options, &clock_);
  }

  static TransactionOptions Options() {
    TransactionOptions options;
    options.check_max = 2;
    return options;
  }

  // Stores a half message the way the send pipeline does; returns its result.
  store::v1::AppendResult SendHalf(const std::string& body, const std::string& id) {
    store::v1::AppendBatchRequest append;
    store::v1::AppendEntry* entry = append.add_entries();
    entry->mutable_message()->set_topic(kTopic);
    entry->mutable_message()->set_body(body);
    auto& properties = *entry->mutable_message()->mutable_properties();
    properties[std::string(format::kPropertyUniqueKey)] = id;
    properties[std::string(format::kPropertyTransactionPrepared)] = "true";
    properties[std::string(format::kPropertyProducerGroup)] = kGroup;
    entry->set_queue_id(2);
    entry->set_born_timestamp_ms(absl::ToUnixMillis(absl::Now()));
    entry->set_born_host("10.0.0.9:5555");
    entry->set_store_host("127.0.0.1:10911");
    EXPECT_TRUE(service_->ToHalf(entry).ok());
    absl::StatusOr<store::v1::AppendBatchResponse> stored = store_->AppendBatch(append);
    EXPECT_TRUE(stored.ok()) << stored.status();
    EXPECT_TRUE(testing::WaitForDispatch(*store_));
    return stored->results(0);
  }

  broker::v1::EndTransactionRequest End(const store::v1::AppendResult& half, const std::string& id,
                                        broker::v1::TransactionResolution resolution) {
    broker::v1::EndTransactionRequest request;
    request.set_producer_group(kGroup);
    request.set_transaction_id(id);
    request.set_commit_log_offset(half.physical_offset());
    request.set_queue_offset(half.queue_offset());
    request.set_resolution(resolution);
    return request;
  }

  std::vector<common::v1::MessageExt> Read(const std::string& topic, int32_t queue_id) {
    EXPECT_TRUE(testing::WaitForDispatch(*store_));
    store::v1::GetMessagesRequest request;
    request.set_topic(topic);
    request.set_queue_id(queue_id);
    request.set_max_count(100);
    absl::StatusOr<store::v1::GetMessagesResponse> read = store_->GetMessages(request);
    EXPECT_TRUE(read.ok()) << read.status();
    return {read->messages().begin(), read->messages().end()};
  }

  const std::string dir_ = testing::MakeTempDir("transaction_service");
  std::unique_ptr<store::MessageStore> store_;
  FakeClock clock_;
  RecordingChecker checker_;
  std::unique_ptr<TransactionService> service_;
};

TEST_F(TransactionServiceTest, HalfIsStoredOnTheHalfTopicOnly) {
  SendHalf("pay 10", "ID0");
  EXPECT_TRUE(Read(kTopic, 2).empty());
  std::vector<common::v1::MessageExt> halves = Read(std::string(kTransactionHalfTopic), 0);
  ASSERT_EQ(halves.size(), 1u);
  EXPECT_EQ(halves[0].properties().at(std::string(format::kPropertyRealTopic)), kTopic);
  EXPECT_EQ(halves[0].properties().at(std::string(format::kPropertyRealQueueId)), "2");
}

TEST_F(TransactionServiceTest, CommitDeliversOnceAndASecondCommitIsRefused) {
  store::v1::AppendResult half = SendHalf("pay 10", "ID1");
  absl::StatusOr<broker::v1::EndTransactionResponse> committed =
      service_->EndTransaction(End(half, "ID1", broker::v1::TRANSACTION_COMMIT));
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(committed->topic(), kTopic);
  EXPECT_EQ(committed->queue_id(), 2);

  absl::StatusOr<broker::v1::EndTransactionResponse> again =
      service_->EndTransaction(End(half, "ID1", broker::v1::TRANSACTION_COMMIT));
  EXPECT_TRUE(absl::IsFailedPrecondition(again.status())) << again.status();
  absl::StatusOr<broker::v1::EndTransactionResponse> rollback =
      service_->EndTransaction(End(half, "ID1", broker::v1::TRANSACTION_ROLLBACK));
  EXPECT_TRUE(absl::IsFailedPrecondition(rollback.status())) << rollback.status();

  std::vector<common::v1::MessageExt> visible = Read(kTopic, 2);
  ASSERT_EQ(visible.size(), 1u);
  EXPECT_EQ(visible[0].body(), "pay 10");
  EXPECT_EQ(visible[0].msg_id(), "ID1");
  EXPECT_EQ(visible[0].properties().count(std::string(format::kPropertyTransactionPrepared)), 0u);
  EXPECT_EQ(
      visible[0].properties().at(std::string(format::kPropertyTransactionPreparedQueueOffset)),
      "0");
  std::vector<common::v1::MessageExt> ops = Read(std::string(kTransactionOpTopic), 0);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].body(), "0");
}

TEST_F(TransactionServiceTest, RollbackWritesOnlyTheOpRecord) {
  store::v1::AppendResult half = SendHalf("pay 10", "ID2");
  ASSERT_TRUE(service_->EndTransaction(End(half, "ID2", broker::v1::TRANSACTION_ROLLBACK)).ok());
  EXPECT_TRUE(Read(kTopic, 2).empty());
  EXPECT_EQ(Read(std::string(kTransactionOpTopic), 0).size(), 1u);
  EXPECT_TRUE(service_->IsSettled(half.queue_offset()));
}

TEST_F(TransactionServiceTest, BadRequestsAreRefusedAndChangeNothing) {
  store::v1::AppendResult half = SendHalf("pay 10", "ID3");
  auto commit = [&] { return End(half, "ID3", broker::v1::TRANSACTION_COMMIT); };

  broker::v1::EndTransactionRequest bad_offset = commit();
  bad_offset.set_commit_log_offset(half.physical_offset() + 1000000);
  absl::StatusOr<broker::v1::EndTransactionResponse> r = service_->EndTransaction(bad_offset);
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_EQ(GetResponseCode(r.status()), common::v1::QUERY_NOT_FOUND);

  broker::v1::EndTransactionRequest bad_queue_offset = commit();
  bad_queue_offset.set_queue_offset(7);
  r = service_->EndTransaction(bad_queue_offset);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();

  broker::v1::EndTransactionRequest wrong_group = commit();
  wrong_group.set_producer_group("OtherGroup");
  r = service_->EndTransaction(wrong_group);
  EXPECT_TRUE(absl::IsPermissionDenied(r.status())) << r.status();

  broker::v1::EndTransactionRequest wrong_id = commit();
  wrong_id.set_transaction_id("ID-other");
  r = service_->EndTransaction(wrong_id);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();

  broker::v1::EndTransactionRequest wrong_broker = commit();
  wrong_broker.set_broker_name("broker-b");
  r = service_->EndTransaction(wrong_broker);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();

  // A plain message is not a half.
  broker::v1::EndTransactionRequest not_half = commit();
  store::v1::AppendBatchRequest plain;
  store::v1::AppendEntry* entry = plain.add_entries();
  entry->mutable_message()->set_topic(kTopic);
  entry->mutable_message()->set_body("plain");
  entry->set_born_host("10.0.0.9:5555");
  entry->set_store_host("127.0.0.1:10911");
  absl::StatusOr<store::v1::AppendBatchResponse> stored = store_->AppendBatch(plain);
  ASSERT_TRUE(stored.ok());
  not_half.set_commit_log_offset(stored->results(0).physical_offset());
  r = service_->EndTransaction(not_half);
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();

  // Unknown changes nothing either.
  EXPECT_TRUE(service_->EndTransaction(End(half, "ID3", broker::v1::TRANSACTION_UNKNOWN)).ok());

  EXPECT_EQ(Read(kTopic, 2).size(), 0u);
  EXPECT_EQ(Read(kTopic, 0).size(), 1u);  // the plain message only
  EXPECT_TRUE(Read(std::string(kTransactionOpTopic), 0).empty());
  EXPECT_FALSE(service_->IsSettled(half.queue_offset()));
  // ... and the half can still be committed.
  EXPECT_TRUE(service_->EndTransaction(commit()).ok());
}

TEST_F(TransactionServiceTest, CommitAfterACrashBetweenCopyAndOpRecordDoesNotDuplicate) {
  store::v1::AppendResult half = SendHalf("pay 10", "ID4");
  // The copy a commit appended before the broker died, without its op record.
  store::v1::AppendBatchRequest copy;
  store::v1::AppendEntry* entry = copy.add_entries();
  entry->mutable_message()->set_topic(kTopic);
  entry->mutable_message()->set_body("pay 10");
  (*entry->mutable_message()->mutable_properties())[std::string(format::kPropertyUniqueKey)] =
      "ID4";
  (*entry->mutable_message()
        ->mutable_properties())[std::string(format::kPropertyTransactionPreparedQueueOffset)] =
      absl::StrCat(half.queue_offset());
  entry->set_queue_id(2);
  entry->set_born_host("10.0.0.9:5555");
  entry->set_store_host("127.0.0.1:10911");
  ASSERT_TRUE(store_->AppendBatch(copy).ok());
  ASSERT_TRUE(testing::WaitForDispatch(*store_));

  std::unique_ptr<TransactionService> restarted = NewService();
  ASSERT_TRUE(restarted->Load().ok());
  EXPECT_EQ(restarted->pending_count(), 1u);
  absl::StatusOr<broker::v1::EndTransactionResponse> committed =
      restarted->EndTransaction(End(half, "ID4", broker::v1::TRANSACTION_COMMIT));
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(Read(kTopic, 2).size(), 1u);
  EXPECT_EQ(Read(std::string(kTransactionOpTopic), 0).size(), 1u);
  EXPECT_EQ(restarted->pending_count(), 0u);
}

TEST_F(TransactionServiceTest, CheckRoundAsksAfterTheTimeoutThenDiscards) {
  store::v1::AppendResult half = SendHalf("pay 10", "ID5");
  service_->CheckOnce();
  EXPECT_TRUE(checker_.checks().empty()) << "younger than the transaction timeout";

  clock_.Advance(absl::Seconds(7));
  service_->CheckOnce();
  std::vector<broker::v1::TransactionCheck> checks = checker_.checks();
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].producer_group(), kGroup);
  EXPECT_EQ(checks[0].transaction_id(), "ID5");
  EXPECT_EQ(checks[0].commit_log_offset(), half.physical_offset());
  EXPECT_EQ(checks[0].queue_offset(), half.queue_offset());
  EXPECT_EQ(checks[0].message().topic(), kTopic);
  EXPECT_EQ(checks[0].message().queue_id(), 2);
  EXPECT_EQ(
      checks[0].message().properties().at(std::string(format::kPropertyTransactionCheckTimes)),
      "1");

  service_->CheckOnce();
  EXPECT_EQ(checker_.checks().size(), 2u);
  // check_max (2) reached: the next round discards it.
  service_->CheckOnce();
  EXPECT_EQ(checker_.checks().size(), 2u);
  EXPECT_EQ(service_->pending_count(), 0u);
  EXPECT_TRUE(Read(kTopic, 2).empty());
  EXPECT_EQ(Read(std::string(kTransactionCheckMaxTimeTopic), 0).size(), 1u);
  // A decision that comes too late is refused.
  absl::StatusOr<broker::v1::EndTransactionResponse> late =
      service_->EndTransaction(End(half, "ID5", broker::v1::TRANSACTION_COMMIT));
  EXPECT_TRUE(absl::IsFailedPrecondition(late.status())) << late.status();
  EXPECT_TRUE(Read(kTopic, 2).empty());
}

TEST_F(TransactionServiceTest, RestartResumesFromTheProgressAndTheQueues) {
  store::v1::AppendResult settled = SendHalf("a", "ID6");
  store::v1::AppendResult open = SendHalf("b", "ID7");
  ASSERT_TRUE(service_->EndTransaction(End(settled, "ID6", broker::v1::TRANSACTION_COMMIT)).ok());
  clock_.Advance(absl::Seconds(7));
  service_->CheckOnce();  // asks about ID7 once and persists
  ASSERT_EQ(checker_.checks().size(), 1u);

  std::unique_ptr<TransactionService> restarted = NewService();
  ASSERT_TRUE(restarted->Load().ok());
  EXPECT_TRUE(restarted->IsSettled(settled.queue_offset()));
  EXPECT_FALSE(restarted->IsSettled(open.queue_offset()));
  EXPECT_EQ(restarted->pending_count(), 1u);
  // One check left before the discard (the count survived the restart).
  restarted->CheckOnce();
  EXPECT_EQ(checker_.checks().size(), 2u);
  restarted->CheckOnce();
  EXPECT_EQ(restarted->pending_count(), 0u);
  EXPECT_EQ(Read(kTopic, 2).size(), 1u);
}

TEST_F(TransactionServiceTest, RejectTransactionMessageRefusesHalves) {
  TransactionOptions options = Options();
  options.reject_transaction_message = true;
  std::unique_ptr<TransactionService> rejecting = NewService(options);
  store::v1::AppendEntry entry;
  entry.mutable_message()->set_topic(kTopic);
  (*entry.mutable_message()->mutable_properties())[std::string(format::kPropertyProducerGroup)] =
      kGroup;
  absl::Status status = rejecting->ToHalf(&entry);
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_EQ(GetResponseCode(status), common::v1::NO_PERMISSION);
  EXPECT_EQ(entry.message().topic(), kTopic);
}

}  // namespace
}  // namespace mq::broker
