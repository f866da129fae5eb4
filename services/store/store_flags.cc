#include "services/store/store_flags.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/shared_flags.h"
#include "common/units.h"

using mq::operator""_MiB;
using mq::operator""_GiB;

ABSL_FLAG(std::string, data_dir, "data/store",
          "Directory of the store's files (commit log, queues, index, metadata).");
ABSL_FLAG(int64_t, commit_log_file_size, 1_GiB,
          "Bytes per commit-log file (RocketMQ: 1 GiB). Small values suit tests.");
ABSL_FLAG(std::string, flush_disk_type, "ASYNC_FLUSH",
          "ASYNC_FLUSH: flush in the background (every 500 ms); SYNC_FLUSH: an append "
          "returns once its bytes are on disk (group commit).");
ABSL_FLAG(int64_t, commit_log_prefault_bytes, 16_MiB,
          "Bytes of commit log kept mapped ahead of the write position, so appends do not "
          "fault pages in (0: off).");
ABSL_FLAG(absl::Duration, sync_flush_timeout, absl::Seconds(5),
          "SYNC_FLUSH: how long an append waits for its flush before FLUSH_DISK_TIMEOUT.");
ABSL_FLAG(absl::Duration, file_reserved_time, absl::Hours(72),
          "Commit-log files older than this are deleted at the delete hour.");
ABSL_FLAG(std::string, delete_when, "04", "Hours of the day (';'-separated) to delete old files.");
ABSL_FLAG(int, disk_max_used_ratio, 75,
          "Percent of disk use above which old files are deleted at any hour (10..95).");
ABSL_FLAG(bool, message_index_enable, true, "Index messages by key and unique id.");
ABSL_FLAG(int64_t, consume_queue_units_per_file, 300000, "20-byte units per consume-queue file.");
ABSL_FLAG(int32_t, index_slot_count, 5000000, "Hash slots per index file.");
ABSL_FLAG(int32_t, index_max_entries, 20000000, "Entries per index file.");
ABSL_FLAG(absl::Duration, clean_interval, absl::Seconds(10),
          "How often retention and disk usage are checked.");
ABSL_FLAG(std::string, master_address, "",
          "--role=SLAVE: host:port of the master's store, to replicate its commit log and "
          "metadata from (required for a slave).");
ABSL_FLAG(absl::Duration, slave_timeout, absl::Seconds(3),
          "SYNC_MASTER: how long an append waits for a slave's ack before FLUSH_SLAVE_TIMEOUT.");
ABSL_FLAG(int64_t, ha_slave_fallbehind_max, 256_MiB,
          "SYNC_MASTER: appends are answered SLAVE_NOT_AVAILABLE at once when the best slave "
          "lags more than this many bytes.");
ABSL_FLAG(int64_t, ha_transfer_batch_size, mq::store::kDefaultTransferBatchBytes,
          "Most bytes of commit log per replication message.");
ABSL_FLAG(absl::Duration, ha_heartbeat_interval, absl::Seconds(5),
          "An idle master sends slaves a heartbeat this often; slaves answer with an ack.");
ABSL_FLAG(absl::Duration, ha_housekeeping_interval, absl::Seconds(20),
          "Master and slave drop a replication stream silent for this long.");
ABSL_FLAG(std::string, message_delay_level, std::string(mq::store::kDefaultDelayLevels),
          "Delay levels (RocketMQ's messageDelayLevel): space-separated durations with a unit "
          "(ms, s, m, h, d); a message with property DELAY=L is delivered after the L-th.");
ABSL_FLAG(absl::Duration, timer_max_delay, mq::store::kDefaultTimerMaxDelay,
          "Timer messages (property TIMER_DELIVER_MS) due further ahead than this are refused.");

