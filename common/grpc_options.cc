#include "common/grpc_options.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/credentials.h>

#include <utility>
#include <vector>

#include "common/acl/signing_interceptor.h"

namespace mq {

void ConfigureServerBuilder(grpc::ServerBuilder* builder) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  builder->SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder->SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  // A connection that has not finished its HTTP/2 preface and settings by
  // then is closed (gRPC's default is 120 s): half-open connections cannot
  // pile up.
  builder->AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                              static_cast<int>(absl::ToInt64Milliseconds(kServerHandshakeTimeout)));
}

grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  // Notice a dead peer on an idle long-lived channel within about 30 s.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Reconnect to a peer that is back within a second: gRPC's defaults (1 s
  // growing 1.6x up to 120 s) left a restarted store or broker unused for
  // 4-18 s. Attempts start 100 ms apart and grow to kMaxReconnectBackoff
  // (gRPC adds up to 20 % jitter).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(kMaxReconnectBackoff)));
  // How long one connection attempt may take (gRPC: 20 s): a peer whose
  // host is gone (SYN unanswered) is given up on and retried sooner.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
  return args;
}

namespace {

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address,
                                          const grpc::ChannelArguments& args, const ClientTls& tls,
                                          const acl::Credentials& signer) {
  if (signer.empty()) return grpc::CreateCustomChannel(address, ChannelCredentials(tls), args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(acl::NewSigningInterceptorFactory(signer));
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, ChannelCredentials(tls),
                                                                 args, std::move(interceptors));
}

}  // namespace

std::shared_ptr<grpc::Channel> CreateChannel(const std::string& address, const ClientTls& tls,
                                             const acl::Credentials& credentials) {
  return NewChannel(address, DefaultChannelArguments(), tls, credentials);
}

std::shared_ptr<grpc::Channel> CreateDedicatedChannel(const std::string& address,
                                                      const ClientTls& tls,
                                                      const acl::Credentials& credentials) {
  grpc::ChannelArguments args = DefaultChannelArguments();
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return NewChannel(address, args, tls, credentials);
}

}  // namespace mq
