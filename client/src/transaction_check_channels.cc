#include "client/src/transaction_check_channels.h"

#include <glog/logging.h>
#include <grpcpp/grpcpp.h>

#include <utility>

namespace mq::client_internal {

// One ProducerChannel call. Owned by the map; gRPC is done with it once
// ended() is true.
class TransactionCheckChannels::Channel
    : public grpc::ClientBidiReactor<broker::v1::ProducerChannelRequest,
                                     broker::v1::ProducerChannelCommand> {
 public:
  Channel(std::string address, const CheckHandler* handler,
          std::shared_ptr<broker::v1::Broker::Stub> stub, broker::v1::ProducerChannelRequest hello)
      : address_(std::move(address)),
        handler_(handler),
        stub_(std::move(stub)),
        hello_(std::move(hello)) {}

  void Open() {
    stub_->async()->ProducerChannel(&context_, this);
    StartWrite(&hello_);
    StartRead(&command_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  bool ended() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return ended_;
  }

  void WaitEnded() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&ended_));
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows.
    if (command_.has_check()) (*handler_)(address_, std::move(*command_.mutable_check()));
    command_.Clear();
    StartRead(&command_);
  }

  void OnDone(const grpc::Status& status) override ABSL_LOCKS_EXCLUDED(mu_) {
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      VLOG(1) << "transaction check channel to " << address_
              << " ended: " << status.error_message();
    }
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }

 private:
  const std::string address_;
  const CheckHandler* const handler_;
  const std::shared_ptr<broker::v1::Broker::Stub> stub_;
  const broker::v1::ProducerChannelRequest hello_;
  grpc::ClientContext context_;
  // Written by gRPC between StartRead and OnReadDone only.
  broker::v1::ProducerChannelCommand command_;

  mutable absl::Mutex mu_;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

TransactionCheckChannels::TransactionCheckChannels(std::string client_id, std::string group,
                                                   CheckHandler handler)
    : client_id_(std::move(client_id)), group_(std::move(group)), handler_(std::move(handler)) {}

TransactionCheckChannels::~TransactionCheckChannels() { Close(); }

void TransactionCheckChannels::Refresh(BrokerConnections& connections,
                                       const std::vector<std::string>& addresses) {
  std::vector<std::shared_ptr<Channel>> dropped;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    std::map<std::string, std::shared_ptr<Channel>> kept;
    for (const std::string& address : addresses) {
      auto it = channels_.find(address);
      if (it != channels_.end() && !it->second->ended()) {
        kept[address] = std::move(it->second);
        channels_.erase(it);
        continue;
      }
      broker::v1::ProducerChannelRequest hello;
      hello.set_client_id(client_id_);
      hello.add_producer_groups(group_);
      auto channel = std::make_shared<Channel>(address, &handler_, connections.BrokerStub(address),
                                               std::move(hello));
      channel->Open();
      kept[address] = std::move(channel);
    }
    for (auto& [address, channel] : channels_) dropped.push_back(std::move(channel));
    channels_ = std::move(kept);
  }
  for (const auto& channel : dropped) {
    channel->Cancel();
    channel->WaitEnded();
  }
}

void TransactionCheckChannels::Close() {
  std::map<std::string, std::shared_ptr<Channel>> channels;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    channels.swap(channels_);
  }
  for (const auto& [address, channel] : channels) channel->Cancel();
  for (const auto& [address, channel] : channels) channel->WaitEnded();
}

}  // namespace mq::client_internal
