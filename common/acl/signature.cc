#include "common/acl/signature.h"

#include <glog/logging.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mq::acl {
namespace {

std::string Hex(const unsigned char* bytes, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * len);
  for (size_t i = 0; i < len; ++i) {
    hex.push_back(kHex[bytes[i] >> 4]);
    hex.push_back(kHex[bytes[i] & 0xf]);
  }
  return hex;
}

std::string Hmac(const EVP_MD* md, absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return Hex(out, len);
}

}  // namespace

std::string RandomSecret() {
  unsigned char bytes[32];
  CHECK_EQ(RAND_bytes(bytes, sizeof(bytes)), 1) << "OpenSSL has no randomness";
  return Hex(bytes, sizeof(bytes));
}

std::string HmacSha256Hex(absl::string_view key, absl::string_view data) {
  return Hmac(EVP_sha256(), key, data);
}

std::string HmacSha1Hex(absl::string_view key, absl::string_view data) {
  return Hmac(EVP_sha1(), key, data);
}

std::string StringToSign(absl::string_view method, absl::string_view access_key,
                         absl::string_view time, const std::vector<Resource>& resources) {
  std::string out = absl::StrCat(kSchemeV1, "\n", method, "\n", access_key, "\n", time);
  for (const Resource& r : resources) {
    absl::StrAppend(&out, "\n", r.type == Resource::Type::kTopic ? "topic:" : "group:", r.name);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> SignCall(const Credentials& credentials,
                                                          absl::string_view method,
                                                          const std::vector<Resource>& resources,
                                                          absl::Time now) {
  const std::string time = absl::StrCat(absl::ToUnixMillis(now));
  const std::string signature = HmacSha256Hex(
      credentials.secret_key, StringToSign(method, credentials.access_key, time, resources));
  return {
      {std::string(kAuthorizationKey),
       absl::StrCat(kSchemeV1, " Credential=", credentials.access_key, ", Signature=", signature)},
      {std::string(kDateTimeKey), time}};
}

absl::StatusOr<ParsedAuthorization> ParseAuthorization(absl::string_view header) {
  ParsedAuthorization parsed;
  header = absl::StripAsciiWhitespace(header);
  if (absl::ConsumePrefix(&header, kSchemeV1)) {
    parsed.scheme = ParsedAuthorization::Scheme::kV1;
  } else if (absl::ConsumePrefix(&header, kSchemeV5)) {
    parsed.scheme = ParsedAuthorization::Scheme::kV5;
  } else {
    return absl::UnauthenticatedError(absl::StrCat("the authorization header's scheme is neither ",
                                                   kSchemeV1, " nor ", kSchemeV5));
  }
  for (absl::string_view part : absl::StrSplit(header, ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, "Credential=")) {
      parsed.access_key = std::string(part.substr(0, part.find('/')));
    } else if (absl::ConsumePrefix(&part, "Signature=")) {
      parsed.signature_hex = std::string(part);
    }
  }
  if (parsed.access_key.empty() || parsed.signature_hex.empty()) {
    return absl::UnauthenticatedError("the authorization header lacks its Credential or Signature");
  }
  return parsed;
}

absl::StatusOr<absl::Time> ParseDateTime(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  int64_t millis = 0;
  if (absl::SimpleAtoi(value, &millis)) return absl::FromUnixMillis(millis);
  std::string text(value);
  // yyyyMMddTHHmmssZ, the v5 clients' form: %Y would take all eight digits.
  if (text.size() == 16 && text[8] == 'T' && text[15] == 'Z') {
    text = absl::StrCat(text.substr(0, 4), "-", text.substr(4, 2), "-", text.substr(6, 2), "T",
                        text.substr(9, 2), ":", text.substr(11, 2), ":", text.substr(13, 2), "Z");
  }
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return time;
  return absl::InvalidArgumentError(
      "x-mq-date-time is neither unix milliseconds, "
      "yyyyMMddTHHmmssZ nor RFC 3339");
}

bool HexEquals(absl::string_view expected_hex, absl::string_view given_hex) {
  if (expected_hex.size() != given_hex.size()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < expected_hex.size(); ++i) {
    diff |= static_cast<unsigned char>(expected_hex[i]) ^
            static_cast<unsigned char>(absl::ascii_tolower(given_hex[i]));
  }
  return diff == 0;
}

}  // namespace mq::acl
