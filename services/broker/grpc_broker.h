// The gRPC face of the broker, on gRPC's callback API: translates protos to
// calls of the broker's parts and back. Sends run on the bounded send queue
// (flow control), pulls on the pull queue and may be held without a thread
// (long polling), store-bound admin and query calls on the admin queue; calls
// that only touch memory (heartbeats, offsets) answer inline.
//
// Failures carry the response code as trailing metadata `mq-response-code`
// (common/status.h).
#ifndef MQ_SERVICES_BROKER_GRPC_BROKER_H_
#define MQ_SERVICES_BROKER_GRPC_BROKER_H_

#include <atomic>

#include "common/acl/authorizer.h"
#include "common/executor.h"
#include "proto/broker.grpc.pb.h"
#include "services/broker/admin_processor.h"
#include "services/broker/client_manager.h"
#include "services/broker/consumer_offset_manager.h"
#include "services/broker/consumer_send_back_processor.h"
#include "services/broker/dead_letter_processor.h"
#include "services/broker/pop_service.h"
#include "services/broker/producer_channels.h"
#include "services/broker/pull_message_processor.h"
#include "services/broker/query_message_processor.h"
#include "services/broker/rebalance_lock_manager.h"
#include "services/broker/send_message_processor.h"
#include "services/broker/send_stream_reactor.h"
#include "services/broker/subscription_group_manager.h"
#include "services/broker/transaction_service.h"

namespace mq::broker {

// What the service calls. Every pointer must stay valid until the gRPC server
// hosting the service has shut down.
struct BrokerServiceParts {
  SendMessageProcessor* send = nullptr;
  Executor* send_executor = nullptr;
  // The store's AppendBatchAsync never blocks (StoreApi::AppendsAreAsync):
  // start sends on gRPC's thread and answer from the store's callback,
  // skipping the hop to send_executor and a thread parked per pending flush.
  bool send_inline = false;
  PullMessageProcessor* pull = nullptr;
  Executor* pull_executor = nullptr;
  // The store's GetMessagesAsync never blocks (StoreApi::ReadsAreAsync): start
  // pulls on gRPC's thread and answer from the store's callback. Otherwise
  // only pulls of recent data (PullMessageProcessor::ReadsFromMemory) run
  // there; older data may be read from disk, on pull_executor's threads.
  bool pull_inline = false;
  Executor* admin_executor = nullptr;
  ClientManager* clients = nullptr;
  RebalanceLockManager* locks = nullptr;
  ConsumerOffsetManager* offsets = nullptr;
  const TopicConfigManager* topics = nullptr;
  QueryMessageProcessor* queries = nullptr;
  AdminProcessor* admin = nullptr;
  // Transactional messages; null on a slave (EndTransaction and
  // ProducerChannel are refused there).
  TransactionService* transactions = nullptr;
  ProducerChannels* producer_channels = nullptr;
  // Null when the broker keeps no metrics.
  BrokerMetrics* metrics = nullptr;
  // Consumer retry and dead-letter queues.
  bool slave = false;
  SubscriptionGroupManager* groups = nullptr;
  TopicConfigManager* mutable_topics = nullptr;
  ConsumerSendBackProcessor* send_back = nullptr;
  DeadLetterProcessor* dead_letters = nullptr;
  // POP consumption: pops run on pull_executor (they read the store); acks,
  // invisible time changes and dead-letter forwards on send_executor (each
  // appends to the store: POP's log, the DLQ).
  PopService* pop = nullptr;
  // Access control: every call is checked here before it does anything.
  // Null: none.
  const acl::Authorizer* authorizer = nullptr;
};

// Thread-safe. Until Enable() and after Disable(), every call is answered
// UNAVAILABLE with SERVICE_NOT_AVAILABLE, so the service can be registered
// with a server before the broker has started.
class BrokerService final : public broker::v1::Broker::CallbackService {
 public:
  // Registers SendMessageStream raw (see SendStreamReactor).
  BrokerService();

