// In-process gRPC name server and broker for client tests, listening on
// 127.0.0.1 with a port picked by the kernel. Each can refuse (Stop()), hang
// (hold a call until the client's deadline passes) or answer a chosen
// response code. Thread-safe.
#ifndef MQ_TESTING_FAKE_SERVERS_H_
#define MQ_TESTING_FAKE_SERVERS_H_

#include <grpcpp/server.h>
#include <grpcpp/server_context.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/broker.grpc.pb.h"
#include "proto/common.pb.h"
#include "proto/namesrv.grpc.pb.h"

namespace mq::testing {

// How a fake answers one call.
struct FakeReply {
  // kEndStream: on SendMessageStream, the broker ends the whole stream with
  // grpc_code, the send unanswered; on unary calls, as kFail.
  enum class Kind { kOk, kFail, kHang, kEndStream };
  Kind kind = Kind::kOk;
  // For kFail.
  grpc::StatusCode grpc_code = grpc::StatusCode::OK;
  common::v1::ResponseCode response_code = common::v1::SUCCESS;
  // For kOk answers to sends.
  broker::v1::SendStatus send_status = broker::v1::SEND_OK;

  static FakeReply Ok(broker::v1::SendStatus status = broker::v1::SEND_OK);
  static FakeReply Fail(grpc::StatusCode grpc_code, common::v1::ResponseCode response_code);
  static FakeReply Hang();
  static FakeReply EndStream(grpc::StatusCode grpc_code);
};

// Owns a started grpc::Server for one service.
class FakeServerBase {
 public:
  virtual ~FakeServerBase();
  // "127.0.0.1:port".
  const std::string& address() const { return address_; }
  // Releases hung calls and stops listening: later calls are refused.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 protected:
  // Binds and starts; CHECK-fails if the port cannot be bound.
  void StartService(grpc::Service* service);
  // Holds the call until the client gives up or the server stops.
  void Hang(grpc::ServerContext* context) ABSL_LOCKS_EXCLUDED(mu_);
  // The status of a kFail reply, with its response code.
  static absl::Status Failure(const FakeReply& reply);
  // The gRPC status for a kFail reply, with the response code as trailing metadata.
  static grpc::Status FailStatus(const FakeReply& reply, grpc::ServerContext* context);

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

class FakeNameServer final : public namesrv::v1::NameServer::Service, public FakeServerBase {
 public:
  FakeNameServer();
  ~FakeNameServer() override { Stop(); }

  void SetRoute(const std::string& topic, const common::v1::TopicRouteData& route)
      ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveRoute(const std::string& topic) ABSL_LOCKS_EXCLUDED(mu_);
  // Every later route query gets `reply` (kOk restores normal answers).
  void SetReply(FakeReply reply) ABSL_LOCKS_EXCLUDED(mu_);
  int RouteQueries(const std::string& topic) const ABSL_LOCKS_EXCLUDED(mu_);
  int TotalRouteQueries() const ABSL_LOCKS_EXCLUDED(mu_);

  grpc::Status GetRouteInfoByTopic(grpc::ServerContext* context,
                                   const namesrv::v1::GetRouteInfoByTopicRequest* request,
                                   namesrv::v1::GetRouteInfoByTopicResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::map<std::string, common::v1::TopicRouteData> routes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> queries_ ABSL_GUARDED_BY(mu_);
  FakeReply reply_ ABSL_GUARDED_BY(mu_);
};

class FakeBroker final : public broker::v1::Broker::Service, public FakeServerBase {
 public:
  explicit FakeBroker(std::string broker_name);
  ~FakeBroker() override { Stop(); }

  const std::string& broker_name() const { return broker_name_; }

  // Replies to the next sends (SendMessage and SendBatch), in order; after
  // them, the default reply.
  void ScriptSends(std::vector<FakeReply> replies) ABSL_LOCKS_EXCLUDED(mu_);
  void SetDefaultSendReply(FakeReply reply) ABSL_LOCKS_EXCLUDED(mu_);

  // Calls received, including failed and hung ones.
  int SendCalls() const ABSL_LOCKS_EXCLUDED(mu_);
  // Requests of sends answered OK.
  std::vector<broker::v1::SendMessageRequest> StoredSends() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<broker::v1::SendBatchRequest> StoredBatches() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<broker::v1::HeartbeatRequest> Heartbeats() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<broker::v1::UnregisterClientRequest> Unregisters() const ABSL_LOCKS_EXCLUDED(mu_);
  // The client end ("ipv4:127.0.0.1:port") of every SendMessageStream call
  // so far: one per connection they came on.
  std::set<std::string> SendStreamPeers() const ABSL_LOCKS_EXCLUDED(mu_);
  // For each SendMessageStream frame read so far, in order: how many sends it
  // carried (1, or a coalesced frame's count).
  std::vector<int> SendStreamFrames() const ABSL_LOCKS_EXCLUDED(mu_);

