// Request signatures of the access control: how a client proves it holds a
// user's secret key, in gRPC metadata, and how a server reads the proof back.
// Two formats are accepted:
//  - ours: `authorization: MQ-HMAC-SHA256 Credential=<ak>, Signature=<hex>`
//    and `x-mq-date-time: <unix milliseconds>`; the signature is
//    HMAC-SHA256(secret, StringToSign(...)) over the method, the access key,
//    the time and the resources (topics, groups) the request is about, so a
//    captured signature works for nothing else;
//  - RocketMQ 5's (apache.rocketmq.v2 clients): `authorization: MQv2-HMAC-SHA1
//    Credential=<ak>[/...], SignedHeaders=x-mq-date-time, Signature=<hex>`
//    with `x-mq-date-time: yyyyMMddTHHmmssZ`; the signature is
//    HMAC-SHA1(secret, the date-time string). Hex of either case.
#ifndef MQ_COMMON_ACL_SIGNATURE_H_
#define MQ_COMMON_ACL_SIGNATURE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mq::acl {

inline constexpr absl::string_view kAuthorizationKey = "authorization";
inline constexpr absl::string_view kDateTimeKey = "x-mq-date-time";
inline constexpr absl::string_view kSchemeV1 = "MQ-HMAC-SHA256";
inline constexpr absl::string_view kSchemeV5 = "MQv2-HMAC-SHA1";

// A user's keys. Empty access key: calls are not signed.
struct Credentials {
  std::string access_key;
  std::string secret_key;

  bool empty() const { return access_key.empty(); }
};

// A resource a request is about: "topic:<name>" or "group:<name>".
struct Resource {
  enum class Type { kTopic, kGroup };
  Type type = Type::kTopic;
  std::string name;

  friend bool operator==(const Resource& a, const Resource& b) {
    return a.type == b.type && a.name == b.name;
  }
};

// Lower-case hex of HMAC-SHA256 / HMAC-SHA1 of `data` keyed with `key`
// (OpenSSL's libcrypto).
std::string HmacSha256Hex(absl::string_view key, absl::string_view data);
std::string HmacSha1Hex(absl::string_view key, absl::string_view data);

// What our format signs: the scheme, method ("/mq.broker.v1.Broker/SendMessage"),
// access key, time (unix ms) and resources, one a line.
std::string StringToSign(absl::string_view method, absl::string_view access_key,
                         absl::string_view time, const std::vector<Resource>& resources);

// The two metadata entries (key, value) of a call of `method` about
// `resources`, signed at `now` in our format.
std::vector<std::pair<std::string, std::string>> SignCall(const Credentials& credentials,
                                                          absl::string_view method,
                                                          const std::vector<Resource>& resources,
                                                          absl::Time now);

// 32 random bytes from OpenSSL, as hex.
std::string RandomSecret();

// An `authorization` header, parsed.
struct ParsedAuthorization {
  enum class Scheme { kV1, kV5 };
  Scheme scheme = Scheme::kV1;
  // Before the first '/' of Credential.
  std::string access_key;
  std::string signature_hex;
};

// UNAUTHENTICATED naming what is wrong with `header`.
absl::StatusOr<ParsedAuthorization> ParseAuthorization(absl::string_view header);

// The time in an x-mq-date-time value: unix milliseconds (ours), or the v5
// clients' "20231012T120000Z" / RFC 3339. INVALID_ARGUMENT otherwise.
absl::StatusOr<absl::Time> ParseDateTime(absl::string_view value);

// Whether `expected_hex` (lower case) equals `given_hex` in either case, in
// time independent of where they differ.
bool HexEquals(absl::string_view expected_hex, absl::string_view given_hex);

}  // namespace mq::acl

#endif  // MQ_COMMON_ACL_SIGNATURE_H_
