#include "testing/fake_servers.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "glog/logging.h"

namespace mq::testing {

FakeReply FakeReply::Ok(broker::v1::SendStatus status) {
  FakeReply reply;
  reply.send_status = status;
  return reply;
}

FakeReply FakeReply::Fail(grpc::StatusCode grpc_code, common::v1::ResponseCode response_code) {
  FakeReply reply;
  reply.kind = Kind::kFail;
  reply.grpc_code = grpc_code;
  reply.response_code = response_code;
  return reply;
}

FakeReply FakeReply::EndStream(grpc::StatusCode grpc_code) {
  FakeReply reply;
  reply.kind = Kind::kEndStream;
  reply.grpc_code = grpc_code;
  return reply;
}

FakeReply FakeReply::Hang() {
  FakeReply reply;
  reply.kind = Kind::kHang;
  return reply;
}

FakeServerBase::~FakeServerBase() { Stop(); }

void FakeServerBase::StartService(grpc::Service* service) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  CHECK(server_ != nullptr && port > 0) << "fake server could not bind 127.0.0.1";
  address_ = absl::StrCat("127.0.0.1:", port);
}

void FakeServerBase::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    server_.reset();
  }
}

void FakeServerBase::Hang(grpc::ServerContext* context) {
  absl::MutexLock lock(&mu_);
  while (!stopping_ && !context->IsCancelled()) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(5));
  }
}

absl::Status FakeServerBase::Failure(const FakeReply& reply) {
  absl::Status status(
      static_cast<absl::StatusCode>(reply.grpc_code),
      absl::StrCat("fake failure ", common::v1::ResponseCode_Name(reply.response_code)));
  if (reply.response_code != common::v1::SUCCESS) {
    status = WithResponseCode(status, reply.response_code);
  }
  return status;
}

grpc::Status FakeServerBase::FailStatus(const FakeReply& reply, grpc::ServerContext* context) {
  return ToGrpcStatus(Failure(reply), context);
}

FakeNameServer::FakeNameServer() { StartService(this); }

void FakeNameServer::SetRoute(const std::string& topic, const common::v1::TopicRouteData& route) {
  absl::MutexLock lock(&mu_);
  routes_[topic] = route;
}

void FakeNameServer::RemoveRoute(const std::string& topic) {
  absl::MutexLock lock(&mu_);
  routes_.erase(topic);
}

void FakeNameServer::SetReply(FakeReply reply) {
  absl::MutexLock lock(&mu_);
  reply_ = reply;
}

int FakeNameServer::RouteQueries(const std::string& topic) const {
  absl::MutexLock lock(&mu_);
  auto it = queries_.find(topic);
  return it == queries_.end() ? 0 : it->second;
}

int FakeNameServer::TotalRouteQueries() const {
  absl::MutexLock lock(&mu_);
  int total = 0;
  for (const auto& [topic, count] : queries_) total += count;
  return total;
}

grpc::Status FakeNameServer::GetRouteInfoByTopic(
    grpc::ServerContext* context, const namesrv::v1::GetRouteInfoByTopicRequest* request,
    namesrv::v1::GetRouteInfoByTopicResponse* response) {
  FakeReply reply;
  {
    absl::MutexLock lock(&mu_);
    ++queries_[request->topic()];
    reply = reply_;
    if (reply.kind == FakeReply::Kind::kOk) {
      auto it = routes_.find(request->topic());
      if (it == routes_.end()) {
        return ToGrpcStatus(WithResponseCode(absl::NotFoundError(absl::StrCat(
                                                 "topic ", request->topic(), " not found")),
                                             common::v1::TOPIC_NOT_EXIST),
                            context);
      }
      *response->mutable_route() = it->second;
      return grpc::Status::OK;
    }
  }
  if (reply.kind == FakeReply::Kind::kHang) {
    Hang(context);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake name server hung");
  }
  return FailStatus(reply, context);
}

FakeBroker::FakeBroker(std::string broker_name) : broker_name_(std::move(broker_name)) {
  StartService(this);
}

