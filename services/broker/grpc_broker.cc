#include "services/broker/grpc_broker.h"

#include <glog/logging.h>
#include <google/protobuf/descriptor.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/broker/broker_errors.h"
#include "services/broker/peer_address.h"
#include "services/broker/send_stream_reactor.h"

namespace mq::broker {

namespace {

void Finish(grpc::ServerUnaryReactor* reactor, grpc::CallbackServerContext* context,
            const absl::Status& status) {
  reactor->Finish(ToGrpcStatus(status, context));
}

// Runs `work` on `executor` and answers with its status; answers busy (or
// unavailable) when the executor refuses it or it waited too long. A call
// the client cancelled while queued is not worked on.
grpc::ServerUnaryReactor* RunOn(Executor* executor, grpc::CallbackServerContext* context,
                                grpc::ServerUnaryReactor* reactor,
                                std::function<absl::Status()> work) {
  absl::Status submitted = executor->Submit(
      [context, reactor, work = std::move(work)] {
        if (context->IsCancelled()) {
          reactor->Finish(grpc::Status::CANCELLED);
          return;
        }
        Finish(reactor, context, work());
      },
      [context, reactor](absl::Status status) { Finish(reactor, context, status); });
  if (!submitted.ok()) Finish(reactor, context, submitted);
  return reactor;
}

// Moves a StatusOr's value into `*response`, returning its status.
template <typename T>
absl::Status Answer(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return result.status();
  *response = *std::move(result);
  return absl::OkStatus();
}

// A callback that answers the call with a StatusOr's value or error.
template <typename T>
std::function<void(absl::StatusOr<T>)> AnswerWith(grpc::ServerUnaryReactor* reactor,
                                                  grpc::CallbackServerContext* context,
                                                  T* response) {
  return [reactor, context, response](absl::StatusOr<T> result) {
    Finish(reactor, context, Answer(std::move(result), response));
  };
}

absl::Status CheckOffsetArgs(const TopicConfigManager& topics, absl::string_view group,
                             absl::string_view topic, int32_t queue_id) {
  absl::Status status = ValidateGroup(group);
  if (status.ok()) status = topics.CheckReadQueue(topic, queue_id);
  return status;
}

}  // namespace

void BrokerService::Enable(const BrokerServiceParts& parts) {
  parts_ = parts;
  serving_.store(true, std::memory_order_release);
}

void BrokerService::Disable() {
  serving_.store(false, std::memory_order_release);
  send_streams_.DrainAll();
}

const BrokerServiceParts* BrokerService::Serving(grpc::CallbackServerContext* context,
                                                 grpc::ServerUnaryReactor* reactor,
                                                 const google::protobuf::Message& request) const {
  if (!serving_.load(std::memory_order_acquire)) {
    Finish(reactor, context,
           ServiceNotAvailable("the broker is not serving (starting or stopping)"));
    return nullptr;
  }
  if (parts_.authorizer != nullptr) {
    if (absl::Status allowed = parts_.authorizer->CheckCall(*context, request); !allowed.ok()) {
      Finish(reactor, context, allowed);
      return nullptr;
    }
  }
  return &parts_;
}

namespace {

constexpr char kSendStreamMethod[] = "/mq.broker.v1.Broker/SendMessageStream";
constexpr char kProducerChannelMethod[] = "/mq.broker.v1.Broker/ProducerChannel";

// What a send on a stream opened by `principal` must hold: PUB on its topic.
absl::Status AuthorizeStreamedSend(const acl::Authorizer& authorizer,
                                   const acl::Principal& principal,
                                   const broker::v1::SendStreamRequest& request) {
  const std::string& topic =
      request.has_batch() ? request.batch().topic() : request.send().message().topic();
  return authorizer.CheckResources(principal,
                                   {{{acl::Resource::Type::kTopic, topic}, acl::Need::kPub}});
}

}  // namespace

grpc::ServerUnaryReactor* BrokerService::SendMessage(grpc::CallbackServerContext* context,
                                                     const broker::v1::SendMessageRequest* request,
                                                     broker::v1::SendMessageResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  std::string born_host = PeerToHostPort(context->peer());
  if (parts->send_inline) {
    parts->send->SendAsync(*request, born_host, AnswerWith(reactor, context, response));
    return reactor;
  }
  return RunOn(parts->send_executor, context, reactor, [parts, request, response, born_host] {
    return Answer(parts->send->Send(*request, born_host), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::SendBatch(grpc::CallbackServerContext* context,
                                                   const broker::v1::SendBatchRequest* request,
                                                   broker::v1::SendBatchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  std::string born_host = PeerToHostPort(context->peer());
  if (parts->send_inline) {
    parts->send->SendBatchAsync(*request, born_host, AnswerWith(reactor, context, response));
    return reactor;
  }
  return RunOn(parts->send_executor, context, reactor, [parts, request, response, born_host] {
    return Answer(parts->send->SendBatch(*request, born_host), response);
  });
}

namespace {

// A stream answered with an error as soon as it opens.
class RefusedStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  RefusedStream(const absl::Status& status, grpc::CallbackServerContext* context) {
    Finish(ToGrpcStatus(status, context));
  }
  void OnDone() override { delete this; }
};

}  // namespace

BrokerService::BrokerService() {
  const google::protobuf::MethodDescriptor* method = broker::v1::SendStreamRequest::descriptor()
                                                         ->file()
                                                         ->FindServiceByName("Broker")
                                                         ->FindMethodByName("SendMessageStream");
  MarkMethodRawCallback(
      method->index(),
      new grpc::internal::CallbackBidiHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
          [this](grpc::CallbackServerContext* context) { return OpenSendStream(context); }));
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* BrokerService::OpenSendStream(
    grpc::CallbackServerContext* context) {
  if (!serving_.load(std::memory_order_acquire)) {
    return new RefusedStream(
        ServiceNotAvailable("the broker is not serving (starting or stopping)"), context);
  }
  std::function<absl::Status(const broker::v1::SendStreamRequest&)> authorize;
  if (parts_.authorizer != nullptr && parts_.authorizer->enabled()) {
    absl::StatusOr<acl::Principal> principal = parts_.authorizer->Authenticate(
        kSendStreamMethod, context->client_metadata(), context->peer(), {});
    if (!principal.ok()) return new RefusedStream(principal.status(), context);
    authorize = [authorizer = parts_.authorizer,
                 principal = *std::move(principal)](const broker::v1::SendStreamRequest& request) {
      return AuthorizeStreamedSend(*authorizer, principal, request);
    };
  }
  auto* stream =
      new SendStreamReactor(parts_.send, parts_.send_inline ? nullptr : parts_.send_executor,
                            PeerToHostPort(context->peer()), &send_streams_, parts_.metrics,
                            context, std::move(authorize));
  // Disable() may have run between the check and the stream's entry.
  if (!serving_.load(std::memory_order_acquire)) send_streams_.DrainAll();
  return stream;
}

grpc::ServerUnaryReactor* BrokerService::PullMessage(grpc::CallbackServerContext* context,
                                                     const broker::v1::PullMessageRequest* request,
                                                     broker::v1::PullMessageResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  absl::Time deadline = absl::FromChrono(context->deadline());
  auto done = AnswerWith(reactor, context, response);
  if (parts->pull_inline || parts->pull->ReadsFromMemory(*request)) {
    parts->pull->Pull(*request, deadline, std::move(done));
    return reactor;
  }
  absl::Status submitted = parts->pull_executor->Submit(
      [parts, context, reactor, request, deadline, done] {
        if (context->IsCancelled()) {
          reactor->Finish(grpc::Status::CANCELLED);
          return;
        }
        parts->pull->Pull(*request, deadline, done);
      },
      [context, reactor](absl::Status status) { Finish(reactor, context, status); });
  if (!submitted.ok()) Finish(reactor, context, submitted);
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::Heartbeat(grpc::CallbackServerContext* context,
                                                   const broker::v1::HeartbeatRequest* request,
                                                   broker::v1::HeartbeatResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  absl::Status status = parts->clients->Heartbeat(*request);
  if (!status.ok() || parts->slave) {
    Finish(reactor, context, status);
    return reactor;
  }
  // A consumer group's first heartbeat creates its config and retry topic: a
  // store round trip, so off gRPC's thread.
  std::vector<std::string> unready;
  for (const broker::v1::ConsumerData& consumer : request->consumers()) {
    if (!ConsumerGroupReady(*parts->groups, *parts->topics, consumer.group_name())) {
      unready.push_back(consumer.group_name());
    }
  }
  if (unready.empty()) {
    Finish(reactor, context, absl::OkStatus());
    return reactor;
  }
  return RunOn(parts->admin_executor, context, reactor, [parts, unready = std::move(unready)] {
    for (const std::string& group : unready) {
      absl::Status prepared = PrepareConsumerGroup(parts->groups, parts->mutable_topics, group);
      // The heartbeat itself succeeded; a group that cannot be set up (not
      // auto-created, store down) is logged and tried again next heartbeat.
      if (!prepared.ok()) LOG(WARNING) << "consumer group " << group << ": " << prepared;
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* BrokerService::UnregisterClient(
    grpc::CallbackServerContext* context, const broker::v1::UnregisterClientRequest* request,
    broker::v1::UnregisterClientResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts != nullptr) {
    Finish(reactor, context,
           parts->clients->Unregister(request->client_id(), request->producer_group(),
                                      request->consumer_group()));
  }
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::GetConsumerList(
    grpc::CallbackServerContext* context, const broker::v1::GetConsumerListRequest* request,
    broker::v1::GetConsumerListResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  absl::Status status = ValidateGroup(request->consumer_group());
  if (status.ok()) {
    for (std::string& id : parts->clients->GetConsumerList(request->consumer_group())) {
      response->add_client_ids(std::move(id));
    }
  }
  Finish(reactor, context, status);
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::GetProducerConnections(
    grpc::CallbackServerContext* context, const broker::v1::GetProducerConnectionsRequest* request,
    broker::v1::GetProducerConnectionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  absl::Status status = ValidateGroup(request->producer_group());
  if (status.ok()) {
    for (broker::v1::ProducerConnection& connection :
         parts->clients->GetProducerConnections(request->producer_group())) {
      *response->add_connections() = std::move(connection);
    }
  }
  Finish(reactor, context, status);
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::QueryConsumerOffset(
    grpc::CallbackServerContext* context, const broker::v1::QueryConsumerOffsetRequest* request,
    broker::v1::QueryConsumerOffsetResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  absl::Status status = CheckOffsetArgs(*parts->topics, request->consumer_group(), request->topic(),
                                        request->queue_id());
  if (status.ok()) {
    absl::optional<int64_t> offset =
        parts->offsets->Query(request->consumer_group(), request->topic(), request->queue_id());
    if (offset.has_value()) {
      response->set_offset(*offset);
    } else {
      status = WithResponseCode(absl::NotFoundError(absl::StrCat(
                                    "group ", request->consumer_group(), " has no offset for ",
                                    request->topic(), "/", request->queue_id())),
                                common::v1::QUERY_NOT_FOUND);
    }
  }
  Finish(reactor, context, status);
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::UpdateConsumerOffset(
    grpc::CallbackServerContext* context, const broker::v1::UpdateConsumerOffsetRequest* request,
    broker::v1::UpdateConsumerOffsetResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  absl::Status status = CheckOffsetArgs(*parts->topics, request->consumer_group(), request->topic(),
                                        request->queue_id());
  if (status.ok() && request->offset() < 0) {
    status = absl::InvalidArgumentError(absl::StrCat("offset ", request->offset(), " < 0"));
  }
  if (status.ok()) {
    parts->offsets->Commit(request->consumer_group(), request->topic(), request->queue_id(),
                           request->offset());
  }
  Finish(reactor, context, status);
  return reactor;
}

// Orderly consumption: queue locks, answered inline (memory only).

grpc::ServerUnaryReactor* BrokerService::LockBatchQueues(
    grpc::CallbackServerContext* context, const broker::v1::LockBatchQueuesRequest* request,
    broker::v1::LockBatchQueuesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  absl::StatusOr<std::vector<common::v1::MessageQueue>> locked = parts->locks->TryLockBatch(
      request->consumer_group(), request->client_id(),
      std::vector<common::v1::MessageQueue>(request->queues().begin(), request->queues().end()));
  if (locked.ok()) {
    for (common::v1::MessageQueue& queue : *locked) {
      *response->add_locked_queues() = std::move(queue);
    }
  }
  Finish(reactor, context, locked.status());
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::UnlockBatchQueues(
    grpc::CallbackServerContext* context, const broker::v1::UnlockBatchQueuesRequest* request,
    broker::v1::UnlockBatchQueuesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  Finish(reactor, context,
         parts->locks->UnlockBatch(request->consumer_group(), request->client_id(),
                                   std::vector<common::v1::MessageQueue>(request->queues().begin(),
                                                                         request->queues().end())));
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::GetConsumeStats(
    grpc::CallbackServerContext* context, const broker::v1::GetConsumeStatsRequest* request,
    broker::v1::GetConsumeStatsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request, response] {
    return Answer(parts->admin->GetConsumeStats(*request), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::ListConsumerGroups(
    grpc::CallbackServerContext* context, const broker::v1::ListConsumerGroupsRequest* request,
    broker::v1::ListConsumerGroupsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, response] {
    return Answer(parts->admin->ListConsumerGroups(parts->clients->ConsumerGroupSizes()), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::GetQueueOffsets(
    grpc::CallbackServerContext* context, const broker::v1::GetQueueOffsetsRequest* request,
    broker::v1::GetQueueOffsetsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request, response] {
    return Answer(parts->queries->GetQueueOffsets(*request), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::SearchOffset(
    grpc::CallbackServerContext* context, const broker::v1::SearchOffsetRequest* request,
    broker::v1::SearchOffsetResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request, response] {
    return Answer(parts->queries->SearchOffset(*request), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::CreateOrUpdateTopic(
    grpc::CallbackServerContext* context, const broker::v1::CreateOrUpdateTopicRequest* request,
    broker::v1::CreateOrUpdateTopicResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor,
               [parts, request] { return parts->admin->CreateOrUpdateTopic(request->config()); });
}

grpc::ServerUnaryReactor* BrokerService::DeleteTopic(grpc::CallbackServerContext* context,
                                                     const broker::v1::DeleteTopicRequest* request,
                                                     broker::v1::DeleteTopicResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor,
               [parts, request] { return parts->admin->DeleteTopic(request->topic()); });
}

grpc::ServerUnaryReactor* BrokerService::GetAllTopicConfigs(
    grpc::CallbackServerContext* context, const broker::v1::GetAllTopicConfigsRequest* request,
    broker::v1::GetAllTopicConfigsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  *response = parts->admin->GetAllTopicConfigs();
  Finish(reactor, context, absl::OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::GetTopicStats(
    grpc::CallbackServerContext* context, const broker::v1::GetTopicStatsRequest* request,
    broker::v1::GetTopicStatsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request, response] {
    return Answer(parts->admin->GetTopicStats(request->topic()), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::QueryMessageById(
    grpc::CallbackServerContext* context, const broker::v1::QueryMessageByIdRequest* request,
    broker::v1::QueryMessageResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request, response] {
    return Answer(parts->queries->QueryById(*request), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::QueryMessageByKey(
    grpc::CallbackServerContext* context, const broker::v1::QueryMessageByKeyRequest* request,
    broker::v1::QueryMessageResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request, response] {
    return Answer(parts->queries->QueryByKey(*request), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::ViewMessageByOffsetId(
    grpc::CallbackServerContext* context, const broker::v1::ViewMessageByOffsetIdRequest* request,
    broker::v1::QueryMessageResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request, response] {
    return Answer(parts->queries->ViewByOffsetId(*request), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::GetRuntimeStats(
    grpc::CallbackServerContext* context, const broker::v1::GetRuntimeStatsRequest* request,
    broker::v1::GetRuntimeStatsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, response] {
    *response = parts->admin->GetRuntimeStats();
    return absl::OkStatus();
  });
}

// ---- Transactional messages ----

grpc::ServerUnaryReactor* BrokerService::EndTransaction(
    grpc::CallbackServerContext* context, const broker::v1::EndTransactionRequest* request,
    broker::v1::EndTransactionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  if (parts->transactions == nullptr) {
    Finish(reactor, context,
           ServiceNotAvailable("this broker is a slave and settles no transactions"));
    return reactor;
  }
  return RunOn(parts->send_executor, context, reactor, [parts, request, response] {
    return Answer(parts->transactions->EndTransaction(*request), response);
  });
}

grpc::ServerBidiReactor<broker::v1::ProducerChannelRequest, broker::v1::ProducerChannelCommand>*
BrokerService::ProducerChannel(grpc::CallbackServerContext* context) {
  if (!serving_.load(std::memory_order_acquire)) {
    return ProducerChannels::Refuse(
        ServiceNotAvailable("the broker is not serving (starting or stopping)"));
  }
  if (parts_.producer_channels == nullptr) {
    return ProducerChannels::Refuse(
        ServiceNotAvailable("this broker is a slave and checks no transactions"));
  }
  if (parts_.authorizer != nullptr) {
    absl::Status allowed = parts_.authorizer->Check(
        kProducerChannelMethod, context->client_metadata(), context->peer(), nullptr);
    if (!allowed.ok()) return ProducerChannels::Refuse(allowed);
  }
  return parts_.producer_channels->Open();
}

// ---- Consumer retry and dead-letter queues ----

grpc::ServerUnaryReactor* BrokerService::ConsumerSendBack(
    grpc::CallbackServerContext* context, const broker::v1::ConsumerSendBackRequest* request,
    broker::v1::ConsumerSendBackResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->send_executor, context, reactor, [parts, request, response] {
    return Answer(parts->send_back->SendBack(*request), response);
  });
}

namespace {

absl::Status RefuseOnSlave(const BrokerServiceParts& parts) {
  if (!parts.slave) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "a slave's subscription groups follow its master's; change them there");
}

}  // namespace

grpc::ServerUnaryReactor* BrokerService::CreateOrUpdateSubscriptionGroup(
    grpc::CallbackServerContext* context,
    const broker::v1::CreateOrUpdateSubscriptionGroupRequest* request,
    broker::v1::CreateOrUpdateSubscriptionGroupResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request] {
    absl::Status status = RefuseOnSlave(*parts);
    if (status.ok()) status = parts->groups->CreateOrUpdate(request->config());
    return status;
  });
}

grpc::ServerUnaryReactor* BrokerService::DeleteSubscriptionGroup(
    grpc::CallbackServerContext* context, const broker::v1::DeleteSubscriptionGroupRequest* request,
    broker::v1::DeleteSubscriptionGroupResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request] {
    absl::Status status = RefuseOnSlave(*parts);
    if (status.ok()) status = ValidateGroup(request->group_name());
    if (status.ok()) status = parts->groups->Delete(request->group_name());
    return status;
  });
}

grpc::ServerUnaryReactor* BrokerService::GetAllSubscriptionGroups(
    grpc::CallbackServerContext* context,
    const broker::v1::GetAllSubscriptionGroupsRequest* request,
    broker::v1::GetAllSubscriptionGroupsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  for (broker::v1::SubscriptionGroupConfig& config : parts->groups->GetAll()) {
    *response->add_configs() = std::move(config);
  }
  Finish(reactor, context, absl::OkStatus());
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::ListDeadLetters(
    grpc::CallbackServerContext* context, const broker::v1::ListDeadLettersRequest* request,
    broker::v1::ListDeadLettersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request, response] {
    return Answer(parts->dead_letters->List(*request), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::ResendDeadLetters(
    grpc::CallbackServerContext* context, const broker::v1::ResendDeadLettersRequest* request,
    broker::v1::ResendDeadLettersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->admin_executor, context, reactor, [parts, request, response] {
    return Answer(parts->dead_letters->Resend(*request, parts->slave), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::PopMessage(grpc::CallbackServerContext* context,
                                                    const broker::v1::PopMessageRequest* request,
                                                    broker::v1::PopMessageResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  absl::Time deadline = absl::FromChrono(context->deadline());
  auto done = AnswerWith(reactor, context, response);
  absl::Status submitted = parts->pull_executor->Submit(
      [parts, context, reactor, request, deadline, done] {
        if (context->IsCancelled()) {
          reactor->Finish(grpc::Status::CANCELLED);
          return;
        }
        parts->pop->Pop(*request, deadline, done);
      },
      [context, reactor](absl::Status status) { Finish(reactor, context, status); });
  if (!submitted.ok()) Finish(reactor, context, submitted);
  return reactor;
}

grpc::ServerUnaryReactor* BrokerService::AckMessage(grpc::CallbackServerContext* context,
                                                    const broker::v1::AckMessageRequest* request,
                                                    broker::v1::AckMessageResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->send_executor, context, reactor,
               [parts, request, response] { return Answer(parts->pop->Ack(*request), response); });
}

grpc::ServerUnaryReactor* BrokerService::ChangeInvisibleTime(
    grpc::CallbackServerContext* context, const broker::v1::ChangeInvisibleTimeRequest* request,
    broker::v1::ChangeInvisibleTimeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->send_executor, context, reactor, [parts, request, response] {
    return Answer(parts->pop->ChangeInvisibleTime(*request), response);
  });
}

grpc::ServerUnaryReactor* BrokerService::ForwardToDeadLetter(
    grpc::CallbackServerContext* context, const broker::v1::ForwardToDeadLetterRequest* request,
    broker::v1::ForwardToDeadLetterResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const BrokerServiceParts* parts = Serving(context, reactor, *request);
  if (parts == nullptr) return reactor;
  return RunOn(parts->send_executor, context, reactor, [parts, request, response] {
    return Answer(parts->pop->ForwardToDeadLetter(*request), response);
  });
}

}  // namespace mq::broker
