#include "services/broker/broker.h"

#include <glog/logging.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/format/record_format.h"
#include "common/validation.h"
#include "services/broker/broker_errors.h"
#include "services/broker/put_stats_hook.h"

namespace mq::broker {

namespace {

ExecutorOptions WithDefaultThreads(ExecutorOptions options, int default_threads) {
  if (options.threads <= 0) options.threads = default_threads;
  return options;
}

int DefaultPullThreads() {
  return 16 + 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// The IPv4 "a.b.c.d:port" of `address` ("host:port"), resolving a host name.
std::string ResolveStoreHost(const std::string& address) {
  if (format::ParseHostAddress(address).ok()) return address;
  size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  addrinfo hints = {};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) == 0 && found != nullptr) {
    char ip[NI_MAXHOST];
    bool ok = getnameinfo(found->ai_addr, found->ai_addrlen, ip, sizeof(ip), nullptr, 0,
                          NI_NUMERICHOST) == 0;
    freeaddrinfo(found);
    if (ok) return absl::StrCat(ip, ":", port);
  }
  LOG(WARNING) << "cannot resolve " << host << " to IPv4; messages record 127.0.0.1:" << port
               << " as their store host";
  return absl::StrCat("127.0.0.1:", port);
}

}  // namespace

absl::Status ValidateBrokerOptions(const BrokerOptions& options) {
  absl::Status status = ValidateName("cluster name", options.cluster_name);
  if (status.ok()) status = ValidateName("broker name", options.broker_name);
  if (status.ok()) status = ValidateBrokerId(options.broker_id);
  if (!status.ok()) return status;
  if (options.role == store::v1::SLAVE && options.broker_id == 0) {
    return absl::InvalidArgumentError("a SLAVE needs a broker id > 0");
  }
  if (options.role != store::v1::SLAVE && options.broker_id != 0) {
    return absl::InvalidArgumentError(absl::StrCat("a ", store::v1::BrokerRole_Name(options.role),
                                                   " must have broker id 0, not ",
                                                   options.broker_id));
  }
  if (!options.advertised_address.empty()) {
    status = ValidateAddress("advertised address", options.advertised_address);
    if (!status.ok()) return status;
  }
  if (!options.store_host.empty()) {
    absl::StatusOr<format::HostAddress> host = format::ParseHostAddress(options.store_host);
    if (!host.ok()) return host.status();
  }
  for (const std::string& addr : options.namesrv_addrs) {
    status = ValidateAddress("name server address", addr);
    if (!status.ok()) return status;
  }
  if (options.max_message_size <= 0) {
    return absl::InvalidArgumentError("max message size must be positive");
  }
  if (options.send_queue.capacity == 0 || options.send_queue.threads <= 0) {
    return absl::InvalidArgumentError("the send queue needs a capacity and threads");
  }
  if (options.rebalance_lock_max_live_time <= absl::ZeroDuration() ||
      options.clients.client_expiry <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "the rebalance lock max live time and the client expiry must be positive");
  }
  return ValidateTransactionOptions(options.transactions);
}

Broker::Broker(store::StoreApi* store, BrokerOptions options)
    : store_(store),
      options_(std::move(options)),
      metrics_(options_.metrics != nullptr ? std::make_unique<BrokerMetrics>(options_.metrics)
                                           : nullptr),
      stats_(Clock::Real(), metrics_.get()),
      topics_(store, options_.topics),
      groups_(store, options_.groups),
      offsets_(store),
      clients_(options_.clients),
      locks_(options_.rebalance_lock_max_live_time),
      send_executor_(options_.send_queue),
      pull_executor_(WithDefaultThreads(options_.pull_queue, DefaultPullThreads())),
      admin_executor_(WithDefaultThreads(options_.admin_queue, 4)),
      queries_(store, &topics_),
      acl_users_(store, options_.authorizer),
      acl_service_(std::make_unique<AclAdminService>(&acl_users_, options_.authorizer,
                                                     options_.role == store::v1::SLAVE)) {
  hold_ = std::make_unique<PullRequestHoldService>(
      store_,
      [this](const broker::v1::PullMessageRequest& request, const std::vector<int64_t>& codes,
             PullRequestHoldService::Callback done) {
        pull_->Execute(request, codes, std::move(done));
      },
      options_.pull_hold);
  PullOptions pull_options = options_.pull;
  pull_options.commit_offsets = options_.role != store::v1::SLAVE;
  pull_ = std::make_unique<PullMessageProcessor>(store_, &topics_, &groups_, &offsets_, hold_.get(),
                                                 &stats_, pull_options);
  hooks_.Register(std::make_shared<PutStatsHook>(&stats_));
  // A member that leaves its group gives up its orderly queue locks at once.
  clients_.SetConsumerGoneListener([this](const std::string& group, const std::string& client_id) {
    int released = locks_.UnlockAll(group, client_id);
    if (released > 0) {
      LOG(INFO) << "released " << released << " queue lock(s) of " << client_id << " in group "
                << group;
    }
  });
}