void FakeBroker::ScriptSends(std::vector<FakeReply> replies) {
  absl::MutexLock lock(&mu_);
  script_.assign(replies.begin(), replies.end());
}

void FakeBroker::SetDefaultSendReply(FakeReply reply) {
  absl::MutexLock lock(&mu_);
  default_reply_ = reply;
}

int FakeBroker::SendCalls() const {
  absl::MutexLock lock(&mu_);
  return send_calls_;
}

std::vector<broker::v1::SendMessageRequest> FakeBroker::StoredSends() const {
  absl::MutexLock lock(&mu_);
  return sends_;
}

std::vector<broker::v1::SendBatchRequest> FakeBroker::StoredBatches() const {
  absl::MutexLock lock(&mu_);
  return batches_;
}

std::vector<broker::v1::HeartbeatRequest> FakeBroker::Heartbeats() const {
  absl::MutexLock lock(&mu_);
  return heartbeats_;
}

std::vector<broker::v1::UnregisterClientRequest> FakeBroker::Unregisters() const {
  absl::MutexLock lock(&mu_);
  return unregisters_;
}

std::vector<int> FakeBroker::SendStreamFrames() const {
  absl::MutexLock lock(&mu_);
  return send_stream_frames_;
}

std::set<std::string> FakeBroker::SendStreamPeers() const {
  absl::MutexLock lock(&mu_);
  return send_stream_peers_;
}

FakeReply FakeBroker::NextSendReply() {
  ++send_calls_;
  if (script_.empty()) return default_reply_;
  FakeReply reply = script_.front();
  script_.pop_front();
  return reply;
}

FakeReply FakeBroker::HandleSend(const broker::v1::SendMessageRequest& request,
                                 broker::v1::SendMessageResponse* response) {
  absl::MutexLock lock(&mu_);
  FakeReply reply = NextSendReply();
  if (reply.kind != FakeReply::Kind::kOk) return reply;
  sends_.push_back(request);
  const int32_t queue_id = request.queue_id() < 0 ? 0 : request.queue_id();
  const int64_t offset =
      Store(request.message(), queue_id, request.sys_flag(), request.born_timestamp_ms());
  response->set_status(reply.send_status);
  response->set_msg_id(request.message().properties().at("UNIQ_KEY"));
  response->set_offset_msg_id(absl::StrFormat("7F000001%08X%016X", 10911, offset));
  response->set_queue_id(queue_id);
  response->set_queue_offset(offset);
  response->set_broker_name(broker_name_);
  return reply;
}

grpc::Status FakeBroker::ConsumerSendBack(grpc::ServerContext* context,
                                          const broker::v1::ConsumerSendBackRequest* request,
                                          broker::v1::ConsumerSendBackResponse* response) {
  FakeReply reply;
  {
    absl::MutexLock lock(&mu_);
    ++send_back_calls_;
    if (!send_back_script_.empty()) {
      reply = send_back_script_.front();
      send_back_script_.pop_front();
    }
    if (reply.kind == FakeReply::Kind::kOk) send_backs_.push_back(*request);
  }
  if (reply.kind == FakeReply::Kind::kOk) {
    response->set_topic("%RETRY%" + request->consumer_group());
    response->set_msg_id(request->origin_message_id());
    return grpc::Status::OK;
  }
  if (reply.kind == FakeReply::Kind::kHang) {
    Hang(context);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake broker hung");
  }
  return FailStatus(reply, context);
}

void FakeBroker::ScriptSendBacks(std::vector<FakeReply> replies) {
  absl::MutexLock lock(&mu_);
  send_back_script_.assign(replies.begin(), replies.end());
}

std::vector<broker::v1::ConsumerSendBackRequest> FakeBroker::SendBacks() const {
  absl::MutexLock lock(&mu_);
  return send_backs_;
}

int FakeBroker::SendBackCalls() const {
  absl::MutexLock lock(&mu_);
  return send_back_calls_;
}

