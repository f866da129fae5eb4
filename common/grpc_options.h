// gRPC settings every server and client of the system shares.
#ifndef MQ_COMMON_GRPC_OPTIONS_H_
#define MQ_COMMON_GRPC_OPTIONS_H_

#include <grpcpp/channel.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/acl/signature.h"
#include "common/tls.h"
#include "common/units.h"

namespace mq {

// Largest gRPC message either side accepts: room for a 4 MiB body (the default
// max message size) several times over, plus headers, in sends, batches and pulls.
inline constexpr int kMaxGrpcMessageBytes = 64_MiB;

// Longest wait between attempts to reconnect to a peer that went away, so
// traffic resumes within about a second of its return.
inline constexpr absl::Duration kMaxReconnectBackoff = absl::Milliseconds(500);

// A server closes a connection that has not completed its handshake by then.
inline constexpr absl::Duration kServerHandshakeTimeout = absl::Seconds(5);

// Turns on gRPC server reflection and the standard health service
// (grpc.health.v1.Health) for every server built afterwards, and raises the
// message size limits on `builder`.
void ConfigureServerBuilder(grpc::ServerBuilder* builder);

// Channel arguments with the raised message size limits and keepalive.
grpc::ChannelArguments DefaultChannelArguments();

// A channel to "host:port" with DefaultChannelArguments(): plaintext, or TLS
// as `tls` says (valid: ClientTls::Validate); every call signed with
// `credentials` (access control, common/acl/signing_interceptor.h), or
// unsigned when they are empty. TLS and signing are independent.
std::shared_ptr<grpc::Channel> CreateChannel(const std::string& address, const ClientTls& tls = {},
                                             const acl::Credentials& credentials = {});

// CreateChannel() with a connection of its own: channels to the same address
// made by CreateChannel() share one connection (gRPC's global subchannel
// pool); this one is not shared.
std::shared_ptr<grpc::Channel> CreateDedicatedChannel(const std::string& address,
                                                      const ClientTls& tls = {},
                                                      const acl::Credentials& credentials = {});

}  // namespace mq

#endif  // MQ_COMMON_GRPC_OPTIONS_H_