  // Once, with every part set.
  void Enable(const BrokerServiceParts& parts);
  // Also drains the open send streams (SendStreamReactor::Drain).
  void Disable();

  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* context,
                                        const broker::v1::SendMessageRequest* request,
                                        broker::v1::SendMessageResponse* response) override;
  grpc::ServerUnaryReactor* SendBatch(grpc::CallbackServerContext* context,
                                      const broker::v1::SendBatchRequest* request,
                                      broker::v1::SendBatchResponse* response) override;
  // Broker.SendMessageStream, its frames read and written as bytes.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* OpenSendStream(
      grpc::CallbackServerContext* context);
  grpc::ServerUnaryReactor* PullMessage(grpc::CallbackServerContext* context,
                                        const broker::v1::PullMessageRequest* request,
                                        broker::v1::PullMessageResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const broker::v1::HeartbeatRequest* request,
                                      broker::v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* UnregisterClient(
      grpc::CallbackServerContext* context, const broker::v1::UnregisterClientRequest* request,
      broker::v1::UnregisterClientResponse* response) override;
  grpc::ServerUnaryReactor* GetConsumerList(grpc::CallbackServerContext* context,
                                            const broker::v1::GetConsumerListRequest* request,
                                            broker::v1::GetConsumerListResponse* response) override;
  grpc::ServerUnaryReactor* GetProducerConnections(
      grpc::CallbackServerContext* context,
      const broker::v1::GetProducerConnectionsRequest* request,
      broker::v1::GetProducerConnectionsResponse* response) override;
  grpc::ServerUnaryReactor* QueryConsumerOffset(
      grpc::CallbackServerContext* context, const broker::v1::QueryConsumerOffsetRequest* request,
      broker::v1::QueryConsumerOffsetResponse* response) override;
  grpc::ServerUnaryReactor* UpdateConsumerOffset(
      grpc::CallbackServerContext* context, const broker::v1::UpdateConsumerOffsetRequest* request,
      broker::v1::UpdateConsumerOffsetResponse* response) override;
  // Orderly consumption: queue locks.
  grpc::ServerUnaryReactor* LockBatchQueues(grpc::CallbackServerContext* context,
                                            const broker::v1::LockBatchQueuesRequest* request,
                                            broker::v1::LockBatchQueuesResponse* response) override;
  grpc::ServerUnaryReactor* UnlockBatchQueues(
      grpc::CallbackServerContext* context, const broker::v1::UnlockBatchQueuesRequest* request,
      broker::v1::UnlockBatchQueuesResponse* response) override;
  grpc::ServerUnaryReactor* GetConsumeStats(grpc::CallbackServerContext* context,
                                            const broker::v1::GetConsumeStatsRequest* request,
                                            broker::v1::GetConsumeStatsResponse* response) override;
  grpc::ServerUnaryReactor* ListConsumerGroups(
      grpc::CallbackServerContext* context, const broker::v1::ListConsumerGroupsRequest* request,
      broker::v1::ListConsumerGroupsResponse* response) override;
  grpc::ServerUnaryReactor* GetQueueOffsets(grpc::CallbackServerContext* context,
                                            const broker::v1::GetQueueOffsetsRequest* request,
                                            broker::v1::GetQueueOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* SearchOffset(grpc::CallbackServerContext* context,
                                         const broker::v1::SearchOffsetRequest* request,
                                         broker::v1::SearchOffsetResponse* response) override;
  grpc::ServerUnaryReactor* CreateOrUpdateTopic(
      grpc::CallbackServerContext* context, const broker::v1::CreateOrUpdateTopicRequest* request,
      broker::v1::CreateOrUpdateTopicResponse* response) override;
  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* context,
                                        const broker::v1::DeleteTopicRequest* request,
                                        broker::v1::DeleteTopicResponse* response) override;
  grpc::ServerUnaryReactor* GetAllTopicConfigs(
      grpc::CallbackServerContext* context, const broker::v1::GetAllTopicConfigsRequest* request,
      broker::v1::GetAllTopicConfigsResponse* response) override;
  grpc::ServerUnaryReactor* GetTopicStats(grpc::CallbackServerContext* context,
                                          const broker::v1::GetTopicStatsRequest* request,
                                          broker::v1::GetTopicStatsResponse* response) override;
  grpc::ServerUnaryReactor* QueryMessageById(grpc::CallbackServerContext* context,
                                             const broker::v1::QueryMessageByIdRequest* request,
                                             broker::v1::QueryMessageResponse* response) override;
  grpc::ServerUnaryReactor* QueryMessageByKey(grpc::CallbackServerContext* context,
                                              const broker::v1::QueryMessageByKeyRequest* request,
                                              broker::v1::QueryMessageResponse* response) override;
  grpc::ServerUnaryReactor* ViewMessageByOffsetId(
      grpc::CallbackServerContext* context, const broker::v1::ViewMessageByOffsetIdRequest* request,
      broker::v1::QueryMessageResponse* response) override;
  grpc::ServerUnaryReactor* GetRuntimeStats(grpc::CallbackServerContext* context,
                                            const broker::v1::GetRuntimeStatsRequest* request,
                                            broker::v1::GetRuntimeStatsResponse* response) override;
  // Transactional messages.
  grpc::ServerUnaryReactor* EndTransaction(grpc::CallbackServerContext* context,
                                           const broker::v1::EndTransactionRequest* request,
                                           broker::v1::EndTransactionResponse* response) override;
  grpc::ServerBidiReactor<broker::v1::ProducerChannelRequest, broker::v1::ProducerChannelCommand>*
  ProducerChannel(grpc::CallbackServerContext* context) override;

  // Consumer retry and dead-letter queues.
  grpc::ServerUnaryReactor* ConsumerSendBack(
      grpc::CallbackServerContext* context, const broker::v1::ConsumerSendBackRequest* request,
      broker::v1::ConsumerSendBackResponse* response) override;
  grpc::ServerUnaryReactor* CreateOrUpdateSubscriptionGroup(
      grpc::CallbackServerContext* context,
      const broker::v1::CreateOrUpdateSubscriptionGroupRequest* request,
      broker::v1::CreateOrUpdateSubscriptionGroupResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSubscriptionGroup(
      grpc::CallbackServerContext* context,
      const broker::v1::DeleteSubscriptionGroupRequest* request,
      broker::v1::DeleteSubscriptionGroupResponse* response) override;
  grpc::ServerUnaryReactor* GetAllSubscriptionGroups(
      grpc::CallbackServerContext* context,
      const broker::v1::GetAllSubscriptionGroupsRequest* request,
      broker::v1::GetAllSubscriptionGroupsResponse* response) override;
  grpc::ServerUnaryReactor* ListDeadLetters(grpc::CallbackServerContext* context,
                                            const broker::v1::ListDeadLettersRequest* request,
                                            broker::v1::ListDeadLettersResponse* response) override;
  grpc::ServerUnaryReactor* ResendDeadLetters(
      grpc::CallbackServerContext* context, const broker::v1::ResendDeadLettersRequest* request,
      broker::v1::ResendDeadLettersResponse* response) override;

  // POP consumption.
  grpc::ServerUnaryReactor* PopMessage(grpc::CallbackServerContext* context,
                                       const broker::v1::PopMessageRequest* request,
                                       broker::v1::PopMessageResponse* response) override;
  grpc::ServerUnaryReactor* AckMessage(grpc::CallbackServerContext* context,
                                       const broker::v1::AckMessageRequest* request,
                                       broker::v1::AckMessageResponse* response) override;
  grpc::ServerUnaryReactor* ChangeInvisibleTime(
      grpc::CallbackServerContext* context, const broker::v1::ChangeInvisibleTimeRequest* request,
      broker::v1::ChangeInvisibleTimeResponse* response) override;
  grpc::ServerUnaryReactor* ForwardToDeadLetter(
      grpc::CallbackServerContext* context, const broker::v1::ForwardToDeadLetterRequest* request,
      broker::v1::ForwardToDeadLetterResponse* response) override;

 private:
  // The parts, or null (and the call already answered) when not serving or
  // when access control refuses `request`.
  const BrokerServiceParts* Serving(grpc::CallbackServerContext* context,
                                    grpc::ServerUnaryReactor* reactor,
                                    const google::protobuf::Message& request) const;

  BrokerServiceParts parts_;
  std::atomic<bool> serving_{false};
  SendStreams send_streams_;
};

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_GRPC_BROKER_H_
