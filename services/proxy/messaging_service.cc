#include "services/proxy/messaging_service.h"

#include <glog/logging.h>

#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/format/message_id.h"
#include "common/server_stream.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/proxy/v5_access.h"

namespace mq::proxy {
namespace {

constexpr absl::string_view kClientIdHeader = "x-mq-client-id";
constexpr absl::string_view kLanguageHeader = "x-mq-language";
constexpr absl::string_view kVersionHeader = "x-mq-client-version";

// How long a check-back channel waits before dialling a broker again.
constexpr absl::Duration kCheckBackRetry = absl::Seconds(1);

constexpr absl::string_view kNoConsumption =
    "consuming over RocketMQ 5's protocol (POP: ReceiveMessage, AckMessage, ...) is not served "
    "yet; producers are. Consume with our own client (mq.broker.v1 PullMessage)";

std::string Header(const grpc::CallbackServerContext* context, absl::string_view key) {
  auto it = context->client_metadata().find(grpc::string_ref(key.data(), key.size()));
  if (it == context->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

grpc::Status Unavailable() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
}

template <typename Response>
grpc::ServerUnaryReactor* AnswerNow(grpc::CallbackServerContext* context, Response* response,
                                    const v2::Status& status) {
  *response->mutable_status() = status;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

// A server-streaming call answered with one status frame.
template <typename Response>
class StatusOnlyWriter : public grpc::ServerWriteReactor<Response> {
 public:
  explicit StatusOnlyWriter(const v2::Status& status) {
    *response_.mutable_status() = status;
    this->StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }
  void OnDone() override { delete this; }

 private:
  Response response_;
};

// A Telemetry call refused at once (access control): one command carrying
// only the refusal, on which the clients fail fast (Node's included), then
// the end.
class RefusedTelemetry
    : public grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand> {
 public:
  explicit RefusedTelemetry(const v2::Status& status) {
    *command_.mutable_status() = status;
    StartWriteAndFinish(&command_, grpc::WriteOptions(), grpc::Status::OK);
  }
  void OnDone() override { delete this; }

 private:
  v2::TelemetryCommand command_;
};

}  // namespace

// One Telemetry call. Deletes itself when gRPC is done with it, after telling
// the service.
class MessagingService::TelemetryStream
    : public QueuedServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand> {
 public:
  TelemetryStream(MessagingService* owner, std::string client_id, std::string language,
                  std::string version, V5StreamAccess access)
      : owner_(owner),
        client_id_(std::move(client_id)),
        language_(std::move(language)),
        version_(std::move(version)),
        access_(std::move(access)) {
    StartRead(&request_);
  }

  const std::string& client_id() const { return client_id_; }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed or went away.
      End(grpc::Status::OK);
      return;
    }
    if (request_.has_settings()) {
      if (absl::Status allowed = access_.Check(request_); !allowed.ok()) {
        // A command with only the refusal: the clients fail at once on it.
        VLOG(1) << "v5 client " << client_id_ << ": settings refused: " << allowed;
        owner_->CountRefused(allowed);
        v2::TelemetryCommand refused;
        *refused.mutable_status() = V5Refusal(allowed);
        Write(std::move(refused));
      } else {
        // Answered at once (startup waits for it); the bookkeeping, which may
        // call the backend, runs on the executor.
        Write(SettingsReply(request_.settings(), owner_->options_.max_body_size));
        owner_->OnSettings(client_id_, request_.settings(), language_, version_);
      }
    }
    // Other commands (thread stack traces, verification results) answer
    // requests this server never makes.
    StartRead(&request_);
  }

  void OnDone() override {
    owner_->StreamEnded(client_id_, this);
    delete this;
  }

 private:
  MessagingService* const owner_;
  const std::string client_id_;
  const std::string language_;
  const std::string version_;
  // Who opened the stream, for its Settings' permissions.
  const V5StreamAccess access_;
  // Written by gRPC between StartRead and OnReadDone only.
  v2::TelemetryCommand request_;
};

// A ProducerChannel stream to one broker on behalf of one v5 producer: the
// broker's transaction checks for the client's topics arrive here. Redials
// while it lives; the destructor ends it.
class MessagingService::CheckBackChannel {
 public:
  CheckBackChannel(MessagingService* owner, std::string address, std::string client_id,
                   std::set<std::string> groups)
      : owner_(owner),
        address_(std::move(address)),
        client_id_(std::move(client_id)),
        groups_(std::move(groups)),
        thread_([this] { Run(); }) {}

