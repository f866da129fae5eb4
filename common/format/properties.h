// The encoding of a message's properties in a record, "k\1v\2k\1v"
// (RocketMQ's MessageDecoder.messageProperties2String), and the TAGS hash
// code RocketMQ stores in the consume queue. The keys are in property_keys.h.
#ifndef MQ_COMMON_FORMAT_PROPERTIES_H_
#define MQ_COMMON_FORMAT_PROPERTIES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace mq::format {

inline constexpr char kNameValueSeparator = '\x01';
inline constexpr char kPropertySeparator = '\x02';
// Largest encoded properties string (the record's 2-byte length).
inline constexpr int64_t kMaxPropertiesBytes = 32767;

// Appends "key\1value" to `encoded` ('\2' first when not empty). Keys and
// values must not contain either separator, and keys must not be empty
// (INVALID_ARGUMENT otherwise).
absl::Status AppendProperty(absl::string_view key, absl::string_view value, std::string* encoded);

// Encodes any range of pairs whose members convert to absl::string_view (a
// std::map, a google::protobuf::Map, a vector of pairs).
template <typename Pairs>
absl::StatusOr<std::string> EncodeProperties(const Pairs& pairs) {
  std::string encoded;
  for (const auto& pair : pairs) {
    absl::Status status = AppendProperty(pair.first, pair.second, &encoded);
    if (!status.ok()) return status;
  }
  return encoded;
}

// The pairs of an encoded properties string (views into it). A trailing '\2',
// as RocketMQ writes, is accepted. INVALID_ARGUMENT on a pair without '\1'.
absl::StatusOr<std::vector<std::pair<absl::string_view, absl::string_view>>> DecodeProperties(
    absl::string_view encoded);

// The value of `key` in an encoded properties string, without allocating.
absl::optional<absl::string_view> FindProperty(absl::string_view encoded, absl::string_view key);

// RocketMQ's tagsCode: Java's String.hashCode() of the TAGS value (over its
// UTF-16 code units; malformed UTF-8 counts as U+FFFD per byte), as an int64.
int64_t TagsHashCode(absl::string_view tags);

}  // namespace mq::format

#endif  // MQ_COMMON_FORMAT_PROPERTIES_H_
