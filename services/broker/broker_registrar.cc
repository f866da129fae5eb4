#include "services/broker/broker_registrar.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/grpc_options.h"
#include "common/rpc.h"

namespace mq::broker {

namespace {

constexpr char kRegistrationTask[] = "broker-registration";

}  // namespace

absl::Duration ClampRegisterInterval(absl::Duration interval) {
  return std::max(kMinRegisterInterval, std::min(interval, kMaxRegisterInterval));
}

std::vector<std::string> ParseNameServerList(absl::string_view list) {
  std::vector<std::string> addrs;
  for (absl::string_view part : absl::StrSplit(list, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) addrs.emplace_back(part);
  }
  return addrs;
}

BrokerRegistrar::BrokerRegistrar(BrokerRegistrarOptions options, TopicSnapshot topics)
    : options_(std::move(options)), topics_(std::move(topics)) {
  scheduler_.Schedule(kRegistrationTask, options_.register_interval, options_.register_interval,
                      [this] { RegisterAll().IgnoreError(); });
  for (const std::string& addr : options_.namesrv_addrs) {
    stubs_.push_back(namesrv::v1::NameServer::NewStub(
        CreateChannel(addr, options_.namesrv_tls, options_.credentials)));
  }
}

BrokerRegistrar::~BrokerRegistrar() { Stop(); }

void BrokerRegistrar::Start() {
  RegisterAll().IgnoreError();
  scheduler_.Start();
}

void BrokerRegistrar::Stop() { scheduler_.Stop(); }

void BrokerRegistrar::TriggerNow() { scheduler_.TriggerNow(kRegistrationTask); }

absl::Status BrokerRegistrar::RegisterAll() {
  if (stubs_.empty()) return absl::OkStatus();
  TopicConfigManager::Snapshot snapshot = topics_();
  namesrv::v1::RegisterBrokerRequest request;
  request.set_cluster_name(options_.cluster_name);
  request.set_broker_name(options_.broker_name);
  request.set_broker_id(options_.broker_id);
  request.set_broker_addr(options_.broker_addr);
  request.set_ha_server_addr(options_.ha_server_addr);
  *request.mutable_data_version() = snapshot.data_version;
  for (common::v1::TopicConfig& config : snapshot.configs) {
    *request.add_topic_configs() = std::move(config);
  }
  std::vector<absl::StatusOr<namesrv::v1::RegisterBrokerResponse>> results =
      CallEach<namesrv::v1::RegisterBrokerResponse>(
          stubs_, options_.rpc_timeout,
          [&request](const std::unique_ptr<namesrv::v1::NameServer::Stub>& stub,
                     grpc::ClientContext* context, namesrv::v1::RegisterBrokerResponse* response,
                     std::function<void(grpc::Status)> done) {
            stub->async()->RegisterBroker(context, &request, response, std::move(done));
          });
  absl::Status first_error;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      LOG(WARNING) << "registering with name server " << options_.namesrv_addrs[i]
                   << " failed (retried in " << absl::FormatDuration(options_.register_interval)
                   << "): " << results[i].status();
      if (first_error.ok()) first_error = results[i].status();
      continue;
    }
    absl::MutexLock lock(&mu_);
    ++successes_;
    if (options_.broker_id != 0 && (results[i]->master_addr() != master_addr_ ||
                                    results[i]->ha_server_addr() != ha_master_addr_)) {
      LOG(INFO) << "master of " << options_.broker_name << " is now \"" << results[i]->master_addr()
                << "\" (HA \"" << results[i]->ha_server_addr() << "\")";
      master_addr_ = results[i]->master_addr();
      ha_master_addr_ = results[i]->ha_server_addr();
    }
  }
  return first_error;
}

absl::Status BrokerRegistrar::UnregisterAll() {
  if (stubs_.empty()) return absl::OkStatus();
  namesrv::v1::UnregisterBrokerRequest request;
  request.set_cluster_name(options_.cluster_name);
  request.set_broker_name(options_.broker_name);
  request.set_broker_id(options_.broker_id);
  request.set_broker_addr(options_.broker_addr);
  std::vector<absl::StatusOr<namesrv::v1::UnregisterBrokerResponse>> results =
      CallEach<namesrv::v1::UnregisterBrokerResponse>(
          stubs_, options_.rpc_timeout,
          [&request](const std::unique_ptr<namesrv::v1::NameServer::Stub>& stub,
                     grpc::ClientContext* context, namesrv::v1::UnregisterBrokerResponse* response,
                     std::function<void(grpc::Status)> done) {
            stub->async()->UnregisterBroker(context, &request, response, std::move(done));
          });
  absl::Status first_error;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) continue;
    LOG(WARNING) << "unregistering from name server " << options_.namesrv_addrs[i]
                 << " failed: " << results[i].status();
    if (first_error.ok()) first_error = results[i].status();
  }
  return first_error;
}

std::string BrokerRegistrar::master_addr() const {
  absl::MutexLock lock(&mu_);
  return master_addr_;
}

std::string BrokerRegistrar::ha_master_addr() const {
  absl::MutexLock lock(&mu_);
  return ha_master_addr_;
}

int64_t BrokerRegistrar::successful_registrations() const {
  absl::MutexLock lock(&mu_);
  return successes_;
}

}  // namespace mq::broker