Broker::~Broker() { Stop(); }

void Broker::SetAdvertisedAddress(std::string address) {
  absl::MutexLock lock(&mu_);
  if (started_) {
    LOG(WARNING) << "ignoring SetAdvertisedAddress after Start";
    return;
  }
  options_.advertised_address = std::move(address);
}

void Broker::SetNameServerAddresses(std::vector<std::string> addresses) {
  absl::MutexLock lock(&mu_);
  if (started_) {
    LOG(WARNING) << "ignoring SetNameServerAddresses after Start";
    return;
  }
  options_.namesrv_addrs = std::move(addresses);
}

absl::Status Broker::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("the broker was already started");
  absl::Status status = ValidateBrokerOptions(options_);
  if (!status.ok()) return status;
  if (options_.advertised_address.empty()) {
    return absl::InvalidArgumentError("the broker needs an advertised address");
  }
  if (options_.store_host.empty()) {
    options_.store_host = ResolveStoreHost(options_.advertised_address);
  }

  status = topics_.Load();
  if (!status.ok()) return status;
  status = groups_.Load();
  if (!status.ok()) return status;
  status = offsets_.Load();
  if (!status.ok()) return status;
  if (options_.authorizer != nullptr) {
    status = acl_users_.Load();
    if (!status.ok()) return status;
  }
  if (options_.role != store::v1::SLAVE) {
    producer_channels_ = std::make_unique<ProducerChannels>();
    transactions_ =
        std::make_unique<TransactionService>(store_, producer_channels_.get(), options_.broker_name,
                                             options_.store_host, options_.transactions);
    status = transactions_->Load();
    if (!status.ok()) return status;
  }
  started_ = true;

  SendOptions send_options;
  send_options.broker_name = options_.broker_name;
  send_options.role = options_.role;
  send_options.store_host = options_.store_host;
  send_options.max_message_size = options_.max_message_size;
  SendMessageProcessor::HalfMessagePreparer prepare_half;
  if (transactions_ != nullptr) {
    prepare_half = [this](store::v1::AppendEntry* entry) { return transactions_->ToHalf(entry); };
  }
  send_ = std::make_unique<SendMessageProcessor>(store_, &topics_, &groups_, &hooks_, send_options,
                                                 std::move(prepare_half));
  SendBackOptions send_back_options;
  send_back_options.broker_name = options_.broker_name;
  send_back_options.role = options_.role;
  // A send-back asks for at most the store's last delay level: its table
  // (--message_delay_level) is read once, here, so the two cannot disagree.
  absl::StatusOr<store::v1::GetStatsResponse> store_stats = store_->GetStats();
  if (!store_stats.ok())
    return StoreCallError("cannot read the store's stats", store_stats.status());
  if (store_stats->delay_levels_ms_size() > 0) {
    send_back_options.delay_level_count = store_stats->delay_levels_ms_size();
  }
  send_back_ = std::make_unique<ConsumerSendBackProcessor>(store_, &topics_, &groups_, send_.get(),
                                                           send_back_options);
  dead_letters_ = std::make_unique<DeadLetterProcessor>(store_, &topics_, send_.get());
  PopOptions pop_options = options_.pop;
  pop_options.broker_name = options_.broker_name;
  pop_options.slave = options_.role == store::v1::SLAVE;
  pop_options.store_host = options_.store_host;
  pop_ = std::make_unique<PopService>(
      store_, &topics_, &groups_, &offsets_, send_back_.get(), Clock::Real(),
      [this](std::function<void()> work, std::function<void()> refused) {
        absl::Status submitted =
            pull_executor_.Submit(std::move(work), [refused](absl::Status) { refused(); });
        if (!submitted.ok()) refused();
      },
      pop_options);
  hold_->SetAdvanceListener(
      [this](const store::v1::QueueAdvance& advance) { pop_->NotifyMessageArriving(advance); });
  if (options_.role != store::v1::SLAVE) {
    status = pop_->Recover();
    if (!status.ok()) return status;
  }
  BrokerIdentity identity{options_.cluster_name, options_.broker_name, options_.broker_id,
                          options_.role};
  admin_ = std::make_unique<AdminProcessor>(
      store_, &topics_, &offsets_, &stats_, identity, absl::Now(),
      [this](std::map<std::string, std::string>* extra) { FillExtraStats(extra); });
  if (options_.metrics != nullptr) {
    options_.metrics->AddCollector([this](metrics::Collection* out) { CollectMetrics(out); });
  }

  BrokerRegistrarOptions registrar_options;
  registrar_options.namesrv_addrs = options_.namesrv_addrs;
  registrar_options.namesrv_tls = options_.namesrv_tls;
  registrar_options.cluster_name = options_.cluster_name;
  registrar_options.broker_name = options_.broker_name;
  registrar_options.broker_id = options_.broker_id;
  registrar_options.broker_addr = options_.advertised_address;
  registrar_options.ha_server_addr = options_.ha_server_addr;
  registrar_options.register_interval = ClampRegisterInterval(options_.register_interval);
  registrar_options.rpc_timeout = options_.register_timeout;
  registrar_options.credentials = options_.cluster_credentials;
  registrar_ = std::make_unique<BrokerRegistrar>(registrar_options,
                                                 [this] { return topics_.GetSnapshot(); });
  // A new, changed or deleted topic reaches the name servers at once.
  topics_.SetChangeListener([this] { registrar_->TriggerNow(); });

  send_executor_.Start();
  pull_executor_.Start();
  admin_executor_.Start();
  hold_->Start();
  if (options_.role != store::v1::SLAVE) pop_->Start();
  tasks_.push_back(StartDedicatedScheduler("client-expiry-scan", options_.clients.scan_interval,
                                           options_.clients.scan_interval,
                                           [this] { clients_.ScanExpired(); }));
  if (options_.role == store::v1::SLAVE) {
    tasks_.push_back(StartDedicatedScheduler("slave-sync", options_.slave_sync_interval,
                                             options_.slave_sync_interval,
                                             [this] { SyncFromStore(); }));
  } else {
    tasks_.push_back(StartDedicatedScheduler(
        "consumer-offset-flush", options_.flush_consumer_offset_interval,
        options_.flush_consumer_offset_interval, [this] { PersistOffsets(); }));
    tasks_.push_back(StartDedicatedScheduler(
        "transaction-check", options_.transactions.check_interval,
        options_.transactions.check_interval, [this] { transactions_->CheckOnce(); }));
  }
  if (options_.authorizer != nullptr) {
    // Users changed through another broker of the store, or replicated from
    // the master, take effect within the interval.
    tasks_.push_back(StartDedicatedScheduler(
        "acl-reload", options_.acl_reload_interval, options_.acl_reload_interval, [this] {
          absl::Status loaded = acl_users_.Load();
          if (!loaded.ok()) {
            LOG_EVERY_N(WARNING, 30) << "cannot re-read the ACL users: " << loaded;
          }
        }));
  }
  registrar_->Start();

  BrokerServiceParts parts;
  parts.send = send_.get();
  parts.send_executor = &send_executor_;
  parts.send_inline = store_->AppendsAreAsync();
  parts.pull = pull_.get();
  parts.pull_executor = &pull_executor_;
  parts.pull_inline = store_->ReadsAreAsync();
  parts.admin_executor = &admin_executor_;
  parts.clients = &clients_;
  parts.locks = &locks_;
  parts.offsets = &offsets_;
  parts.queries = &queries_;
  parts.topics = &topics_;
  parts.admin = admin_.get();
  parts.transactions = transactions_.get();
  parts.producer_channels = producer_channels_.get();
  parts.metrics = metrics_.get();
  parts.slave = options_.role == store::v1::SLAVE;
  parts.groups = &groups_;
  parts.mutable_topics = &topics_;
  parts.send_back = send_back_.get();
  parts.dead_letters = dead_letters_.get();
  parts.pop = pop_.get();
  parts.authorizer = options_.authorizer;
  service_.Enable(parts);
  LOG(INFO) << "broker " << options_.broker_name << " (id " << options_.broker_id << ", "
            << store::v1::BrokerRole_Name(options_.role) << ", cluster " << options_.cluster_name
            << ") serving at " << options_.advertised_address << ", store host "
            << options_.store_host << ", " << options_.namesrv_addrs.size() << " name servers";
  return absl::OkStatus();
}

