#include "services/broker/peer_address.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/format/record_format.h"

namespace mq::broker {

namespace {

constexpr absl::string_view kUnknownHost = "0.0.0.0";

}  // namespace

std::string PeerToHostPort(absl::string_view peer) {
  if (absl::ConsumePrefix(&peer, "ipv4:")) {
    std::string host_port(peer);
    if (format::ParseHostAddress(host_port).ok()) return host_port;
    return absl::StrCat(kUnknownHost, ":0");
  }
  if (!absl::ConsumePrefix(&peer, "ipv6:")) return absl::StrCat(kUnknownHost, ":0");
  std::string decoded = absl::StrReplaceAll(
      peer, {{"%5B", "["}, {"%5D", "]"}, {"%3A", ":"}, {"%5b", "["}, {"%5d", "]"}, {"%3a", ":"}});
  size_t close = decoded.rfind(']');
  int port = 0;
  if (decoded.empty() || decoded[0] != '[' || close == std::string::npos ||
      close + 1 >= decoded.size() || decoded[close + 1] != ':' ||
      !absl::SimpleAtoi(absl::string_view(decoded).substr(close + 2), &port)) {
    return absl::StrCat(kUnknownHost, ":0");
  }
  absl::string_view ip = absl::string_view(decoded).substr(1, close - 1);
  if (ip == "::1") return absl::StrCat("127.0.0.1:", port);
  absl::string_view mapped = ip;
  if (absl::ConsumePrefix(&mapped, "::ffff:") &&
      format::ParseHostAddress(absl::StrCat(mapped, ":", port)).ok()) {
    return absl::StrCat(mapped, ":", port);
  }
  return absl::StrCat(kUnknownHost, ":", port);
}

}  // namespace mq::broker
