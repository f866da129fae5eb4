#include "services/broker/remote_store.h"

#include <gmock/gmock.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_options.h"
#include "services/store/grpc_store.h"
#include "testing/fake_store.h"
#include "testing/wait.h"

namespace mq::broker {
namespace {

using ::testing::ElementsAre;

// A store gRPC server over a FakeStore, on a free port or a given one.
class LocalStoreServer {
 public:
  explicit LocalStoreServer(testing::FakeStore* store, int port = 0) : service_(store) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~LocalStoreServer() { Shutdown(); }

  void Shutdown() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
      server_.reset();
    }
  }
  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  store::StoreService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

store::v1::AppendBatchRequest Append(const std::string& topic, int count, bool wait = true) {
  store::v1::AppendBatchRequest request;
  request.set_wait_store_ok(wait);
  for (int i = 0; i < count; ++i) {
    store::v1::AppendEntry* entry = request.add_entries();
    entry->mutable_message()->set_topic(topic);
    entry->mutable_message()->set_body(absl::StrCat(topic, "-", i));
    entry->set_queue_id(0);
    entry->set_store_host("127.0.0.1:10911");
  }
  return request;
}

RemoteStoreOptions Options(int rpcs = 1, int max_entries = 512) {
  RemoteStoreOptions options;
  options.max_append_rpcs = rpcs;
  options.max_batch_entries = max_entries;
  options.call_timeout = absl::Seconds(5);
  options.append_timeout = absl::Seconds(10);
  options.watch_initial_backoff = absl::Milliseconds(20);
  options.watch_max_backoff = absl::Milliseconds(200);
  return options;
}

class RemoteStoreTest : public ::testing::Test {
 protected:
  RemoteStoreTest() : server_(&fake_) {}

  std::unique_ptr<RemoteStore> Connect(RemoteStoreOptions options = Options()) {
    return std::make_unique<RemoteStore>(CreateChannel(server_.address()), options);
  }

  // Starts appends of 1 entry to topics "t<first>".."t<first+count-1>" one by
  // one, each queued before the next starts, so their queue order is known.
  void StartQueuedAppends(RemoteStore* remote, int first, int count, bool wait,
                          std::vector<std::thread>* threads,
                          std::vector<absl::StatusOr<store::v1::AppendBatchResponse>>* results) {
    for (int i = first; i < first + count; ++i) {
      size_t queued = remote->queued_appends();
      threads->emplace_back([remote, i, wait, results] {
        (*results)[i] = remote->AppendBatch(Append(absl::StrCat("t", i), 1, wait));
      });
      ASSERT_TRUE(testing::WaitUntil([&] { return remote->queued_appends() == queued + 1; }));
    }
  }

  testing::FakeStore fake_;
  LocalStoreServer server_;
};

TEST_F(RemoteStoreTest, CallsReachTheStore) {
  std::unique_ptr<RemoteStore> remote = Connect();
  ASSERT_TRUE(remote->WaitForConnected(absl::Seconds(5)).ok());
  absl::StatusOr<store::v1::AppendBatchResponse> appended =
      remote->AppendBatch(Append("orders", 2));
  ASSERT_TRUE(appended.ok()) << appended.status();
  ASSERT_EQ(appended->results_size(), 2);
  EXPECT_EQ(appended->results(1).queue_offset(), 1);

  store::v1::GetMessagesRequest get;
  get.set_topic("orders");
  get.set_max_count(10);
  absl::StatusOr<store::v1::GetMessagesResponse> got = remote->GetMessages(get);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->messages_size(), 2);

  store::v1::PutMetadataRequest put;
  store::v1::MetadataEntry* entry = put.add_entries();
  entry->set_key("k");
  entry->set_value("v");
  ASSERT_TRUE(remote->PutMetadata(put).ok());
  store::v1::GetMetadataRequest meta;
  meta.set_key("k");
  EXPECT_EQ(remote->GetMetadata(meta)->value(), "v");
  EXPECT_TRUE(remote->GetStats().ok());