void Broker::Stop() {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  stopped_ = true;
  service_.Disable();
  if (!started_) return;
  LOG(INFO) << "broker " << options_.broker_name << " stopping";
  send_executor_.Stop();
  hold_->Stop();
  pop_->Stop();
  pull_executor_.Stop();
  admin_executor_.Stop();
  for (auto& task : tasks_) task->Stop();
  if (producer_channels_ != nullptr) producer_channels_->Close();
  if (options_.role != store::v1::SLAVE) PersistOffsets();
  registrar_->Stop();
  absl::Status unregistered = registrar_->UnregisterAll();
  LOG(INFO) << "broker " << options_.broker_name << " stopped"
            << (unregistered.ok() ? "" : " (some name servers were not told)");
}

void Broker::PersistOffsets() {
  absl::Status status = offsets_.Persist();
  if (!status.ok()) LOG(WARNING) << "cannot persist consumer offsets: " << status;
}

void Broker::SyncFromStore() {
  absl::Status status = topics_.Reload();
  if (status.ok()) status = groups_.Load();
  if (status.ok()) status = offsets_.Load();
  if (!status.ok()) {
    LOG_EVERY_N(WARNING, 10) << "slave cannot re-read its store: " << status;
  }
}

void Broker::FillExtraStats(std::map<std::string, std::string>* extra) {
  (*extra)["held_pulls"] = absl::StrCat(hold_->held_count());
  if (pop_ != nullptr) {
    (*extra)["held_pops"] = absl::StrCat(pop_->held_count());
    (*extra)["pop_in_flight"] = absl::StrCat(pop_->in_flight_count());
  }
  (*extra)["send_queue_size"] = absl::StrCat(send_executor_.queue_size());
  (*extra)["send_queue_timeouts"] = absl::StrCat(send_executor_.timed_out_count());
  (*extra)["pull_queue_size"] = absl::StrCat(pull_executor_.queue_size());
  (*extra)["pull_threads_idle"] = absl::StrCat(pull_executor_.idle_threads());
  (*extra)["send_threads_idle"] = absl::StrCat(send_executor_.idle_threads());
  (*extra)["producers"] = absl::StrCat(clients_.producer_count());
  (*extra)["consumers"] = absl::StrCat(clients_.consumer_count());
  (*extra)["advertised_address"] = options_.advertised_address;
  if (transactions_ != nullptr) {
    (*extra)["transaction_halves_unsettled"] = absl::StrCat(transactions_->pending_count());
    (*extra)["transaction_halves_settled_below"] = absl::StrCat(transactions_->settled_below());
    (*extra)["producer_channels"] = absl::StrCat(producer_channels_->open_count());
  }
  if (registrar_ != nullptr) {
    (*extra)["master_addr"] = registrar_->master_addr();
    (*extra)["namesrv_registrations"] = absl::StrCat(registrar_->successful_registrations());
  }
}

