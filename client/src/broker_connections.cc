#include "client/src/broker_connections.h"

#include <algorithm>
#include <utility>

#include "common/grpc_options.h"

namespace mq::client_internal {

ClientTls ChannelTls(const TlsOptions& options) {
  ClientTls tls;
  tls.enabled = options.enabled;
  tls.ca_file = options.ca_file;
  tls.cert_file = options.cert_file;
  tls.key_file = options.key_file;
  tls.verify_server = options.verify_server;
  return tls;
}

std::shared_ptr<grpc::Channel> BrokerConnections::ChannelLocked(const std::string& address) {
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) channel = CreateChannel(address, tls_, credentials_);
  return channel;
}

std::shared_ptr<broker::v1::Broker::Stub> BrokerConnections::BrokerStub(
    const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<broker::v1::Broker::Stub>& stub = broker_stubs_[address];
  if (stub == nullptr) stub = broker::v1::Broker::NewStub(ChannelLocked(address));
  return stub;
}

std::shared_ptr<namesrv::v1::NameServer::Stub> BrokerConnections::NameServerStub(
    const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<namesrv::v1::NameServer::Stub>& stub = namesrv_stubs_[address];
  if (stub == nullptr) stub = namesrv::v1::NameServer::NewStub(ChannelLocked(address));
  return stub;
}

std::shared_ptr<BrokerSendStream> BrokerConnections::SendStream(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::vector<SendStreamSlot>& slots = send_streams_[address];
  slots.resize(kSendStreamsPerBroker);
  SendStreamSlot& slot = slots[next_send_stream_++ % slots.size()];
  if (slot.stream != nullptr && slot.stream->usable()) return slot.stream;
  if (slot.stream != nullptr) {
    // A broker that is down fails every new stream at once: drop the ended
    // ones here too, not only every heartbeat interval.
    if (failed_streams_.size() >= kFailedStreamsKept) DropEndedStreamsLocked();
    failed_streams_.push_back(std::move(slot.stream));
  }
  if (slot.channel == nullptr) {
    slot.channel = CreateDedicatedChannel(address, tls_, credentials_);
    slot.stub = broker::v1::Broker::NewStub(slot.channel);
  }
  slot.stream = BrokerSendStream::Open(*slot.stub, address, coalescing_);
  return slot.stream;
}

size_t BrokerConnections::FailedSendStreams() const {
  absl::MutexLock lock(&mu_);
  return failed_streams_.size();
}

void BrokerConnections::DropEndedStreamsLocked() {
  failed_streams_.erase(
      std::remove_if(failed_streams_.begin(), failed_streams_.end(),
                     [](const std::shared_ptr<BrokerSendStream>& s) { return s->ended(); }),
      failed_streams_.end());
}

std::vector<std::shared_ptr<BrokerSendStream>> BrokerConnections::Forget(
    const std::vector<std::string>& addresses) {
  std::vector<std::shared_ptr<BrokerSendStream>> retired_streams;
  absl::MutexLock lock(&mu_);
  DropEndedStreamsLocked();
  // Only this table still refers to such a channel, so it ends on this thread.
  retired_channels_.erase(
      std::remove_if(retired_channels_.begin(), retired_channels_.end(),
                     [](const std::shared_ptr<grpc::Channel>& c) { return c.use_count() == 1; }),
      retired_channels_.end());
  for (const std::string& address : addresses) {
    auto channel = channels_.find(address);
    if (channel != channels_.end()) {
      retired_channels_.push_back(std::move(channel->second));
      channels_.erase(channel);
    }
    broker_stubs_.erase(address);
    auto slots = send_streams_.find(address);
    if (slots == send_streams_.end()) continue;
    for (SendStreamSlot& slot : slots->second) {
      if (slot.stream != nullptr) retired_streams.push_back(std::move(slot.stream));
      if (slot.channel != nullptr) retired_channels_.push_back(std::move(slot.channel));
    }
    send_streams_.erase(slots);
  }
  return retired_streams;
}

void BrokerConnections::ExpireOverdueSends(absl::Time now) {
  std::vector<std::shared_ptr<BrokerSendStream>> streams;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [address, slots] : send_streams_) {
      for (const SendStreamSlot& slot : slots) {
        if (slot.stream != nullptr) streams.push_back(slot.stream);
      }
    }
  }
  for (const auto& stream : streams) stream->ExpireOverdue(now);
}

std::vector<std::shared_ptr<BrokerSendStream>> BrokerConnections::TakeSendStreams() {
  std::vector<std::shared_ptr<BrokerSendStream>> streams;
  absl::MutexLock lock(&mu_);
  for (auto& [address, slots] : send_streams_) {
    for (SendStreamSlot& slot : slots) {
      if (slot.stream != nullptr) streams.push_back(std::move(slot.stream));
    }
  }
  for (auto& stream : failed_streams_) streams.push_back(std::move(stream));
  failed_streams_.clear();
  return streams;
}

}  // namespace mq::client_internal