grpc::Status FakeBroker::SendMessage(grpc::ServerContext* context,
                                     const broker::v1::SendMessageRequest* request,
                                     broker::v1::SendMessageResponse* response) {
  const FakeReply reply = HandleSend(*request, response);
  if (reply.kind == FakeReply::Kind::kOk) return grpc::Status::OK;
  if (reply.kind == FakeReply::Kind::kHang) {
    Hang(context);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake broker hung");
  }
  return FailStatus(reply, context);
}

grpc::Status FakeBroker::SendMessageStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<broker::v1::SendStreamResponse, broker::v1::SendStreamRequest>*
        stream) {
  {
    absl::MutexLock lock(&mu_);
    send_stream_peers_.insert(context->peer());
  }
  broker::v1::SendStreamRequest request;
  bool hung = false;
  // Answers one send or batch into `answer`; false when the stream is to end
  // with `*end`.
  auto handle = [&](const broker::v1::SendStreamRequest& one,
                    broker::v1::SendStreamResponse* answer, bool* answered, grpc::Status* end) {
    answer->set_request_id(one.request_id());
    const FakeReply reply = one.has_batch()
                                ? HandleBatch(one.batch(), answer->mutable_batch_response())
                                : HandleSend(one.send(), answer->mutable_response());
    *answered = false;
    if (reply.kind == FakeReply::Kind::kHang) {
      hung = true;
      return true;
    }
    if (reply.kind == FakeReply::Kind::kEndStream) {
      *end = grpc::Status(reply.grpc_code, "fake broker ended the stream");
      return false;
    }
    if (reply.kind == FakeReply::Kind::kFail)
      *answer->mutable_error() = ToSendError(Failure(reply));
    *answered = true;
    return true;
  };
  while (stream->Read(&request)) {
    {
      absl::MutexLock lock(&mu_);
      send_stream_frames_.push_back(request.has_coalesced() ? request.coalesced().sends_size() : 1);
    }
    broker::v1::SendStreamResponse answer;
    bool answered = false;
    grpc::Status end;
    if (request.has_coalesced()) {
      // Each send answered alone, all in one frame; a hung one is left out.
      answer.set_request_id(request.request_id());
      broker::v1::CoalescedAnswers* answers = answer.mutable_coalesced();
      for (const broker::v1::SendStreamRequest& one : request.coalesced().sends()) {
        broker::v1::SendStreamResponse* one_answer = answers->add_answers();
        if (!handle(one, one_answer, &answered, &end)) return end;
        if (!answered) answers->mutable_answers()->RemoveLast();
      }
      answered = true;
    } else if (!handle(request, &answer, &answered, &end)) {
      return end;
    }
    if (answered && !stream->Write(answer)) break;
  }
  // Like the broker, which ends a stream only once every send is answered.
  if (hung) Hang(context);
  return grpc::Status::OK;
}

FakeReply FakeBroker::HandleBatch(const broker::v1::SendBatchRequest& request,
                                  broker::v1::SendBatchResponse* response) {
  absl::MutexLock lock(&mu_);
  FakeReply reply = NextSendReply();
  if (reply.kind != FakeReply::Kind::kOk) return reply;
  batches_.push_back(request);
  const int32_t queue_id = request.queue_id() < 0 ? 0 : request.queue_id();
  response->set_status(reply.send_status);
  response->set_queue_id(queue_id);
  response->set_broker_name(broker_name_);
  for (const auto& message : request.messages()) {
    const int64_t offset = Store(message, queue_id, 0, request.born_timestamp_ms());
    if (response->msg_ids().empty()) response->set_queue_offset(offset);
    response->add_msg_ids(message.properties().at("UNIQ_KEY"));
    response->add_offset_msg_ids(absl::StrFormat("7F000001%08X%016X", 10911, offset));
  }
  return reply;
}

grpc::Status FakeBroker::SendBatch(grpc::ServerContext* context,
                                   const broker::v1::SendBatchRequest* request,
                                   broker::v1::SendBatchResponse* response) {
  const FakeReply reply = HandleBatch(*request, response);
  if (reply.kind == FakeReply::Kind::kOk) return grpc::Status::OK;
  if (reply.kind == FakeReply::Kind::kHang) {
    Hang(context);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake broker hung");
  }
  return FailStatus(reply, context);
}