void Broker::CollectMetrics(metrics::Collection* out) {
  out->Gauge("rocketmq_broker_info", "1, with the broker's cluster, group, id and role.",
             {"cluster", "broker_name", "broker_id", "role"},
             {options_.cluster_name, options_.broker_name, absl::StrCat(options_.broker_id),
              store::v1::BrokerRole_Name(options_.role)},
             1);
  out->Gauge("rocketmq_producer_connections", "Live producers (heartbeat within the expiry).", {},
             {}, clients_.producer_count());
  const std::map<std::string, int> groups = clients_.ConsumerGroupSizes();
  for (const auto& [group, members] : groups) {
    out->Gauge("rocketmq_consumer_connections", "Live consumers, by consumer group.",
               {"consumer_group"}, {group}, members);
  }
  out->Gauge("rocketmq_long_polling_waiters", "Pulls held until a message arrives.", {}, {},
             static_cast<double>(hold_->held_count()));
  if (admin_ == nullptr) return;
  absl::StatusOr<broker::v1::ListConsumerGroupsResponse> listed =
      admin_->ListConsumerGroups(groups);
  if (!listed.ok()) return;
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  for (const broker::v1::ConsumerGroupSummary& summary : listed->groups()) {
    broker::v1::GetConsumeStatsRequest request;
    request.set_consumer_group(summary.consumer_group());
    absl::StatusOr<broker::v1::GetConsumeStatsResponse> stats = admin_->GetConsumeStats(request);
    if (!stats.ok()) continue;
    for (const broker::v1::QueueConsumeStats& queue : stats->queues()) {
      const std::vector<std::string> labels = {summary.consumer_group(), queue.queue().topic(),
                                               absl::StrCat(queue.queue().queue_id())};
      const int64_t lag = std::max<int64_t>(0, queue.broker_offset() - queue.consumer_offset());
      out->Gauge("rocketmq_consumer_lag_messages",
                 "Messages stored but not yet consumed, by group, topic and queue.",
                 {"consumer_group", "topic", "queue_id"}, labels, static_cast<double>(lag));
      double age_seconds = 0;
      if (lag > 0) {
        const int64_t oldest_ms = admin_->StoreTimestampAt(
            queue.queue().topic(), queue.queue().queue_id(), queue.consumer_offset());
        if (oldest_ms > 0) age_seconds = std::max<int64_t>(0, now_ms - oldest_ms) / 1000.0;
      }
      out->Gauge("rocketmq_consumer_lag_latency_seconds",
                 "Age of the oldest message not yet consumed (0 when caught up), by group, "
                 "topic and queue.",
                 {"consumer_group", "topic", "queue_id"}, labels, age_seconds);
    }
  }
}

}  // namespace mq::broker
