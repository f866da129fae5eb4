#include "services/broker/producer_channels.h"

#include <glog/logging.h>

#include <set>
#include <utility>
#include <vector>

#include "common/server_stream.h"
#include "common/status.h"
#include "services/broker/broker_errors.h"

namespace mq::broker {

using Reactor =
    grpc::ServerBidiReactor<broker::v1::ProducerChannelRequest, broker::v1::ProducerChannelCommand>;

// One ProducerChannel call. Deletes itself when gRPC is done with it, after
// removing itself from the registry.
class ProducerChannels::Channel
    : public QueuedServerBidiReactor<broker::v1::ProducerChannelRequest,
                                     broker::v1::ProducerChannelCommand> {
 public:
  Channel(ProducerChannels* owner, uint64_t id) : owner_(owner), id_(id) { StartRead(&request_); }

  uint64_t id() const { return id_; }

  std::string client_id() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return client_id_;
  }
  bool Serves(const std::string& group) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return groups_.count(group) > 0;
  }
  bool announced() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return !client_id_.empty();
  }

  void OnReadDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    if (!ok) {
      // The producer half-closed or went away.
      End(grpc::Status::OK);
      return;
    }
    bool first = false;
    {
      absl::MutexLock lock(&mu_);
      if (request_.client_id().empty()) {
        FinishLocked(
            ToGrpcStatus(IllegalMessage("a producer channel must name its client id"), nullptr));
        return;
      }
      first = client_id_.empty();
      client_id_ = request_.client_id();
      groups_ = std::set<std::string>(request_.producer_groups().begin(),
                                      request_.producer_groups().end());
    }
    if (first) owner_->Announced(this);
    StartRead(&request_);
  }

  void OnDone() override {
    owner_->Ended(this);
    delete this;
  }

 private:
  ProducerChannels* const owner_;
  const uint64_t id_;
  // Written by gRPC between StartRead and OnReadDone only.
  broker::v1::ProducerChannelRequest request_;

  std::string client_id_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> groups_ ABSL_GUARDED_BY(mu_);
};

namespace {

// A reactor that refuses the call.
class RefusedChannel : public grpc::ServerBidiReactor<broker::v1::ProducerChannelRequest,
                                                      broker::v1::ProducerChannelCommand> {
 public:
  explicit RefusedChannel(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

ProducerChannels::~ProducerChannels() {
  Close();
  absl::MutexLock lock(&mu_);
  auto all_ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return channels_.empty(); };
  mu_.Await(absl::Condition(&all_ended));
}

Reactor* ProducerChannels::Refuse(const absl::Status& status) {
  return new RefusedChannel(ToGrpcStatus(status, nullptr));
}

Reactor* ProducerChannels::Open() {
  absl::MutexLock lock(&mu_);
  if (closed_)
    return Refuse(ServiceNotAvailable("the broker is not serving (starting or stopping)"));
  uint64_t id = next_id_++;
  auto* channel = new Channel(this, id);
  channels_[id] = channel;
  return channel;
}

void ProducerChannels::Announced(Channel* channel) {
  VLOG(1) << "producer channel open from " << channel->client_id();
}

void ProducerChannels::Ended(Channel* channel) {
  absl::MutexLock lock(&mu_);
  channels_.erase(channel->id());
}

bool ProducerChannels::SendCheck(const broker::v1::TransactionCheck& check) {
  absl::MutexLock lock(&mu_);
  std::vector<Channel*> members;
  for (const auto& [id, channel] : channels_) {
    if (channel->Serves(check.producer_group())) members.push_back(channel);
  }
  if (members.empty()) return false;
  size_t first = next_pick_++ % members.size();
  broker::v1::ProducerChannelCommand command;
  *command.mutable_check() = check;
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[(first + i) % members.size()]->Write(command)) return true;
  }
  return false;
}

void ProducerChannels::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (const auto& [id, channel] : channels_) channel->End(grpc::Status::OK);
}

int ProducerChannels::open_count() const {
  absl::MutexLock lock(&mu_);
  int count = 0;
  for (const auto& [id, channel] : channels_) count += channel->announced() ? 1 : 0;
  return count;
}

}  // namespace mq::broker
