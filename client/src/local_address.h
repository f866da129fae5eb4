// The address this host is known by, for client ids and message ids.
#ifndef MQ_CLIENT_SRC_LOCAL_ADDRESS_H_
#define MQ_CLIENT_SRC_LOCAL_ADDRESS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace mq::client_internal {

// The first non-loopback IPv4 address of an interface that is up, in dotted
// form; "127.0.0.1" when there is none.
std::string LocalIpv4Address();

// "a.b.c.d" as a host-order integer (a in the top byte); nullopt if malformed.
absl::optional<uint32_t> ParseIpv4(absl::string_view address);

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_LOCAL_ADDRESS_H_