  ~CheckBackChannel() {
    stop_.Notify();
    {
      absl::MutexLock lock(&mu_);
      if (context_ != nullptr) context_->TryCancel();
    }
    thread_.join();
  }

  const std::set<std::string>& groups() const { return groups_; }

 private:
  void Run() {
    while (!stop_.HasBeenNotified()) {
      grpc::ClientContext context;
      {
        absl::MutexLock lock(&mu_);
        if (stop_.HasBeenNotified()) break;
        context_ = &context;
      }
      std::shared_ptr<broker::v1::Broker::Stub> stub = owner_->backend_.BrokerStub(address_);
      auto stream = stub->ProducerChannel(&context);
      broker::v1::ProducerChannelRequest hello;
      hello.set_client_id(client_id_);
      for (const std::string& group : groups_) hello.add_producer_groups(group);
      if (stream->Write(hello)) {
        broker::v1::ProducerChannelCommand command;
        while (stream->Read(&command)) {
          if (command.has_check() && !owner_->DeliverCheck(client_id_, command.check())) {
            LOG(WARNING) << "transaction check of " << command.check().transaction_id()
                         << " for v5 client " << client_id_
                         << " not delivered: its Telemetry stream is gone";
          }
        }
      }
      grpc::Status status = stream->Finish();
      {
        absl::MutexLock lock(&mu_);
        context_ = nullptr;
      }
      if (!stop_.HasBeenNotified()) {
        VLOG(1) << "check-back channel to " << address_ << " for " << client_id_
                << " ended: " << status.error_message();
      }
      stop_.WaitForNotificationWithTimeout(kCheckBackRetry);
    }
  }

  MessagingService* const owner_;
  const std::string address_;
  const std::string client_id_;
  const std::set<std::string> groups_;
  absl::Notification stop_;
  absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

MessagingService::MessagingService(MessagingServiceOptions options)
    : options_(std::move(options)),
      rpc_metrics_(options_.metrics != nullptr
                       ? std::make_unique<metrics::RpcMetrics>(options_.metrics)
                       : nullptr),
      backend_(options_.backend),
      executor_([this] {
        ExecutorOptions executor;
        executor.name = "v5-proxy";
        executor.threads = options_.threads;
        executor.capacity = 10000;
        return executor;
      }()) {
  executor_.Start();
}

MessagingService::~MessagingService() {
  Shutdown();
  executor_.Stop();
  absl::MutexLock lock(&mu_);
  auto all_ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return streams_.empty(); };
  mu_.Await(absl::Condition(&all_ended));
}

void MessagingService::Shutdown() {
  std::vector<std::unique_ptr<CheckBackChannel>> channels;
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    for (TelemetryStream* stream : streams_) stream->End(grpc::Status::OK);
    for (auto& [id, client] : clients_) {
      for (auto& [address, channel] : client.check_backs) channels.push_back(std::move(channel));
      client.check_backs.clear();
    }
  }
  channels.clear();  // Joins their threads, outside the lock they deliver under.
}

std::map<std::string, V5ClientInfo> MessagingService::Clients() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, V5ClientInfo> out;
  for (const auto& [id, client] : clients_) out[id] = client.info;
  return out;
}

absl::Status MessagingService::Allowed(const grpc::CallbackServerContext& context,
                                       const google::protobuf::Message& request) const {
  absl::Status allowed =
      CheckV5Access(options_.authorizer, context.client_metadata(), context.peer(), request);
  if (!allowed.ok()) {
    VLOG(1) << "v5 " << request.GetDescriptor()->name() << " refused: " << allowed;
    CountRefused(allowed);
  }
  return allowed;
}

void MessagingService::CountRefused(const absl::Status& refusal) const {
  if (rpc_metrics_ != nullptr) rpc_metrics_->CountRejected(refusal.code());
}

grpc::ServerUnaryReactor* MessagingService::Run(grpc::CallbackServerContext* context,
                                                std::function<void()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) {
      reactor->Finish(Unavailable());
      return reactor;
    }
  }
  absl::Status submitted = executor_.Submit(
      [reactor, work = std::move(work)] {
        work();
        reactor->Finish(grpc::Status::OK);
      },
      [reactor, context](absl::Status why) { reactor->Finish(ToGrpcStatus(why, context)); });
  if (!submitted.ok()) reactor->Finish(ToGrpcStatus(submitted, context));
  return reactor;
}

