// apache.rocketmq.v2.MessagingService, RocketMQ 5's gRPC protocol, served in
// front of our own broker API (Backend) so the official RocketMQ 5 clients
// produce to us unmodified. Producers only: QueryRoute, Telemetry (settings,
// transaction check-backs), Heartbeat, SendMessage (NORMAL, FIFO, DELAY,
// TRANSACTION), EndTransaction, NotifyClientTermination. The consumer RPCs
// (POP: ReceiveMessage, Ack, ...) and the unused offset RPCs answer
// UNIMPLEMENTED, naming what works.
//
// Every response carries a v5 status (OK = 20000); the gRPC status stays OK
// for those, as the clients expect. Per-client state is keyed by the
// x-mq-client-id header.
//
// Transaction check-back: for each producer client whose Settings name
// topics, the service opens our ProducerChannel stream to each master broker
// of those topics, as the client (its x-mq-client-id) of producer group =
// topic; the broker's check round (TransactionService) sends a check down it
// like to any producer of ours, and the service turns it into a
// RecoverOrphanedTransactionCommand on the client's Telemetry stream. The
// client answers with EndTransaction(SOURCE_SERVER_CHECK).
#ifndef MQ_SERVICES_PROXY_MESSAGING_SERVICE_H_
#define MQ_SERVICES_PROXY_MESSAGING_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/acl/authorizer.h"
#include "common/executor.h"
#include "common/metrics/registry.h"
#include "common/metrics/rpc_metrics.h"
#include "proto/apache/rocketmq/v2/messaging.grpc.pb.h"
#include "services/proxy/backend.h"
#include "services/proxy/v5_translation.h"

namespace mq::proxy {

struct MessagingServiceOptions {
  BackendOptions backend;
  // Publishing.max_body_size told to producers; larger bodies are refused
  // (MESSAGE_BODY_TOO_LARGE). The broker's max message size.
  int32_t max_body_size = 4 * 1024 * 1024;
  // Threads for calls that wait on the backend.
  int threads = 4;
  // Access control: every request is checked against the users as RocketMQ
  // 5 does (services/proxy/v5_access.h) and refused with UNAUTHORIZED or
  // FORBIDDEN; the backend then calls as the cluster identity
  // (BackendOptions::credentials). Null: no checks.
  const acl::Authorizer* authorizer = nullptr;
  // The process's metrics: requests refused by access control are counted
  // in rocketmq_rejected_requests_total{reason="permission"}, as the
  // process's own API counts them. Null: not counted.
  metrics::Registry* metrics = nullptr;
};

// One known RocketMQ 5 client (for monitoring and tests).
struct V5ClientInfo {
  std::string client_id;
  // From x-mq-language and x-mq-client-version ("HTTP" for Node 1.0.8).
  std::string language;
  std::string version;
  v2::ClientType type = v2::ClientType::CLIENT_TYPE_UNSPECIFIED;
  std::set<std::string> topics;
  bool telemetry_open = false;
};

// Thread-safe.
class MessagingService final : public v2::MessagingService::CallbackService {
 public:
  explicit MessagingService(MessagingServiceOptions options);
  // Shutdown(), then waits for the streams to end.
  ~MessagingService() override;

  MessagingService(const MessagingService&) = delete;
  MessagingService& operator=(const MessagingService&) = delete;

  // Before serving, when the name servers are known only then.
  void SetNameServerAddresses(std::vector<std::string> addresses) {
    backend_.SetNameServerAddresses(std::move(addresses));
  }

  // Ends every Telemetry stream and check-back channel and refuses new calls
  // (UNAVAILABLE). Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // The clients seen, by client id.
  std::map<std::string, V5ClientInfo> Clients() const ABSL_LOCKS_EXCLUDED(mu_);

