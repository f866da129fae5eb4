#include "client/src/local_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

namespace mq::client_internal {

std::string LocalIpv4Address() {
  std::string result = "127.0.0.1";
  struct ifaddrs* interfaces = nullptr;
  if (getifaddrs(&interfaces) != 0) return result;
  for (struct ifaddrs* it = interfaces; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    if ((it->ifa_flags & IFF_UP) == 0 || (it->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET_ADDRSTRLEN] = {};
    const auto* address = reinterpret_cast<const struct sockaddr_in*>(it->ifa_addr);
    if (inet_ntop(AF_INET, &address->sin_addr, text, sizeof(text)) != nullptr) {
      result = text;
      break;
    }
  }
  freeifaddrs(interfaces);
  return result;
}

absl::optional<uint32_t> ParseIpv4(absl::string_view address) {
  struct in_addr parsed;
  if (inet_pton(AF_INET, std::string(address).c_str(), &parsed) != 1) return absl::nullopt;
  return ntohl(parsed.s_addr);
}

}  // namespace mq::client_internal
