#include "services/broker/subscription_filter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/format/record_format.h"
#include "common/status.h"

namespace mq::broker {

absl::StatusOr<std::vector<int64_t>> ParseSubscription(absl::string_view expression) {
  std::vector<int64_t> codes;
  absl::string_view trimmed = absl::StripAsciiWhitespace(expression);
  if (trimmed.empty() || trimmed == "*") return codes;
  for (absl::string_view tag : absl::StrSplit(trimmed, "||")) {
    tag = absl::StripAsciiWhitespace(tag);
    if (!tag.empty()) codes.push_back(format::TagsHashCode(tag));
  }
  if (codes.empty()) {
    return WithResponseCode(
        absl::InvalidArgumentError(absl::StrCat("subscription \"", expression, "\" names no tag")),
        common::v1::SUBSCRIPTION_PARSE_FAILED);
  }
  std::sort(codes.begin(), codes.end());
  codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
  return codes;
}

bool MatchesTagCodes(const std::vector<int64_t>& codes, int64_t tag_code) {
  return codes.empty() || std::binary_search(codes.begin(), codes.end(), tag_code);
}

}  // namespace mq::broker
