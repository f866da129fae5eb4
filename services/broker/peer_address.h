// The producer's address as the store records it (born host): gRPC names a
// peer "ipv4:10.0.0.1:5000" or "ipv6:[::1]:5000" (percent-encoded in some
// versions); the commit log holds an IPv4 address and a port.
#ifndef MQ_SERVICES_BROKER_PEER_ADDRESS_H_
#define MQ_SERVICES_BROKER_PEER_ADDRESS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace mq::broker {

// "a.b.c.d:port" for an IPv4 peer, an IPv4-mapped IPv6 peer, or the IPv6
// loopback (as 127.0.0.1); "0.0.0.0:port" for any other IPv6 peer, and
// "0.0.0.0:0" for what is not an IP peer at all (a Unix socket).
std::string PeerToHostPort(absl::string_view peer);

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_PEER_ADDRESS_H_