grpc::Status FakeBroker::Heartbeat(grpc::ServerContext*,
                                   const broker::v1::HeartbeatRequest* request,
                                   broker::v1::HeartbeatResponse*) {
  absl::MutexLock lock(&mu_);
  heartbeats_.push_back(*request);
  for (const broker::v1::ConsumerData& consumer : request->consumers()) {
    consumer_groups_[consumer.group_name()].insert(request->client_id());
  }
  return grpc::Status::OK;
}

grpc::Status FakeBroker::UnregisterClient(grpc::ServerContext*,
                                          const broker::v1::UnregisterClientRequest* request,
                                          broker::v1::UnregisterClientResponse*) {
  absl::MutexLock lock(&mu_);
  unregisters_.push_back(*request);
  if (!request->consumer_group().empty()) {
    consumer_groups_[request->consumer_group()].erase(request->client_id());
  }
  return grpc::Status::OK;
}

grpc::Status FakeBroker::GetConsumerList(grpc::ServerContext*,
                                         const broker::v1::GetConsumerListRequest* request,
                                         broker::v1::GetConsumerListResponse* response) {
  absl::MutexLock lock(&mu_);
  auto it = consumer_groups_.find(request->consumer_group());
  if (it != consumer_groups_.end()) {
    for (const std::string& id : it->second) response->add_client_ids(id);
  }
  return grpc::Status::OK;
}

int64_t FakeBroker::CommittedOffset(const std::string& group, const std::string& topic,
                                    int32_t queue_id) const {
  absl::MutexLock lock(&mu_);
  auto it = offsets_.find({group, topic, queue_id});
  return it == offsets_.end() ? -1 : it->second;
}

void FakeBroker::AddMessage(const common::v1::Message& message, int32_t queue_id) {
  absl::MutexLock lock(&mu_);
  Store(message, queue_id, 0, absl::ToUnixMillis(absl::Now()));
}

int64_t FakeBroker::Store(const common::v1::Message& message, int32_t queue_id, int32_t sys_flag,
                          int64_t born_timestamp_ms) {
  std::vector<common::v1::MessageExt>& queue = queues_[{message.topic(), queue_id}];
  common::v1::MessageExt stored;
  stored.set_topic(message.topic());
  stored.set_flag(message.flag());
  *stored.mutable_properties() = message.properties();
  stored.set_body(message.body());
  stored.set_queue_id(queue_id);
  stored.set_queue_offset(static_cast<int64_t>(queue.size()));
  stored.set_sys_flag(sys_flag);
  stored.set_born_timestamp_ms(born_timestamp_ms);
  stored.set_store_timestamp_ms(absl::ToUnixMillis(absl::Now()));
  stored.set_store_host(address());
  auto id = message.properties().find("UNIQ_KEY");
  if (id != message.properties().end()) stored.set_msg_id(id->second);
  queue.push_back(std::move(stored));
  return static_cast<int64_t>(queue.size()) - 1;
}

void FakeBroker::SetSuggestedBrokerId(int64_t id) {
  absl::MutexLock lock(&mu_);
  suggested_broker_id_ = id;
}

int FakeBroker::PullCalls() const {
  absl::MutexLock lock(&mu_);
  return pull_calls_;
}

