// When the store deletes old commit-log files and when it refuses writes,
// from the disk usage and the clock (RocketMQ's CleanCommitLogService rules).
#ifndef MQ_SERVICES_STORE_RETENTION_POLICY_H_
#define MQ_SERVICES_STORE_RETENTION_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mq::store {

struct RetentionOptions {
  // Commit-log files last modified longer ago than this are deleted (72 h).
  absl::Duration file_reserved_time = absl::Hours(72);
  // Hours of the day (local time zone) when expired files are deleted ("04").
  std::vector<int> delete_hours = {4};
  // Above this used fraction of the disk, expired files are deleted at any hour.
  double disk_max_used_ratio = 0.75;
  // Above this, files are deleted regardless of age (oldest first).
  double disk_clean_forcibly_ratio = 0.85;
  // Above this, writes are refused while reads go on.
  double disk_full_ratio = 0.90;
  // At most this many files are deleted per run (RocketMQ: 10).
  int max_files_per_run = 10;
};

// Parses RocketMQ's deleteWhen: hours separated by ';', e.g. "04" or "04;16".
absl::StatusOr<std::vector<int>> ParseDeleteHours(absl::string_view text);

// What one retention run should do.
struct RetentionDecision {
  // Delete files older than the reserved time.
  bool delete_expired = false;
  // Delete files whatever their age (disk nearly full).
  bool ignore_age = false;
  // Refuse writes until usage drops below the full ratio.
  bool disk_full = false;
  // Why, for the log; empty when nothing is to be done.
  std::string reason;
};

// `used_ratio` is the used fraction (0..1) of the disk holding the commit log;
// `hour` the current hour of the day (0..23).
RetentionDecision DecideRetention(const RetentionOptions& options, double used_ratio, int hour);

// The used fraction of the file system holding `path`, from statvfs, as df
// reports it: used / (used + available to unprivileged users).
absl::StatusOr<double> DiskUsedRatio(const std::string& path);

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_RETENTION_POLICY_H_