  store::v1::GetMessageByOffsetRequest by_offset;
  by_offset.set_physical_offset(123456);
  EXPECT_EQ(remote->GetMessageByOffset(by_offset).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RemoteStoreTest, ConcurrentAppendsShareOneRpcAndGetTheirOwnResults) {
  std::unique_ptr<RemoteStore> remote = Connect(Options(/*rpcs=*/1));
  ASSERT_TRUE(remote->WaitForConnected(absl::Seconds(5)).ok());
  fake_.SetAppendGateOpen(false);
  std::vector<absl::StatusOr<store::v1::AppendBatchResponse>> results(
      11, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  // The first append occupies the only RPC slot (blocked in the store)...
  threads.emplace_back([&] { results[0] = remote->AppendBatch(Append("t0", 1)); });
  ASSERT_TRUE(testing::WaitUntil([&] { return fake_.appends_waiting_at_gate() == 1; }));
  // ...while ten more queue up behind it.
  StartQueuedAppends(remote.get(), 1, 10, true, &threads, &results);
  fake_.SetAppendGateOpen(true);
  for (std::thread& thread : threads) thread.join();

  EXPECT_THAT(fake_.append_batch_sizes(), ElementsAre(1, 10));
  EXPECT_EQ(remote->append_rpcs(), 2);
  for (int i = 0; i <= 10; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    ASSERT_EQ(results[i]->results_size(), 1);
    // Each caller's result points at its own message.
    store::v1::GetMessageByOffsetRequest get;
    get.set_physical_offset(results[i]->results(0).physical_offset());
    absl::StatusOr<store::v1::GetMessageByOffsetResponse> message = remote->GetMessageByOffset(get);
    ASSERT_TRUE(message.ok());
    EXPECT_EQ(message->message().topic(), absl::StrCat("t", i));
  }
}

TEST_F(RemoteStoreTest, AsyncAppendsReturnAtOnceAndAnswerWhenTheStoreDoes) {
  std::unique_ptr<RemoteStore> remote = Connect(Options(/*rpcs=*/1));
  ASSERT_TRUE(remote->WaitForConnected(absl::Seconds(5)).ok());
  EXPECT_TRUE(remote->AppendsAreAsync());
  fake_.SetAppendGateOpen(false);
  absl::Mutex mu;
  std::vector<absl::StatusOr<store::v1::AppendBatchResponse>> results(
      5, absl::UnknownError("not answered"));
  int answered = 0;
  // One thread starts every append: none waits for the (blocked) store.
  for (int i = 0; i < 5; ++i) {
    remote->AppendBatchAsync(Append(absl::StrCat("t", i), 1),
                             [&, i](absl::StatusOr<store::v1::AppendBatchResponse> response) {
                               absl::MutexLock lock(&mu);
                               results[i] = std::move(response);
                               ++answered;
                             });
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return fake_.appends_waiting_at_gate() == 1; }));
  EXPECT_EQ(remote->queued_appends(), 4u);
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(answered, 0);
  }
  fake_.SetAppendGateOpen(true);
  ASSERT_TRUE(testing::WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return answered == 5;
  }));
  EXPECT_THAT(fake_.append_batch_sizes(), ElementsAre(1, 4));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    ASSERT_EQ(results[i]->results_size(), 1);
    store::v1::GetMessageByOffsetRequest get;
    get.set_physical_offset(results[i]->results(0).physical_offset());
    absl::StatusOr<store::v1::GetMessageByOffsetResponse> message = remote->GetMessageByOffset(get);
    ASSERT_TRUE(message.ok());
    EXPECT_EQ(message->message().topic(), absl::StrCat("t", i));
  }
}