grpc::ServerUnaryReactor* MessagingService::QueryRoute(grpc::CallbackServerContext* context,
                                                       const v2::QueryRouteRequest* request,
                                                       v2::QueryRouteResponse* response) {
  if (absl::Status allowed = Allowed(*context, *request); !allowed.ok()) {
    return AnswerNow(context, response, V5Refusal(allowed));
  }
  if (absl::Status valid = ValidateTopic(request->topic().name()); !valid.ok()) {
    return AnswerNow(context, response, MakeStatus(v2::Code::ILLEGAL_TOPIC, valid.message()));
  }
  if (request->endpoints().addresses_size() == 0) {
    return AnswerNow(context, response,
                     MakeStatus(v2::Code::ILLEGAL_ACCESS_POINT,
                                "the request names no access point (endpoints.addresses)"));
  }
  return Run(context, [this, request, response] {
    absl::StatusOr<common::v1::TopicRouteData> route = backend_.Route(request->topic().name());
    if (!route.ok()) {
      *response->mutable_status() =
          route.status().code() == absl::StatusCode::kNotFound
              ? MakeStatus(v2::Code::TOPIC_NOT_FOUND, route.status().message())
              : ToV5Status(route.status());
      return;
    }
    std::vector<v2::MessageQueue> queues =
        RouteToMessageQueues(request->topic(), *route, request->endpoints());
    if (queues.empty()) {
      *response->mutable_status() = MakeStatus(
          v2::Code::TOPIC_NOT_FOUND,
          absl::StrCat("topic ", request->topic().name(), " has no broker with a master"));
      return;
    }
    *response->mutable_status() = OkStatus();
    for (v2::MessageQueue& queue : queues) *response->add_message_queues() = std::move(queue);
  });
}

grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand>* MessagingService::Telemetry(
    grpc::CallbackServerContext* context) {
  absl::StatusOr<V5StreamAccess> access =
      V5StreamAccess::Open(options_.authorizer, context->client_metadata(), context->peer());
  if (!access.ok()) {
    VLOG(1) << "v5 Telemetry refused: " << access.status();
    CountRefused(access.status());
    return new RefusedTelemetry(V5Refusal(access.status()));
  }
  std::string client_id = Header(context, kClientIdHeader);
  absl::MutexLock lock(&mu_);
  if (shut_down_ || client_id.empty()) {
    class Refused : public grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand> {
     public:
      explicit Refused(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Refused(shut_down_ ? Unavailable()
                                  : grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                                 "Telemetry needs the x-mq-client-id header"));
  }
  auto* stream = new TelemetryStream(this, client_id, Header(context, kLanguageHeader),
                                     Header(context, kVersionHeader), *std::move(access));
  streams_.insert(stream);
  Client& client = clients_[client_id];
  client.info.client_id = client_id;
  client.info.telemetry_open = true;
  client.stream = stream;
  return stream;
}

void MessagingService::OnSettings(const std::string& client_id, const v2::Settings& settings,
                                  const std::string& language, const std::string& version) {
  std::set<std::string> topics;
  if (settings.has_publishing()) {
    for (const v2::Resource& topic : settings.publishing().topics()) topics.insert(topic.name());
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = clients_.find(client_id);
    if (it == clients_.end()) return;
    V5ClientInfo& info = it->second.info;
    info.language = language;
    info.version = version;
    info.type = settings.client_type();
    info.topics = topics;
  }
  if (settings.client_type() != v2::ClientType::PRODUCER || topics.empty()) return;
  // The brokers hear of the producer now rather than at its first heartbeat
  // (10 s later), and its check-back channels open.
  absl::Status submitted = executor_.Submit([this, client_id] { HeartbeatToBrokers(client_id); });
  if (!submitted.ok()) LOG(WARNING) << "announcing producer " << client_id << ": " << submitted;
}

std::set<std::string> MessagingService::MastersOf(const std::set<std::string>& topics) const {
  std::set<std::string> masters;
  for (const std::string& topic : topics) {
    absl::StatusOr<common::v1::TopicRouteData> route = backend_.Route(topic);
    if (!route.ok()) continue;
    for (const common::v1::BrokerData& broker : route->broker_datas()) {
      auto master = broker.broker_addrs().find(0);
      if (master != broker.broker_addrs().end()) masters.insert(master->second);
    }
  }
  return masters;
}

void MessagingService::RefreshCheckBacks(const std::string& client_id) {
  std::set<std::string> topics;
  {
    absl::MutexLock lock(&mu_);
    auto it = clients_.find(client_id);
    if (shut_down_ || it == clients_.end() || it->second.stream == nullptr) return;
    topics = it->second.info.topics;
  }
  std::set<std::string> groups;
  for (const std::string& topic : topics) groups.insert(TransactionProducerGroup(topic));
  std::set<std::string> masters = MastersOf(topics);
  std::vector<std::unique_ptr<CheckBackChannel>> retired;
  {
    absl::MutexLock lock(&mu_);
    auto it = clients_.find(client_id);
    if (shut_down_ || it == clients_.end() || it->second.stream == nullptr) return;
    auto& channels = it->second.check_backs;
    for (auto channel = channels.begin(); channel != channels.end();) {
      if (masters.count(channel->first) == 0 || channel->second->groups() != groups) {
        retired.push_back(std::move(channel->second));
        channel = channels.erase(channel);
      } else {
        ++channel;
      }
    }
    for (const std::string& address : masters) {
      if (channels.count(address) == 0) {
        channels[address] = std::make_unique<CheckBackChannel>(this, address, client_id, groups);
      }
    }
  }
}

bool MessagingService::DeliverCheck(const std::string& client_id,
                                    const broker::v1::TransactionCheck& check) {
  v2::TelemetryCommand command;
  v2::RecoverOrphanedTransactionCommand* recover =
      command.mutable_recover_orphaned_transaction_command();
  *recover->mutable_message() = ToV5Message(check.message());
  recover->set_transaction_id(
      EncodeTransactionId({check.broker_name(), check.commit_log_offset(), check.queue_offset()}));
  absl::MutexLock lock(&mu_);
  auto it = clients_.find(client_id);
  if (it == clients_.end() || it->second.stream == nullptr) return false;
  return it->second.stream->Write(std::move(command));
}

void MessagingService::StreamEnded(const std::string& client_id, TelemetryStream* stream) {
  std::vector<std::unique_ptr<CheckBackChannel>> channels;
  {
    absl::MutexLock lock(&mu_);
    streams_.erase(stream);
    auto it = clients_.find(client_id);
    if (it != clients_.end() && it->second.stream == stream) {
      for (auto& [address, channel] : it->second.check_backs)
        channels.push_back(std::move(channel));
      clients_.erase(it);
    }
  }
  if (channels.empty()) return;
  // Joining a channel's thread must not happen on a gRPC callback thread it
  // may wait for; hand them to the executor.
  auto shared =
      std::make_shared<std::vector<std::unique_ptr<CheckBackChannel>>>(std::move(channels));
  if (!executor_.Submit([shared] { shared->clear(); }).ok()) shared->clear();
}

grpc::ServerUnaryReactor* MessagingService::Heartbeat(grpc::CallbackServerContext* context,
                                                      const v2::HeartbeatRequest* request,
                                                      v2::HeartbeatResponse* response) {
  if (absl::Status allowed = Allowed(*context, *request); !allowed.ok()) {
    return AnswerNow(context, response, V5Refusal(allowed));
  }
  std::string client_id = Header(context, kClientIdHeader);
  if (client_id.empty()) {
    return AnswerNow(context, response,
                     MakeStatus(v2::Code::CLIENT_ID_REQUIRED, "no x-mq-client-id header"));
  }
  return Run(context, [this, client_id, response] {
    HeartbeatToBrokers(client_id);
    *response->mutable_status() = OkStatus();
  });
}

void MessagingService::HeartbeatToBrokers(const std::string& client_id) {
  broker::v1::HeartbeatRequest heartbeat;
  std::set<std::string> topics;
  {
    absl::MutexLock lock(&mu_);
    auto it = clients_.find(client_id);
    if (it == clients_.end() || it->second.info.type != v2::ClientType::PRODUCER) return;
    topics = it->second.info.topics;
    heartbeat.set_language(it->second.info.language);
    heartbeat.set_version(it->second.info.version);
  }
  if (topics.empty()) return;
  heartbeat.set_client_id(client_id);
  for (const std::string& topic : topics) {
    heartbeat.add_producers()->set_group_name(TransactionProducerGroup(topic));
  }
  for (const std::string& address : MastersOf(topics)) {
    absl::Status sent = backend_.Heartbeat(address, heartbeat);
    if (!sent.ok()) VLOG(1) << "heartbeat of " << client_id << " to " << address << ": " << sent;
  }
  RefreshCheckBacks(client_id);
}

grpc::ServerUnaryReactor* MessagingService::NotifyClientTermination(
    grpc::CallbackServerContext* context, const v2::NotifyClientTerminationRequest* request,
    v2::NotifyClientTerminationResponse* response) {
  if (absl::Status allowed = Allowed(*context, *request); !allowed.ok()) {
    return AnswerNow(context, response, V5Refusal(allowed));
  }
  std::string client_id = Header(context, kClientIdHeader);
  if (client_id.empty()) {
    return AnswerNow(context, response,
                     MakeStatus(v2::Code::CLIENT_ID_REQUIRED, "no x-mq-client-id header"));
  }
  return Run(context, [this, client_id, response] {
    std::set<std::string> topics;
    std::vector<std::unique_ptr<CheckBackChannel>> channels;
    {
      absl::MutexLock lock(&mu_);
      auto it = clients_.find(client_id);
      if (it != clients_.end()) {
        topics = it->second.info.topics;
        for (auto& [address, channel] : it->second.check_backs) {
          channels.push_back(std::move(channel));
        }
        it->second.check_backs.clear();
      }
    }
    channels.clear();
    std::set<std::string> masters = MastersOf(topics);
    for (const std::string& topic : topics) {
      broker::v1::UnregisterClientRequest unregister;
      unregister.set_client_id(client_id);
      unregister.set_producer_group(TransactionProducerGroup(topic));
      for (const std::string& address : masters) {
        absl::Status done = backend_.Unregister(address, unregister);
        if (!done.ok()) VLOG(1) << "unregister " << client_id << " at " << address << ": " << done;
      }
    }
    *response->mutable_status() = OkStatus();
  });
}

v2::SendResultEntry MessagingService::SendOne(const v2::Message& message) {
  v2::SendResultEntry entry;
  entry.set_message_id(message.system_properties().message_id());
  TranslatedSend send = TranslateSend(message, {options_.max_body_size});
  if (send.code != v2::Code::OK) {
    *entry.mutable_status() = MakeStatus(send.code, send.error);
    return entry;
  }
  const std::string& topic = message.topic().name();
  absl::StatusOr<common::v1::TopicRouteData> route = backend_.Route(topic);
  if (!route.ok()) {
    *entry.mutable_status() = route.status().code() == absl::StatusCode::kNotFound
                                  ? MakeStatus(v2::Code::TOPIC_NOT_FOUND, route.status().message())
                                  : ToV5Status(route.status());
    return entry;
  }
  std::vector<WritableQueue> queues = WritableQueues(*route);
  if (queues.empty()) {
    *entry.mutable_status() = MakeStatus(
        v2::Code::FORBIDDEN, absl::StrCat("topic ", topic, " has no writable queue on a master"));
    return entry;
  }
  const WritableQueue& queue =
      send.type == v2::MessageType::FIFO
          ? queues[QueueForMessageGroup(message.system_properties().message_group(), queues.size())]
          : queues[next_queue_.fetch_add(1, std::memory_order_relaxed) % queues.size()];
  for (const common::v1::QueueData& data : route->queue_datas()) {
    if (data.broker_name() != queue.broker_name) continue;
    std::vector<v2::MessageType> accepted = AcceptedMessageTypes(data.attributes());
    if (std::find(accepted.begin(), accepted.end(), send.type) == accepted.end()) {
      *entry.mutable_status() = MakeStatus(
          v2::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
          absl::StrCat("topic ", topic, " does not accept ", v2::MessageType_Name(send.type),
                       " messages (its message.type attribute)"));
      return entry;
    }
  }
  send.request.set_queue_id(queue.queue_id);
  send.request.set_broker_name(queue.broker_name);
  absl::StatusOr<broker::v1::SendMessageResponse> sent =
      backend_.Send(queue.broker_address, send.request);
  if (!sent.ok()) {
    v2::Status status = ToV5Status(sent.status());
    // Every other check of a DELAY message was made here; what the store
    // refuses is its delivery time (beyond --timer_max_delay).
    if (send.type == v2::MessageType::DELAY && status.code() == v2::Code::BAD_REQUEST) {
      status.set_code(v2::Code::ILLEGAL_DELIVERY_TIME);
    }
    *entry.mutable_status() = status;
    return entry;
  }
  *entry.mutable_status() = ToV5Status(sent->status());
  entry.set_offset(sent->queue_offset());
  if (send.type == v2::MessageType::TRANSACTION) {
    absl::StatusOr<format::OffsetMessageId> offset =
        format::ParseOffsetMessageId(sent->offset_msg_id());
    if (!offset.ok()) {
      *entry.mutable_status() = ToV5Status(offset.status());
      return entry;
    }
    entry.set_transaction_id(
        EncodeTransactionId({queue.broker_name, offset->physical_offset, sent->queue_offset()}));
  }
  return entry;
}

grpc::ServerUnaryReactor* MessagingService::SendMessage(grpc::CallbackServerContext* context,
                                                        const v2::SendMessageRequest* request,
                                                        v2::SendMessageResponse* response) {
  if (absl::Status allowed = Allowed(*context, *request); !allowed.ok()) {
    return AnswerNow(context, response, V5Refusal(allowed));
  }
  if (request->messages_size() == 0) {
    return AnswerNow(context, response,
                     MakeStatus(v2::Code::BAD_REQUEST, "the request has no message"));
  }
  return Run(context, [this, request, response] {
    *response->mutable_status() = OkStatus();
    for (const v2::Message& message : request->messages()) {
      v2::SendResultEntry entry = SendOne(message);
      if (entry.status().code() != v2::Code::OK && response->status().code() == v2::Code::OK) {
        *response->mutable_status() = entry.status();
      }
      *response->add_entries() = std::move(entry);
    }
  });
}

grpc::ServerUnaryReactor* MessagingService::EndTransaction(grpc::CallbackServerContext* context,
                                                           const v2::EndTransactionRequest* request,
                                                           v2::EndTransactionResponse* response) {
  if (absl::Status allowed = Allowed(*context, *request); !allowed.ok()) {
    return AnswerNow(context, response, V5Refusal(allowed));
  }
  absl::StatusOr<TransactionHandle> handle = DecodeTransactionId(request->transaction_id());
  if (!handle.ok()) {
    return AnswerNow(context, response,
                     MakeStatus(v2::Code::INVALID_TRANSACTION_ID, handle.status().message()));
  }
  if (absl::Status valid = ValidateTopic(request->topic().name()); !valid.ok()) {
    return AnswerNow(context, response, MakeStatus(v2::Code::ILLEGAL_TOPIC, valid.message()));
  }
  return Run(context, [this, request, response, handle = *std::move(handle)] {
    absl::StatusOr<common::v1::TopicRouteData> route = backend_.Route(request->topic().name());
    if (!route.ok()) {
      *response->mutable_status() = ToV5Status(route.status());
      return;
    }
    std::string address;
    for (const common::v1::BrokerData& broker : route->broker_datas()) {
      auto master = broker.broker_addrs().find(0);
      if (broker.broker_name() == handle.broker_name && master != broker.broker_addrs().end()) {
        address = master->second;
      }
    }
    if (address.empty()) {
      *response->mutable_status() = MakeStatus(v2::Code::INTERNAL_SERVER_ERROR,
                                               absl::StrCat("broker ", handle.broker_name,
                                                            " of the transaction has no master "
                                                            "serving topic ",
                                                            request->topic().name()));
      return;
    }
    broker::v1::EndTransactionRequest end;
    end.set_producer_group(TransactionProducerGroup(request->topic().name()));
    end.set_transaction_id(request->message_id());
    end.set_commit_log_offset(handle.commit_log_offset);
    end.set_queue_offset(handle.queue_offset);
    end.set_resolution(request->resolution() == v2::TransactionResolution::COMMIT
                           ? broker::v1::TRANSACTION_COMMIT
                       : request->resolution() == v2::TransactionResolution::ROLLBACK
                           ? broker::v1::TRANSACTION_ROLLBACK
                           : broker::v1::TRANSACTION_UNKNOWN);
    end.set_from_transaction_check(request->source() == v2::TransactionSource::SOURCE_SERVER_CHECK);
    end.set_broker_name(handle.broker_name);
    *response->mutable_status() = ToV5Status(backend_.EndTransaction(address, end).status());
  });
}

grpc::ServerUnaryReactor* MessagingService::RecallMessage(grpc::CallbackServerContext* context,
                                                          const v2::RecallMessageRequest*,
                                                          v2::RecallMessageResponse* response) {
  return AnswerNow(context, response,
                   MakeStatus(v2::Code::UNSUPPORTED,
                              "recalling a delayed message is not supported (sends give no "
                              "recall handle)"));
}

grpc::ServerUnaryReactor* MessagingService::QueryAssignment(grpc::CallbackServerContext* context,
                                                            const v2::QueryAssignmentRequest*,
                                                            v2::QueryAssignmentResponse* response) {
  return AnswerNow(context, response, MakeStatus(v2::Code::NOT_IMPLEMENTED, kNoConsumption));
}

grpc::ServerWriteReactor<v2::ReceiveMessageResponse>* MessagingService::ReceiveMessage(
    grpc::CallbackServerContext*, const v2::ReceiveMessageRequest*) {
  return new StatusOnlyWriter<v2::ReceiveMessageResponse>(
      MakeStatus(v2::Code::NOT_IMPLEMENTED, kNoConsumption));
}

grpc::ServerUnaryReactor* MessagingService::AckMessage(grpc::CallbackServerContext* context,
                                                       const v2::AckMessageRequest*,
                                                       v2::AckMessageResponse* response) {
  return AnswerNow(context, response, MakeStatus(v2::Code::NOT_IMPLEMENTED, kNoConsumption));
}

grpc::ServerUnaryReactor* MessagingService::ForwardMessageToDeadLetterQueue(
    grpc::CallbackServerContext* context, const v2::ForwardMessageToDeadLetterQueueRequest*,
    v2::ForwardMessageToDeadLetterQueueResponse* response) {
  return AnswerNow(context, response, MakeStatus(v2::Code::NOT_IMPLEMENTED, kNoConsumption));
}

grpc::ServerWriteReactor<v2::PullMessageResponse>* MessagingService::PullMessage(
    grpc::CallbackServerContext*, const v2::PullMessageRequest*) {
  return new StatusOnlyWriter<v2::PullMessageResponse>(
      MakeStatus(v2::Code::NOT_IMPLEMENTED, kNoConsumption));
}

grpc::ServerUnaryReactor* MessagingService::UpdateOffset(grpc::CallbackServerContext* context,
                                                         const v2::UpdateOffsetRequest*,
                                                         v2::UpdateOffsetResponse* response) {
  return AnswerNow(context, response, MakeStatus(v2::Code::NOT_IMPLEMENTED, kNoConsumption));
}

grpc::ServerUnaryReactor* MessagingService::GetOffset(grpc::CallbackServerContext* context,
                                                      const v2::GetOffsetRequest*,
                                                      v2::GetOffsetResponse* response) {
  return AnswerNow(context, response, MakeStatus(v2::Code::NOT_IMPLEMENTED, kNoConsumption));
}

grpc::ServerUnaryReactor* MessagingService::QueryOffset(grpc::CallbackServerContext* context,
                                                        const v2::QueryOffsetRequest*,
                                                        v2::QueryOffsetResponse* response) {
  return AnswerNow(context, response, MakeStatus(v2::Code::NOT_IMPLEMENTED, kNoConsumption));
}

grpc::ServerUnaryReactor* MessagingService::ChangeInvisibleDuration(
    grpc::CallbackServerContext* context, const v2::ChangeInvisibleDurationRequest*,
    v2::ChangeInvisibleDurationResponse* response) {
  return AnswerNow(context, response, MakeStatus(v2::Code::NOT_IMPLEMENTED, kNoConsumption));
}

grpc::ServerUnaryReactor* MessagingService::SyncLiteSubscription(
    grpc::CallbackServerContext* context, const v2::SyncLiteSubscriptionRequest*,
    v2::SyncLiteSubscriptionResponse* response) {
  return AnswerNow(context, response, MakeStatus(v2::Code::NOT_IMPLEMENTED, kNoConsumption));
}

}  // namespace mq::proxy
