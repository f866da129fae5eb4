#include "services/store/retention_policy.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mq::store {

absl::StatusOr<std::vector<int>> ParseDeleteHours(absl::string_view text) {
  std::vector<int> hours;
  for (absl::string_view part : absl::StrSplit(text, ';', absl::SkipWhitespace())) {
    int hour = -1;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &hour) || hour < 0 || hour > 23) {
      return absl::InvalidArgumentError(
          absl::StrCat("delete hour \"", part, "\" in \"", text, "\" is not an hour 0..23"));
    }
    hours.push_back(hour);
  }
  if (hours.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no delete hour in \"", text, "\""));
  }
  return hours;
}

RetentionDecision DecideRetention(const RetentionOptions& options, double used_ratio, int hour) {
  RetentionDecision decision;
  std::string usage = absl::StrFormat("disk %.1f%% used", used_ratio * 100);
  if (used_ratio > options.disk_full_ratio) {
    decision.disk_full = true;
    decision.delete_expired = true;
    decision.ignore_age = true;
    decision.reason = absl::StrFormat("%s, above %.0f%%: writes refused, deleting oldest files",
                                      usage, options.disk_full_ratio * 100);
    return decision;
  }
  if (used_ratio > options.disk_clean_forcibly_ratio) {
    decision.delete_expired = true;
    decision.ignore_age = true;
    decision.reason = absl::StrFormat("%s, above %.0f%%: deleting oldest files regardless of age",
                                      usage, options.disk_clean_forcibly_ratio * 100);
    return decision;
  }
  if (used_ratio > options.disk_max_used_ratio) {
    decision.delete_expired = true;
    decision.reason = absl::StrFormat("%s, above %.0f%%: deleting expired files", usage,
                                      options.disk_max_used_ratio * 100);
    return decision;
  }
  if (std::find(options.delete_hours.begin(), options.delete_hours.end(), hour) !=
      options.delete_hours.end()) {
    decision.delete_expired = true;
    decision.reason = absl::StrCat("delete hour ", hour, ": deleting expired files");
  }
  return decision;
}

absl::StatusOr<double> DiskUsedRatio(const std::string& path) {
  struct statvfs stats;
  if (statvfs(path.c_str(), &stats) != 0) {
    return absl::InternalError(absl::StrCat("statvfs ", path, ": ", std::strerror(errno)));
  }
  // As df computes Use%: blocks reserved for root (and, on shared volumes,
  // space that is neither used here nor available) count for neither side.
  double used = static_cast<double>(stats.f_blocks - stats.f_bfree) * stats.f_frsize;
  double available = static_cast<double>(stats.f_bavail) * stats.f_frsize;
  if (used + available <= 0) return 0.0;
  return std::clamp(used / (used + available), 0.0, 1.0);
}

}  // namespace mq::store