TEST_F(RemoteStoreTest, AsyncReadsReturnAtOnceAndAnswerWhenTheStoreDoes) {
  std::unique_ptr<RemoteStore> remote = Connect();
  ASSERT_TRUE(remote->WaitForConnected(absl::Seconds(5)).ok());
  EXPECT_TRUE(remote->ReadsAreAsync());
  ASSERT_TRUE(remote->AppendBatch(Append("orders", 3)).ok());
  fake_.SetReadGateOpen(false);
  absl::Mutex mu;
  std::vector<absl::StatusOr<store::v1::GetMessagesResponse>> results(
      2, absl::UnknownError("not answered"));
  int answered = 0;
  for (int i = 0; i < 2; ++i) {
    store::v1::GetMessagesRequest get;
    get.set_topic(i == 0 ? "orders" : "missing");
    get.set_max_count(10);
    remote->GetMessagesAsync(get, [&, i](absl::StatusOr<store::v1::GetMessagesResponse> got) {
      absl::MutexLock lock(&mu);
      results[i] = std::move(got);
      ++answered;
    });
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return fake_.reads_waiting_at_gate() == 2; }));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(answered, 0);
  }
  fake_.SetReadGateOpen(true);
  ASSERT_TRUE(testing::WaitUntil([&] {
    absl::MutexLock lock(&mu);
    return answered == 2;
  }));
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[0]->status(), store::v1::FOUND);
  EXPECT_EQ(results[0]->messages_size(), 3);
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(results[1]->status(), store::v1::NO_MESSAGE_IN_QUEUE);
  // A store error reaches the callback.
  fake_.SetCallError(absl::ResourceExhaustedError("disk busy"));
  absl::Notification failed;
  store::v1::GetMessagesRequest get;
  get.set_topic("orders");
  get.set_max_count(10);
  remote->GetMessagesAsync(get, [&](absl::StatusOr<store::v1::GetMessagesResponse> got) {
    EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
    failed.Notify();
  });
  EXPECT_TRUE(failed.WaitForNotificationWithTimeout(absl::Seconds(5)));
}

TEST_F(RemoteStoreTest, DestructionCancelsReadsInFlight) {
  auto remote = Connect();
  ASSERT_TRUE(remote->WaitForConnected(absl::Seconds(5)).ok());
  fake_.SetReadGateOpen(false);
  absl::StatusOr<store::v1::GetMessagesResponse> result = absl::UnknownError("not answered");
  bool answered = false;
  store::v1::GetMessagesRequest get;
  get.set_topic("orders");
  get.set_max_count(10);
  remote->GetMessagesAsync(get, [&](absl::StatusOr<store::v1::GetMessagesResponse> got) {
    result = std::move(got);
    answered = true;
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return fake_.reads_waiting_at_gate() == 1; }));
  // The destructor returns only after the read's callback ran.
  remote.reset();
  EXPECT_TRUE(answered);
  EXPECT_FALSE(result.ok());
  fake_.SetReadGateOpen(true);
}

