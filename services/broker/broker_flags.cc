#include "services/broker/broker_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/shared_flags.h"

ABSL_FLAG(std::string, advertised_address, "",
          "host:port clients and name servers use to reach this broker "
          "(default 127.0.0.1:<port>).");
ABSL_FLAG(std::string, cluster_name, std::string(mq::broker::kDefaultClusterName),
          "Cluster of the broker group.");
ABSL_FLAG(std::string, namesrv_addr, "", "Name servers, 'host:port;host:port'.");
ABSL_FLAG(bool, auto_create_topic_enable, true,
          "Keep the default topic TBW102 and create topics on first send.");
ABSL_FLAG(absl::Duration, register_interval, absl::Seconds(30),
          "How often to register with the name servers (clamped to 10s..60s).");
ABSL_FLAG(absl::Duration, wait_time_in_send_queue, absl::Milliseconds(200),
          "A send queued longer than this is answered SYSTEM_BUSY.");
ABSL_FLAG(int64_t, send_queue_capacity, 10000,
          "Sends waiting for a thread; beyond it a send is answered SYSTEM_BUSY at once.");
ABSL_FLAG(int, send_threads, 16, "Threads that process sends.");
ABSL_FLAG(int, access_message_in_memory_max_ratio, 40,
          "Percent of physical memory: a consumer further behind the commit log's end than "
          "this is told to pull from a slave (broker id 1), and back from the master once "
          "it caught up.");
ABSL_FLAG(bool, pull_recent_on_grpc_threads, true,
          "Pulls of data within --access_message_in_memory_max_ratio of the commit log's end "
          "are read on the gRPC thread that received them (no hop to a pull thread); false "
          "sends every pull to the pull threads, so a read that has to wait for the disk "
          "never holds a gRPC thread.");
// Transactional messages (RocketMQ's BrokerConfig names).
ABSL_FLAG(absl::Duration, transaction_timeout, absl::Seconds(6),
          "A transaction half message unsettled this long is checked with its producer group "
          "(transactionTimeOut).");
ABSL_FLAG(absl::Duration, transaction_check_interval, absl::Seconds(60),
          "How often unsettled half messages are checked (transactionCheckInterval).");
ABSL_FLAG(int, transaction_check_max, 15,
          "A half message checked this many times without a decision is discarded to "
          "TRANS_CHECK_MAX_TIME_TOPIC (transactionCheckMax).");
ABSL_FLAG(bool, reject_transaction_message, false,
          "Refuse transaction half messages with NO_PERMISSION (rejectTransactionMessage).");
ABSL_FLAG(absl::Duration, flush_consumer_offset_interval, absl::Seconds(5),
          "How often consumer offsets are written to the store.");
ABSL_FLAG(bool, auto_create_subscription_group, true,
          "Create a consumer group's subscription group (and its %RETRY% topic) on its first "
          "heartbeat.");
// Orderly consumption and client liveness.
ABSL_FLAG(absl::Duration, rebalance_lock_max_live_time, absl::Seconds(60),
          "An orderly consumer's queue lock not renewed this long is free for another member "
          "of its group (RocketMQ's rocketmq.broker.rebalance.lockMaxLiveTime).");
ABSL_FLAG(absl::Duration, client_expiry, absl::Seconds(120),
          "A producer or consumer not heard from this long is dropped from the client tables "
          "(and its queue locks released); clients send heartbeats every 30 s by default.");
ABSL_FLAG(absl::Duration, pop_checkpoint_interval, absl::Minutes(1),
          "How often the POP state (every message in flight) is written whole to the POP log "
          "when it changed: a restarted broker replays the log from the latest such checkpoint.");

namespace mq::broker {

absl::StatusOr<BrokerOptions> BrokerOptionsFromFlags() {
  BrokerOptions options;
  options.cluster_name = absl::GetFlag(FLAGS_cluster_name);
  options.broker_name = BrokerNameFromFlags();
  options.broker_id = absl::GetFlag(FLAGS_broker_id);
  if (!store::v1::BrokerRole_Parse(absl::GetFlag(FLAGS_role), &options.role)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--role=", absl::GetFlag(FLAGS_role), ": expected ASYNC_MASTER, SYNC_MASTER or SLAVE"));
  }
  options.namesrv_addrs = ParseNameServerList(absl::GetFlag(FLAGS_namesrv_addr));
  options.topics.auto_create_topic_enable = absl::GetFlag(FLAGS_auto_create_topic_enable);
  options.register_interval = absl::GetFlag(FLAGS_register_interval);
  options.max_message_size = absl::GetFlag(FLAGS_max_message_size);
  options.send_queue.max_queue_wait = absl::GetFlag(FLAGS_wait_time_in_send_queue);
  if (absl::GetFlag(FLAGS_send_queue_capacity) <= 0 || absl::GetFlag(FLAGS_send_threads) <= 0) {
    return absl::InvalidArgumentError("--send_queue_capacity and --send_threads must be positive");
  }
  options.send_queue.capacity = static_cast<size_t>(absl::GetFlag(FLAGS_send_queue_capacity));
  options.send_queue.threads = absl::GetFlag(FLAGS_send_threads);
  int in_memory_ratio = absl::GetFlag(FLAGS_access_message_in_memory_max_ratio);
  if (in_memory_ratio < 1 || in_memory_ratio > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--access_message_in_memory_max_ratio=", in_memory_ratio, ": must be in 1..100"));
  }
  options.pull.max_in_memory_bytes = PhysicalMemoryPercent(in_memory_ratio);
  options.pull.read_recent_on_grpc_threads = absl::GetFlag(FLAGS_pull_recent_on_grpc_threads);
  options.flush_consumer_offset_interval = absl::GetFlag(FLAGS_flush_consumer_offset_interval);
  if (options.flush_consumer_offset_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--flush_consumer_offset_interval must be positive");
  }
  options.groups.auto_create_subscription_group =
      absl::GetFlag(FLAGS_auto_create_subscription_group);
  options.advertised_address = absl::GetFlag(FLAGS_advertised_address);
  options.transactions.transaction_timeout = absl::GetFlag(FLAGS_transaction_timeout);
  options.transactions.check_interval = absl::GetFlag(FLAGS_transaction_check_interval);
  options.transactions.check_max = absl::GetFlag(FLAGS_transaction_check_max);
  options.transactions.reject_transaction_message = absl::GetFlag(FLAGS_reject_transaction_message);
  options.rebalance_lock_max_live_time = absl::GetFlag(FLAGS_rebalance_lock_max_live_time);
  options.clients.client_expiry = absl::GetFlag(FLAGS_client_expiry);
  options.pop.checkpoint_interval = absl::GetFlag(FLAGS_pop_checkpoint_interval);
  if (options.pop.checkpoint_interval < absl::Seconds(1) ||
      options.pop.checkpoint_interval > absl::Hours(24)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--pop_checkpoint_interval=", absl::FormatDuration(options.pop.checkpoint_interval),
        ": must be 1s..24h"));
  }
  if (absl::Status valid = ValidateBrokerOptions(options); !valid.ok()) return valid;
  return options;
}

}  // namespace mq::broker