  grpc::ServerUnaryReactor* QueryRoute(grpc::CallbackServerContext* context,
                                       const v2::QueryRouteRequest* request,
                                       v2::QueryRouteResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v2::HeartbeatRequest* request,
                                      v2::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* context,
                                        const v2::SendMessageRequest* request,
                                        v2::SendMessageResponse* response) override;
  grpc::ServerUnaryReactor* EndTransaction(grpc::CallbackServerContext* context,
                                           const v2::EndTransactionRequest* request,
                                           v2::EndTransactionResponse* response) override;
  grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand>* Telemetry(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* NotifyClientTermination(
      grpc::CallbackServerContext* context, const v2::NotifyClientTerminationRequest* request,
      v2::NotifyClientTerminationResponse* response) override;
  grpc::ServerUnaryReactor* RecallMessage(grpc::CallbackServerContext* context,
                                          const v2::RecallMessageRequest* request,
                                          v2::RecallMessageResponse* response) override;

  // Consumption (issue 31) and the offset RPCs no official client calls.
  grpc::ServerUnaryReactor* QueryAssignment(grpc::CallbackServerContext* context,
                                            const v2::QueryAssignmentRequest* request,
                                            v2::QueryAssignmentResponse* response) override;
  grpc::ServerWriteReactor<v2::ReceiveMessageResponse>* ReceiveMessage(
      grpc::CallbackServerContext* context, const v2::ReceiveMessageRequest* request) override;
  grpc::ServerUnaryReactor* AckMessage(grpc::CallbackServerContext* context,
                                       const v2::AckMessageRequest* request,
                                       v2::AckMessageResponse* response) override;
  grpc::ServerUnaryReactor* ForwardMessageToDeadLetterQueue(
      grpc::CallbackServerContext* context,
      const v2::ForwardMessageToDeadLetterQueueRequest* request,
      v2::ForwardMessageToDeadLetterQueueResponse* response) override;
  grpc::ServerWriteReactor<v2::PullMessageResponse>* PullMessage(
      grpc::CallbackServerContext* context, const v2::PullMessageRequest* request) override;
  grpc::ServerUnaryReactor* UpdateOffset(grpc::CallbackServerContext* context,
                                         const v2::UpdateOffsetRequest* request,
                                         v2::UpdateOffsetResponse* response) override;
  grpc::ServerUnaryReactor* GetOffset(grpc::CallbackServerContext* context,
                                      const v2::GetOffsetRequest* request,
                                      v2::GetOffsetResponse* response) override;
  grpc::ServerUnaryReactor* QueryOffset(grpc::CallbackServerContext* context,
                                        const v2::QueryOffsetRequest* request,
                                        v2::QueryOffsetResponse* response) override;
  grpc::ServerUnaryReactor* ChangeInvisibleDuration(
      grpc::CallbackServerContext* context, const v2::ChangeInvisibleDurationRequest* request,
      v2::ChangeInvisibleDurationResponse* response) override;
  grpc::ServerUnaryReactor* SyncLiteSubscription(
      grpc::CallbackServerContext* context, const v2::SyncLiteSubscriptionRequest* request,
      v2::SyncLiteSubscriptionResponse* response) override;

 private:
  class TelemetryStream;
  class CheckBackChannel;

  // Per client id.
  struct Client {
    V5ClientInfo info;
    TelemetryStream* stream = nullptr;
    // Broker address -> its check-back channel.
    std::map<std::string, std::unique_ptr<CheckBackChannel>> check_backs;
  };

  // OK, or why access control refuses `request` (CheckV5Access); a refusal
  // is counted.
  absl::Status Allowed(const grpc::CallbackServerContext& context,
                       const google::protobuf::Message& request) const;
  // Counts a request refused with `refusal` (rocketmq_rejected_requests_total).
  void CountRefused(const absl::Status& refusal) const;

  // Runs `work` on the executor and finishes the call with OK (the v5
  // status is in the response); UNAVAILABLE when shut down or refused.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context, std::function<void()> work);

  v2::SendResultEntry SendOne(const v2::Message& message);
  // Records the client's settings; for producers, HeartbeatToBrokers() on
  // the executor.
  void OnSettings(const std::string& client_id, const v2::Settings& settings,
                  const std::string& language, const std::string& version);
  // Tells the masters of a producer client's topics about it (our Heartbeat:
  // client id, language, version; producer group = topic) and refreshes its
  // check-back channels. Blocks on the backend.
  void HeartbeatToBrokers(const std::string& client_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Master addresses of the brokers of `topics` (topics without a route are
  // skipped).
  std::set<std::string> MastersOf(const std::set<std::string>& topics) const;
  // Opens the missing check-back channels of a producer client.
  void RefreshCheckBacks(const std::string& client_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Delivers a check to the client's Telemetry stream; false when it has none.
  bool DeliverCheck(const std::string& client_id, const broker::v1::TransactionCheck& check)
      ABSL_LOCKS_EXCLUDED(mu_);
  void StreamEnded(const std::string& client_id, TelemetryStream* stream) ABSL_LOCKS_EXCLUDED(mu_);

  const MessagingServiceOptions options_;
  // Null without MessagingServiceOptions::metrics.
  const std::unique_ptr<metrics::RpcMetrics> rpc_metrics_;
  Backend backend_;
  Executor executor_;
  std::atomic<uint64_t> next_queue_{0};

  mutable absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Client> clients_ ABSL_GUARDED_BY(mu_);
  // Streams open, announced or not.
  std::set<TelemetryStream*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::proxy

#endif  // MQ_SERVICES_PROXY_MESSAGING_SERVICE_H_
