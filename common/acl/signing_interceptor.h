// The client side of access control, in one place: a gRPC client
// interceptor that signs every call of a channel with a user's credentials
// (common/acl/signature.h), over the resources the method's rule names
// (common/acl/method_rules.h). Channels get it through CreateChannel's
// credentials (common/grpc_options.h).
#ifndef MQ_COMMON_ACL_SIGNING_INTERCEPTOR_H_
#define MQ_COMMON_ACL_SIGNING_INTERCEPTOR_H_

#include <grpcpp/support/client_interceptor.h>

#include <memory>

#include "common/acl/signature.h"
#include "common/clock.h"

namespace mq::acl {

// Signs with `credentials` at `clock`'s time (must outlive the channels).
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> NewSigningInterceptorFactory(
    Credentials credentials, const Clock* clock = Clock::Real());

}  // namespace mq::acl

#endif  // MQ_COMMON_ACL_SIGNING_INTERCEPTOR_H_
