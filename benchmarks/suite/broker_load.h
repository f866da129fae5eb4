// The broker-side loads of the benchmark suite, over the Broker gRPC API with
// the callback stubs (as a client library would drive it):
//   SendLoad    single-message or batched sends, one request per slot;
//   Fill        stores a number of messages with batches, as fast as it can;
//   CatchUp     reads a filled topic back from offset 0 with pulls;
//   EndToEnd    paced sends while long-polling consumers time each message
//               from its send to its arrival.
// Every body starts with the send time (8 bytes of the monotonic clock), read
// back by EndToEnd.
#ifndef MQ_BENCHMARKS_SUITE_BROKER_LOAD_H_
#define MQ_BENCHMARKS_SUITE_BROKER_LOAD_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "benchmarks/suite/load_generator.h"
#include "common/acl/signature.h"
#include "common/tls.h"
#include "proto/broker.grpc.pb.h"

namespace mq::bench {

// Stubs on `channels` separate connections to one broker, dialed as `tls`
// says; call i uses stub i % channels.
class BrokerStubs {
 public:
  // Calls are signed with `credentials` (access control; empty: unsigned).
  BrokerStubs(const std::string& address, int channels, const ClientTls& tls = {},
              const acl::Credentials& credentials = {});
  broker::v1::Broker::Stub* For(int i) const { return stubs_[i % stubs_.size()].get(); }
  int size() const { return static_cast<int>(stubs_.size()); }

 private:
  std::vector<std::unique_ptr<broker::v1::Broker::Stub>> stubs_;
};

absl::Status CreateTopic(const BrokerStubs& stubs, const std::string& topic, int queues);

// Sends of `batch` messages of `body_bytes` each (batch 1: SendMessage, else
// SendBatch to queue slot % queues).
class SendLoad {
 public:
  SendLoad(const BrokerStubs* stubs, std::string topic, int queues, int slots, int batch,
           int body_bytes);
  void Start(int slot, std::function<void(bool ok)> done);
  StartCall AsStartCall() {
    return [this](int slot, std::function<void(bool)> done) { Start(slot, std::move(done)); };
  }
  // Calls answered SEND_OK so far.
  int64_t succeeded() const { return succeeded_.load(); }

 private:
  struct Slot {
    std::unique_ptr<grpc::ClientContext> context;
    broker::v1::SendMessageRequest single;
    broker::v1::SendMessageResponse single_response;
    broker::v1::SendBatchRequest batch;
    broker::v1::SendBatchResponse batch_response;
  };
  void Finish(bool ok, const std::function<void(bool ok)>& done);

  const BrokerStubs* stubs_;
  const int batch_;
  std::vector<Slot> slots_;
  std::atomic<int64_t> succeeded_{0};
};

// Stores `count` messages of `body_bytes` in `topic` (queues 0..queues-1,
// evenly), batches of 32 with 8 in flight.
absl::Status Fill(const BrokerStubs& stubs, const std::string& topic, int queues, int64_t count,
                  int body_bytes);

// Waits until the queues of `topic` hold `stored` messages (dispatched), then
// pulls every queue from offset 0 to its end with `pull_batch` messages per
// pull and `chains_per_queue` pulls in flight per queue (each chain reads its
// own part of the queue), asking for stored records (as the C++ client does)
// or message fields. Each answer is turned into the client's MessageExt
// values. Latencies are per pull.
LoadResult CatchUp(const BrokerStubs& stubs, const std::string& topic, int queues, int64_t stored,
                   int pull_batch, int chains_per_queue, bool stored_records);

// How the POP rows' receivers run.
struct PopReceiverOptions {
  // Threads, each popping (every queue, 32 per call) in turn.
  int receivers = 4;
  // Acks each receiver sends without waiting for their answer, as the
  // official clients do.
  int acks_in_flight = 4;
  // Pops answered with stored records (as the C++ SimpleConsumer asks) or
  // with message fields; either way turned into the client's MessageExt.
  bool stored_records = true;
};

// POP consumption of the `stored` messages of a filled `topic` by `group`
// (invisible 60 s), until the group has received `stored`. Latencies are per
// pop.
LoadResult PopCatchUp(const BrokerStubs& stubs, const std::string& topic, const std::string& group,
                      int64_t stored, const PopReceiverOptions& options);

// Redelivery after the invisible time: `group` pops `in_flight` messages of a
// filled `topic` without acking them (invisible `invisible`), then the
// receivers pop (and ack) until every one came again. Latencies: per
// message, from the end of its invisible time to its second delivery (p99 is
// the target); the rate is from the first end to the last
// redelivery.
LoadResult PopRedelivery(const BrokerStubs& stubs, const std::string& topic,
                         const std::string& group, int64_t in_flight,
                         const PopReceiverOptions& options, absl::Duration invisible);

struct EndToEndResult {
  LoadResult send;      // the paced sends
  LoadResult delivery;  // send start to arrival at the consumer, per message
};

// Sends single messages at `rate` per second for `duration` while one
// long-polling pull chain per queue consumes them.
EndToEndResult EndToEnd(const BrokerStubs& stubs, const std::string& topic, int queues, double rate,
                        absl::Duration duration, int body_bytes);

}  // namespace mq::bench

#endif  // MQ_BENCHMARKS_SUITE_BROKER_LOAD_H_
