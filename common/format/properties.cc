#include "common/format/properties.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mq::format {

absl::Status AppendProperty(absl::string_view key, absl::string_view value, std::string* encoded) {
  constexpr absl::string_view kSeparators("\x01\x02", 2);
  if (key.empty()) return absl::InvalidArgumentError("property with an empty name");
  if (key.find_first_of(kSeparators) != absl::string_view::npos ||
      value.find_first_of(kSeparators) != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("property \"", absl::CHexEscape(key),
                     "\" contains a reserved separator character (\\x01 or \\x02)"));
  }
  if (!encoded->empty()) encoded->push_back(kPropertySeparator);
  absl::StrAppend(encoded, key, absl::string_view(&kNameValueSeparator, 1), value);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<absl::string_view, absl::string_view>>> DecodeProperties(
    absl::string_view encoded) {
  std::vector<std::pair<absl::string_view, absl::string_view>> pairs;
  for (absl::string_view pair : absl::StrSplit(encoded, kPropertySeparator, absl::SkipEmpty())) {
    size_t separator = pair.find(kNameValueSeparator);
    if (separator == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("property without a value separator: \"", absl::CHexEscape(pair), "\""));
    }
    pairs.emplace_back(pair.substr(0, separator), pair.substr(separator + 1));
  }
  return pairs;
}

absl::optional<absl::string_view> FindProperty(absl::string_view encoded, absl::string_view key) {
  while (!encoded.empty()) {
    size_t end = encoded.find(kPropertySeparator);
    absl::string_view pair = encoded.substr(0, end);
    if (pair.size() > key.size() && pair[key.size()] == kNameValueSeparator &&
        pair.substr(0, key.size()) == key) {
      return pair.substr(key.size() + 1);
    }
    if (end == absl::string_view::npos) break;
    encoded.remove_prefix(end + 1);
  }
  return absl::nullopt;
}

int64_t TagsHashCode(absl::string_view tags) {
  // Java hashes UTF-16 code units, so decode UTF-8 first.
  int32_t hash = 0;
  auto add = [&hash](uint32_t unit) {
    hash = static_cast<int32_t>(static_cast<uint32_t>(hash) * 31u + unit);
  };
  const auto* s = reinterpret_cast<const unsigned char*>(tags.data());
  const size_t n = tags.size();
  size_t i = 0;
  while (i < n) {
    uint32_t c = s[i];
    int extra = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      add(c);
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, c &= 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, c &= 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, c &= 0x07, min = 0x10000;
    } else {
      add(0xFFFD);
      ++i;
      continue;
    }
    bool valid = i + extra < n;
    for (int k = 1; valid && k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80)
        valid = false;
      else
        c = (c << 6) | (s[i + k] & 0x3F);
    }
    if (!valid || c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      add(0xFFFD);
      ++i;
      continue;
    }
    if (c >= 0x10000) {
      c -= 0x10000;
      add(0xD800 + (c >> 10));
      add(0xDC00 + (c & 0x3FF));
    } else {
      add(c);
    }
    i += extra + 1;
  }
  return hash;
}

}  // namespace mq::format