TEST_F(RemoteStoreTest, CoalescingRespectsLimitsAndWaitFlags) {
  std::unique_ptr<RemoteStore> remote = Connect(Options(/*rpcs=*/1, /*max_entries=*/4));
  ASSERT_TRUE(remote->WaitForConnected(absl::Seconds(5)).ok());
  fake_.SetAppendGateOpen(false);
  std::vector<absl::StatusOr<store::v1::AppendBatchResponse>> results(
      13, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  threads.emplace_back([&] { results[0] = remote->AppendBatch(Append("t0", 1)); });
  ASSERT_TRUE(testing::WaitUntil([&] { return fake_.appends_waiting_at_gate() == 1; }));
  StartQueuedAppends(remote.get(), 1, 6, /*wait=*/true, &threads, &results);
  StartQueuedAppends(remote.get(), 7, 2, /*wait=*/false, &threads, &results);
  StartQueuedAppends(remote.get(), 9, 4, /*wait=*/true, &threads, &results);
  fake_.SetAppendGateOpen(true);
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(fake_.append_batch_sizes(), ElementsAre(1, 4, 2, 2, 4));
  for (const auto& result : results) EXPECT_TRUE(result.ok()) << result.status();
}

TEST_F(RemoteStoreTest, StoreCallErrorsReachEveryCaller) {
  std::unique_ptr<RemoteStore> remote = Connect();
  fake_.SetCallError(absl::ResourceExhaustedError("disk busy"));
  absl::StatusOr<store::v1::AppendBatchResponse> appended = remote->AppendBatch(Append("t", 1));
  EXPECT_EQ(appended.status().code(), absl::StatusCode::kResourceExhausted);
  store::v1::GetQueueOffsetsRequest offsets;
  offsets.set_topic("t");
  EXPECT_EQ(remote->GetQueueOffsets(offsets).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(RemoteStoreTest, UnreachableStoreIsUnavailable) {
  RemoteStore remote(CreateChannel("127.0.0.1:1"), Options());
  absl::Time start = absl::Now();
  EXPECT_EQ(remote.AppendBatch(Append("t", 1)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(remote.GetStats().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(remote.WaitForConnected(absl::Milliseconds(200)).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(RemoteStoreTest, DestructionFailsQueuedAppends) {
  auto remote = Connect(Options(/*rpcs=*/1));
  ASSERT_TRUE(remote->WaitForConnected(absl::Seconds(5)).ok());
  fake_.SetAppendGateOpen(false);
  std::vector<absl::StatusOr<store::v1::AppendBatchResponse>> results(
      2, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  threads.emplace_back([&] { results[0] = remote->AppendBatch(Append("t0", 1)); });
  ASSERT_TRUE(testing::WaitUntil([&] { return fake_.appends_waiting_at_gate() == 1; }));
  StartQueuedAppends(remote.get(), 1, 1, true, &threads, &results);
  std::thread destroyer([&] { remote.reset(); });
  // The queued append fails at once; the one in flight is cancelled.
  threads[1].join();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kUnavailable);
  threads[0].join();
  EXPECT_FALSE(results[0].ok());
  destroyer.join();
  fake_.SetAppendGateOpen(true);
}

class Events {
 public:
  store::StoreApi::QueueListener listener() {
    return [this](const store::v1::QueueAdvance& advance) {
      absl::MutexLock lock(&mu_);
      topics_.push_back(advance.topic());
    };
  }
  bool Saw(const std::string& topic) {
    absl::MutexLock lock(&mu_);
    return std::find(topics_.begin(), topics_.end(), topic) != topics_.end();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> topics_ ABSL_GUARDED_BY(mu_);
};

TEST_F(RemoteStoreTest, WatchDeliversAdvancesAndReconnects) {
  std::unique_ptr<RemoteStore> remote = Connect();
  Events events;
  std::unique_ptr<store::StoreApi::Watch> watch = remote->WatchQueues(events.listener());
  ASSERT_TRUE(testing::WaitUntil([&] { return fake_.watch_count() == 1; }));
  ASSERT_TRUE(fake_.AppendBatch(Append("before", 1)).ok());
  EXPECT_TRUE(testing::WaitUntil([&] { return events.Saw("before"); }));

  // The store process restarts on the same port.
  int port = server_.port();
  server_.Shutdown();
  testing::FakeStore restarted;
  LocalStoreServer again(&restarted, port);
  ASSERT_EQ(again.port(), port);
  ASSERT_TRUE(testing::WaitUntil([&] { return restarted.watch_count() == 1; }, absl::Seconds(20)));
  ASSERT_TRUE(restarted.AppendBatch(Append("after", 1)).ok());
  EXPECT_TRUE(testing::WaitUntil([&] { return events.Saw("after"); }));

  watch.reset();
  ASSERT_TRUE(restarted.AppendBatch(Append("unwatched", 1)).ok());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(events.Saw("unwatched"));
  remote.reset();
}

TEST_F(RemoteStoreTest, WatchDeliversEveryQueueOfABurst) {
  std::unique_ptr<RemoteStore> remote = Connect();
  Events events;
  std::unique_ptr<store::StoreApi::Watch> watch = remote->WatchQueues(events.listener());
  ASSERT_TRUE(testing::WaitUntil([&] { return fake_.watch_count() == 1; }));
  // One append advances eight queues at once: the store writes them in as
  // few stream messages as it can, and the broker sees each.
  store::v1::AppendBatchRequest burst;
  for (int i = 0; i < 8; ++i) burst.MergeFrom(Append(absl::StrCat("burst", i), 2));
  ASSERT_TRUE(fake_.AppendBatch(burst).ok());
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(testing::WaitUntil([&] { return events.Saw(absl::StrCat("burst", i)); })) << i;
  }
  watch.reset();
  remote.reset();
}

}  // namespace
}  // namespace mq::broker