grpc::Status FakeBroker::PullMessage(grpc::ServerContext* context,
                                     const broker::v1::PullMessageRequest* request,
                                     broker::v1::PullMessageResponse* response) {
  const QueueKey key{request->topic(), request->queue_id()};
  const absl::Time hold_until =
      absl::Now() + absl::Milliseconds(request->suspend() ? request->suspend_timeout_ms() : 0);
  absl::MutexLock lock(&mu_);
  ++pull_calls_;
  if (request->commit_offset() >= 0) {
    offsets_[{request->consumer_group(), request->topic(), request->queue_id()}] =
        request->commit_offset();
  }
  auto arrived = [this, &key, request]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || static_cast<int64_t>(queues_[key].size()) > request->queue_offset();
  };
  while (!arrived() && absl::Now() < hold_until && !context->IsCancelled()) {
    mu_.AwaitWithTimeout(absl::Condition(&arrived), absl::Milliseconds(5));
  }
  const std::vector<common::v1::MessageExt>& queue = queues_[key];
  const int64_t max = static_cast<int64_t>(queue.size());
  response->set_min_offset(0);
  response->set_max_offset(max);
  response->set_suggest_which_broker_id(suggested_broker_id_);
  if (request->queue_offset() > max) {
    response->set_status(broker::v1::OFFSET_ILLEGAL);
    response->set_next_begin_offset(max);
  } else if (request->queue_offset() == max) {
    response->set_status(broker::v1::NO_NEW_MSG);
    response->set_next_begin_offset(max);
  } else {
    const int64_t end = std::min<int64_t>(max, request->queue_offset() + request->max_msg_nums());
    for (int64_t i = request->queue_offset(); i < end; ++i) *response->add_messages() = queue[i];
    response->set_status(broker::v1::FOUND);
    response->set_next_begin_offset(end);
  }
  return grpc::Status::OK;
}

grpc::Status FakeBroker::QueryConsumerOffset(grpc::ServerContext* context,
                                             const broker::v1::QueryConsumerOffsetRequest* request,
                                             broker::v1::QueryConsumerOffsetResponse* response) {
  absl::MutexLock lock(&mu_);
  auto it = offsets_.find({request->consumer_group(), request->topic(), request->queue_id()});
  if (it == offsets_.end()) {
    return ToGrpcStatus(
        WithResponseCode(absl::NotFoundError("no committed offset"), common::v1::QUERY_NOT_FOUND),
        context);
  }
  response->set_offset(it->second);
  return grpc::Status::OK;
}

grpc::Status FakeBroker::UpdateConsumerOffset(
    grpc::ServerContext*, const broker::v1::UpdateConsumerOffsetRequest* request,
    broker::v1::UpdateConsumerOffsetResponse*) {
  absl::MutexLock lock(&mu_);
  offsets_[{request->consumer_group(), request->topic(), request->queue_id()}] = request->offset();
  return grpc::Status::OK;
}

grpc::Status FakeBroker::GetQueueOffsets(grpc::ServerContext*,
                                         const broker::v1::GetQueueOffsetsRequest* request,
                                         broker::v1::GetQueueOffsetsResponse* response) {
  absl::MutexLock lock(&mu_);
  response->set_min_offset(0);
  response->set_max_offset(
      static_cast<int64_t>(queues_[{request->topic(), request->queue_id()}].size()));
  return grpc::Status::OK;
}

grpc::Status FakeBroker::SearchOffset(grpc::ServerContext*,
                                      const broker::v1::SearchOffsetRequest* request,
                                      broker::v1::SearchOffsetResponse* response) {
  absl::MutexLock lock(&mu_);
  const std::vector<common::v1::MessageExt>& queue =
      queues_[{request->topic(), request->queue_id()}];
  int64_t offset = static_cast<int64_t>(queue.size());
  for (const auto& message : queue) {
    if (message.store_timestamp_ms() >= request->timestamp_ms()) {
      offset = message.queue_offset();
      break;
    }
  }
  response->set_offset(offset);
  return grpc::Status::OK;
}

common::v1::TopicRouteData MakeRoute(const std::vector<RouteEntry>& entries) {
  common::v1::TopicRouteData route;
  for (const RouteEntry& entry : entries) {
    common::v1::QueueData* qd = route.add_queue_datas();
    qd->set_broker_name(entry.broker->broker_name());
    qd->set_read_queue_nums(entry.queue_nums);
    qd->set_write_queue_nums(entry.queue_nums);
    qd->set_perm(entry.perm);
    common::v1::BrokerData* bd = route.add_broker_datas();
    bd->set_cluster("DefaultCluster");
    bd->set_broker_name(entry.broker->broker_name());
    (*bd->mutable_broker_addrs())[0] = entry.broker->address();
  }
  return route;
}

}  // namespace mq::testing
