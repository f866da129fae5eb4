#include "common/rpc.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace mq {

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

std::string BrokerLabel(absl::string_view address) {
  return absl::StrCat("broker ", address, ": ");
}

std::string BrokerLabel(absl::string_view broker_name, absl::string_view address) {
  return absl::StrCat("broker ", broker_name, " (", address, "): ");
}

}  // namespace mq