namespace mq::store {

absl::StatusOr<MessageStoreOptions> MessageStoreOptionsFromFlags() {
  MessageStoreOptions options;
  options.root_dir = absl::GetFlag(FLAGS_data_dir);
  if (options.root_dir.empty()) return absl::InvalidArgumentError("--data_dir must not be empty");
  options.commit_log_file_size = absl::GetFlag(FLAGS_commit_log_file_size);
  options.commit_log_prefault_bytes = absl::GetFlag(FLAGS_commit_log_prefault_bytes);
  if (options.commit_log_prefault_bytes < 0) {
    return absl::InvalidArgumentError("--commit_log_prefault_bytes must not be negative");
  }
  options.max_message_body_bytes = absl::GetFlag(FLAGS_max_message_size);
  if (options.max_message_body_bytes <= 0) {
    return absl::InvalidArgumentError("--max_message_size must be positive");
  }

  std::string flush = absl::GetFlag(FLAGS_flush_disk_type);
  if (flush == "ASYNC_FLUSH") {
    options.flush_disk_type = FlushDiskType::kAsync;
  } else if (flush == "SYNC_FLUSH") {
    options.flush_disk_type = FlushDiskType::kSync;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--flush_disk_type=", flush, ": expected ASYNC_FLUSH or SYNC_FLUSH"));
  }
  options.group_commit.sync_flush_timeout = absl::GetFlag(FLAGS_sync_flush_timeout);

  absl::StatusOr<std::vector<absl::Duration>> levels =
      ParseDelayLevels(absl::GetFlag(FLAGS_message_delay_level));
  if (!levels.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--message_delay_level: ", levels.status().message()));
  }
  options.delay.levels = *std::move(levels);
  options.delay.timer_max_delay = absl::GetFlag(FLAGS_timer_max_delay);
  if (options.delay.timer_max_delay <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timer_max_delay must be positive");
  }

  if (!v1::BrokerRole_Parse(absl::GetFlag(FLAGS_role), &options.role)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--role=", absl::GetFlag(FLAGS_role), ": expected ASYNC_MASTER, SYNC_MASTER or SLAVE"));
  }

  options.retention.file_reserved_time = absl::GetFlag(FLAGS_file_reserved_time);
  absl::StatusOr<std::vector<int>> hours = ParseDeleteHours(absl::GetFlag(FLAGS_delete_when));
  if (!hours.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--delete_when: ", hours.status().message()));
  }
  options.retention.delete_hours = *hours;
  int ratio = absl::GetFlag(FLAGS_disk_max_used_ratio);
  if (ratio < 10 || ratio > 95) {
    return absl::InvalidArgumentError(
        absl::StrCat("--disk_max_used_ratio=", ratio, ": must be in 10..95"));
  }
  options.retention.disk_max_used_ratio = ratio / 100.0;
  options.message_index_enable = absl::GetFlag(FLAGS_message_index_enable);
  options.consume_queue_units_per_file = absl::GetFlag(FLAGS_consume_queue_units_per_file);
  options.index_slot_count = absl::GetFlag(FLAGS_index_slot_count);
  options.index_max_entries = absl::GetFlag(FLAGS_index_max_entries);
  if (options.consume_queue_units_per_file <= 0 || options.index_slot_count <= 0 ||
      options.index_max_entries <= 0) {
    return absl::InvalidArgumentError(
        "--consume_queue_units_per_file, --index_slot_count and --index_max_entries must be "
        "positive");
  }
  options.clean_interval = absl::GetFlag(FLAGS_clean_interval);
  if (options.clean_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--clean_interval must be positive");
  }
  options.clean_initial_delay = std::min(options.clean_initial_delay, options.clean_interval);

  ReplicationOptions& replication = options.replication;
  replication.broker_name = BrokerNameFromFlags();
  replication.broker_id = absl::GetFlag(FLAGS_broker_id);
  replication.master_address = absl::GetFlag(FLAGS_master_address);
  if (options.role == v1::SLAVE) {
    if (replication.master_address.empty()) {
      return absl::InvalidArgumentError("--role=SLAVE needs --master_address (the master's store)");
    }
    if (replication.broker_id <= 0) {
      return absl::InvalidArgumentError("--role=SLAVE needs --broker_id > 0");
    }
  } else {
    if (!replication.master_address.empty()) {
      return absl::InvalidArgumentError("--master_address is for --role=SLAVE only");
    }
    if (replication.broker_id != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", absl::GetFlag(FLAGS_role), " store needs --broker_id=0"));
    }
  }
  replication.ack.slave_timeout = absl::GetFlag(FLAGS_slave_timeout);
  replication.ack.slave_fallbehind_max_bytes = absl::GetFlag(FLAGS_ha_slave_fallbehind_max);
  replication.transfer_batch_bytes = absl::GetFlag(FLAGS_ha_transfer_batch_size);
  replication.heartbeat_interval = absl::GetFlag(FLAGS_ha_heartbeat_interval);
  replication.housekeeping_interval = absl::GetFlag(FLAGS_ha_housekeeping_interval);
  if (replication.ack.slave_timeout <= absl::ZeroDuration() ||
      replication.heartbeat_interval <= absl::ZeroDuration() ||
      replication.housekeeping_interval <= replication.heartbeat_interval) {
    return absl::InvalidArgumentError(
        "--slave_timeout and --ha_heartbeat_interval must be positive, and "
        "--ha_housekeeping_interval longer than --ha_heartbeat_interval");
  }
  if (replication.ack.slave_fallbehind_max_bytes <= 0 || replication.transfer_batch_bytes <= 0 ||
      replication.transfer_batch_bytes > kMaxTransferBatchBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--ha_slave_fallbehind_max must be positive and --ha_transfer_batch_size in 1..",
        kMaxTransferBatchBytes));
  }
  return options;
}

}  // namespace mq::store
