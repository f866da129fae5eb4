#include "common/rpc.h"

#include "absl/time/clock.h"

namespace mq {

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace mq