  grpc::Status SendMessage(grpc::ServerContext* context,
                           const broker::v1::SendMessageRequest* request,
                           broker::v1::SendMessageResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);
  // Answers each send and batch as SendMessage and SendBatch would; a hung one
  // is never answered, and then the stream does not end until the client
  // cancels it.
  grpc::Status SendMessageStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<broker::v1::SendStreamResponse, broker::v1::SendStreamRequest>*
          stream) override ABSL_LOCKS_EXCLUDED(mu_);
  grpc::Status SendBatch(grpc::ServerContext* context, const broker::v1::SendBatchRequest* request,
                         broker::v1::SendBatchResponse* response) override ABSL_LOCKS_EXCLUDED(mu_);
  grpc::Status Heartbeat(grpc::ServerContext* context, const broker::v1::HeartbeatRequest* request,
                         broker::v1::HeartbeatResponse* response) override ABSL_LOCKS_EXCLUDED(mu_);
  grpc::Status UnregisterClient(grpc::ServerContext* context,
                                const broker::v1::UnregisterClientRequest* request,
                                broker::v1::UnregisterClientResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // Pulls are served from the messages this broker stored, unfiltered (the
  // client checks tags); with `suspend`, an empty pull waits for a message.
  grpc::Status PullMessage(grpc::ServerContext* context,
                           const broker::v1::PullMessageRequest* request,
                           broker::v1::PullMessageResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);
  grpc::Status QueryConsumerOffset(grpc::ServerContext* context,
                                   const broker::v1::QueryConsumerOffsetRequest* request,
                                   broker::v1::QueryConsumerOffsetResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);
  grpc::Status UpdateConsumerOffset(grpc::ServerContext* context,
                                    const broker::v1::UpdateConsumerOffsetRequest* request,
                                    broker::v1::UpdateConsumerOffsetResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);
  grpc::Status GetQueueOffsets(grpc::ServerContext* context,
                               const broker::v1::GetQueueOffsetsRequest* request,
                               broker::v1::GetQueueOffsetsResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);
  grpc::Status SearchOffset(grpc::ServerContext* context,
                            const broker::v1::SearchOffsetRequest* request,
                            broker::v1::SearchOffsetResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // The group's consumers: client ids that named the group in a heartbeat
  // and did not unregister from it, sorted.
  grpc::Status GetConsumerList(grpc::ServerContext* context,
                               const broker::v1::GetConsumerListRequest* request,
                               broker::v1::GetConsumerListResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // Consumer send-backs: answered with the next scripted reply (then OK); the
  // requests answered OK are recorded, and nothing is stored.
  grpc::Status ConsumerSendBack(grpc::ServerContext* context,
                                const broker::v1::ConsumerSendBackRequest* request,
                                broker::v1::ConsumerSendBackResponse* response) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void ScriptSendBacks(std::vector<FakeReply> replies) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<broker::v1::ConsumerSendBackRequest> SendBacks() const ABSL_LOCKS_EXCLUDED(mu_);
  int SendBackCalls() const ABSL_LOCKS_EXCLUDED(mu_);

  // The broker id later pull answers suggest (0 = master).
  void SetSuggestedBrokerId(int64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  int PullCalls() const ABSL_LOCKS_EXCLUDED(mu_);
  // The group's committed offset of a queue (by UpdateConsumerOffset or a
  // pull's commit_offset); -1 if none.
  int64_t CommittedOffset(const std::string& group, const std::string& topic,
                          int32_t queue_id) const ABSL_LOCKS_EXCLUDED(mu_);
  // Stores a message as if it had been sent, in `queue_id` of its topic.
  void AddMessage(const common::v1::Message& message, int32_t queue_id) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using QueueKey = std::pair<std::string, int32_t>;

  FakeReply NextSendReply() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the next reply; when it is kOk, stores the message and fills `response`.
  FakeReply HandleSend(const broker::v1::SendMessageRequest& request,
                       broker::v1::SendMessageResponse* response) ABSL_LOCKS_EXCLUDED(mu_);
  FakeReply HandleBatch(const broker::v1::SendBatchRequest& request,
                        broker::v1::SendBatchResponse* response) ABSL_LOCKS_EXCLUDED(mu_);
  // Appends a stored message to its queue; returns its offset.
  int64_t Store(const common::v1::Message& message, int32_t queue_id, int32_t sys_flag,
                int64_t born_timestamp_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string broker_name_;
  std::deque<FakeReply> script_ ABSL_GUARDED_BY(mu_);
  FakeReply default_reply_ ABSL_GUARDED_BY(mu_);
  int send_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<FakeReply> send_back_script_ ABSL_GUARDED_BY(mu_);
  std::vector<broker::v1::ConsumerSendBackRequest> send_backs_ ABSL_GUARDED_BY(mu_);
  int send_back_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<QueueKey, std::vector<common::v1::MessageExt>> queues_ ABSL_GUARDED_BY(mu_);
  // (group, topic, queue id) -> committed offset.
  std::map<std::tuple<std::string, std::string, int32_t>, int64_t> offsets_ ABSL_GUARDED_BY(mu_);
  int64_t suggested_broker_id_ ABSL_GUARDED_BY(mu_) = 0;
  int pull_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<broker::v1::SendMessageRequest> sends_ ABSL_GUARDED_BY(mu_);
  std::vector<broker::v1::SendBatchRequest> batches_ ABSL_GUARDED_BY(mu_);
  std::vector<broker::v1::HeartbeatRequest> heartbeats_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> send_stream_peers_ ABSL_GUARDED_BY(mu_);
  std::vector<int> send_stream_frames_ ABSL_GUARDED_BY(mu_);
  std::vector<broker::v1::UnregisterClientRequest> unregisters_ ABSL_GUARDED_BY(mu_);
  // consumer group -> client ids.
  std::map<std::string, std::set<std::string>> consumer_groups_ ABSL_GUARDED_BY(mu_);
};

// A broker group of a route: its master's address and write queue count.
struct RouteEntry {
  const FakeBroker* broker;
  int32_t queue_nums = 4;
  uint32_t perm = common::v1::PERM_READ | common::v1::PERM_WRITE;
};

// A route with one QueueData and one BrokerData (master only) per entry.
common::v1::TopicRouteData MakeRoute(const std::vector<RouteEntry>& entries);

}  // namespace mq::testing

#endif  // MQ_TESTING_FAKE_SERVERS_H_
