// The connections of a client instance: a long-lived channel and stub per
// broker and name server address, and kSendStreamsPerBroker send streams per
// broker, each on a connection of its own (RocketMQ's remoting client).
#ifndef MQ_CLIENT_SRC_BROKER_CONNECTIONS_H_
#define MQ_CLIENT_SRC_BROKER_CONNECTIONS_H_

#include <grpcpp/channel.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/src/broker_send_stream.h"
#include "common/acl/signature.h"
#include "common/tls.h"
#include "mq/client_options.h"
#include "proto/broker.grpc.pb.h"
#include "proto/namesrv.grpc.pb.h"

namespace mq::client_internal {

// Send streams per broker: each carries one write and one read at a time, so
// more than one keeps the broker busy. Each has a connection of its own:
// streams sharing one HTTP/2 connection share its socket and its transport
// lock, and cost about twice the context switches per send on both ends
// (benchmarks/HISTORY.md, issue 9).
inline constexpr size_t kSendStreamsPerBroker = 4;
// Failed send streams kept before the ended ones are dropped on the spot.
inline constexpr size_t kFailedStreamsKept = 16;

// Thread-safe. Must not be destroyed on a gRPC callback thread (it owns the
// channels): the last reference to a channel must not go away on one
// (grpc/grpc#37858), so channels of forgotten brokers are kept until no call
// holds them and dropped by Forget().
// The channel settings of a client's TLS options.
ClientTls ChannelTls(const TlsOptions& options);

class BrokerConnections {
 public:
  // Channels dial as `tls` says (valid: ClientTls::Validate); every call on
  // them is signed with `credentials` (empty: none); `coalescing`: how the
  // send streams coalesce sends.
  explicit BrokerConnections(ClientTls tls = {}, acl::Credentials credentials = {},
                             SendCoalescing coalescing = SendCoalescing())
      : tls_(std::move(tls)), credentials_(std::move(credentials)), coalescing_(coalescing) {}

  const ClientTls& tls() const { return tls_; }

  // A stub on the cached long-lived channel to `address`.
  std::shared_ptr<broker::v1::Broker::Stub> BrokerStub(const std::string& address)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<namesrv::v1::NameServer::Stub> NameServerStub(const std::string& address)
      ABSL_LOCKS_EXCLUDED(mu_);

  // One of the send streams to `address`, in turn, opened on first use and
  // again after the previous one on its slot failed.
  std::shared_ptr<BrokerSendStream> SendStream(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);
  // Failed send streams not dropped yet.
  size_t FailedSendStreams() const ABSL_LOCKS_EXCLUDED(mu_);

  // Drops the channels, stubs and send streams of `addresses` (the streams
  // are returned, to be closed off the lock), failed send streams whose call
  // has ended, and retired channels no call holds any more.
  std::vector<std::shared_ptr<BrokerSendStream>> Forget(const std::vector<std::string>& addresses)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Expires every send past its deadline on every send stream.
  void ExpireOverdueSends(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // Takes every send stream, failed ones included, to be closed at shutdown.
  std::vector<std::shared_ptr<BrokerSendStream>> TakeSendStreams() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One send stream and the connection it runs on.
  struct SendStreamSlot {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<broker::v1::Broker::Stub> stub;
    // Null until first used.
    std::shared_ptr<BrokerSendStream> stream;
  };

  std::shared_ptr<grpc::Channel> ChannelLocked(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops failed send streams whose call has ended; safe on any thread, as
  // their channels are still held here.
  void DropEndedStreamsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClientTls tls_;
  const acl::Credentials credentials_;
  const SendCoalescing coalescing_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<grpc::Channel>> retired_channels_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<broker::v1::Broker::Stub>> broker_stubs_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<namesrv::v1::NameServer::Stub>> namesrv_stubs_
      ABSL_GUARDED_BY(mu_);
  // kSendStreamsPerBroker slots per address, used in turn.
  absl::flat_hash_map<std::string, std::vector<SendStreamSlot>> send_streams_ ABSL_GUARDED_BY(mu_);
  size_t next_send_stream_ ABSL_GUARDED_BY(mu_) = 0;
  // Failed send streams, kept until their call has ended (see
  // BrokerSendStream::Open) and then dropped by SendStream() past
  // kFailedStreamsKept, by Forget() or at shutdown.
  std::vector<std::shared_ptr<BrokerSendStream>> failed_streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_BROKER_CONNECTIONS_H_
