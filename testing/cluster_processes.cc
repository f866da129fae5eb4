#include "testing/cluster_processes.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "proto/broker.grpc.pb.h"
#include "proto/namesrv.grpc.pb.h"
#include "testing/wait.h"

namespace mq::testing {
namespace {

// The small store sizes that tools/run.sh and tools/local_cluster.sh use.
std::string SmallStoreFlagfile() {
  return absl::StrCat("--flagfile=", RunfilePath("tools/small_store.flags"));
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return context;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> StartNamesrv(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--port=0", "--listen_address=127.0.0.1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::Start("namesrv", RunfilePath("services/namesrv/namesrv"), args);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> StartStore(const std::string& name,
                                                          const std::string& data_dir,
                                                          int64_t file_size,
                                                          const std::vector<std::string>& extra) {
  std::vector<std::string> args = {SmallStoreFlagfile(),
                                   "--port=0",
                                   "--listen_address=127.0.0.1",
                                   absl::StrCat("--data_dir=", data_dir),
                                   absl::StrCat("--commit_log_file_size=", file_size),
                                   "--broker_name=broker-a",
                                   "--max_message_size=65536",
                                   "--shutdown_grace=1s",
                                   "--ha_heartbeat_interval=500ms"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::Start(name, RunfilePath("services/store/store"), args);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> StartBroker(const std::string& name,
                                                           const std::string& store_address,
                                                           const std::string& namesrv_address,
                                                           const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--port=0",
                                   "--listen_address=127.0.0.1",
                                   absl::StrCat("--store_address=", store_address),
                                   absl::StrCat("--namesrv_addr=", namesrv_address),
                                   "--broker_name=broker-a",
                                   "--max_message_size=65536",
                                   "--register_interval=10s"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::Start(name, RunfilePath("services/broker/broker"), args);
}

absl::StatusOr<BrokerGroups> StartBrokerGroups(const std::vector<std::string>& groups,
                                               const std::string& namesrv_address,
                                               const std::string& data_dir, int64_t file_size,
                                               const std::vector<std::string>& broker_extra) {
  BrokerGroups started;
  for (const std::string& group : groups) {
    const std::string name_flag = absl::StrCat("--broker_name=", group);
    absl::StatusOr<std::unique_ptr<ServerProcess>> store = StartStore(
        absl::StrCat("store-", group), absl::StrCat(data_dir, "/", group), file_size, {name_flag});
    if (!store.ok()) return store.status();
    std::vector<std::string> flags = {name_flag};
    flags.insert(flags.end(), broker_extra.begin(), broker_extra.end());
    absl::StatusOr<std::unique_ptr<ServerProcess>> broker =
        StartBroker(absl::StrCat("broker-", group), (*store)->address(), namesrv_address, flags);
    if (!broker.ok()) return broker.status();
    started.stores.push_back(*std::move(store));
    started.brokers.push_back(*std::move(broker));
  }
  return started;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> StartStandalone(
    const std::string& data_dir, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {
      SmallStoreFlagfile(),         "--port=0",
      "--listen_address=127.0.0.1", absl::StrCat("--data_dir=", data_dir),
      "--broker_name=broker-a",     "--shutdown_grace=1s"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::Start("standalone", RunfilePath("services/standalone/standalone"), args);
}

absl::Status CreateTopic(const std::string& broker_address, const std::string& topic,
                         int queue_nums, const ClientTls& tls) {
  std::unique_ptr<broker::v1::Broker::Stub> stub =
      broker::v1::Broker::NewStub(CreateChannel(broker_address, tls));
  broker::v1::CreateOrUpdateTopicRequest request;
  common::v1::TopicConfig* config = request.mutable_config();
  config->set_topic_name(topic);
  config->set_read_queue_nums(queue_nums);
  config->set_write_queue_nums(queue_nums);
  config->set_perm(common::v1::PERM_READ | common::v1::PERM_WRITE);
  broker::v1::CreateOrUpdateTopicResponse response;
  std::unique_ptr<grpc::ClientContext> context = Context();
  return FromGrpcStatus(stub->CreateOrUpdateTopic(context.get(), request, &response), *context);
}

absl::Status WaitForRoute(const std::string& namesrv_address, const std::string& topic,
                          int broker_groups, absl::Duration timeout, const ClientTls& tls) {
  std::unique_ptr<namesrv::v1::NameServer::Stub> stub =
      namesrv::v1::NameServer::NewStub(CreateChannel(namesrv_address, tls));
  absl::Status last;
  const bool listed = WaitUntil(
      [&] {
        namesrv::v1::GetRouteInfoByTopicRequest request;
        request.set_topic(topic);
        namesrv::v1::GetRouteInfoByTopicResponse response;
        std::unique_ptr<grpc::ClientContext> context = Context();
        last =
            FromGrpcStatus(stub->GetRouteInfoByTopic(context.get(), request, &response), *context);
        return last.ok() && response.route().queue_datas_size() >= broker_groups;
      },
      timeout);
  if (listed) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      "the route of ", topic, " did not list ", broker_groups, " broker group(s) within ",
      absl::FormatDuration(timeout), ": ", last.ToString()));
}

absl::StatusOr<store::v1::GetStatsResponse> StoreStats(const std::string& address,
                                                       const ClientTls& tls) {
  std::unique_ptr<store::v1::Store::Stub> stub =
      store::v1::Store::NewStub(CreateChannel(address, tls));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  store::v1::GetStatsResponse response;
  grpc::Status status = stub->GetStats(&context, store::v1::GetStatsRequest(), &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("GetStats of ", address, ": ", status.error_message()));
  }
  return response;
}

namespace {

// Commit-log files of a data directory that start below `end`, by start offset.
absl::StatusOr<std::map<int64_t, std::string>> CommitLogFiles(const std::string& data_dir,
                                                              int64_t end) {
  std::map<int64_t, std::string> files;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator(absl::StrCat(data_dir, "/commitlog"), error)) {
    int64_t start = 0;
    std::string name = entry.path().filename().string();
    if (name.size() == 20 && absl::SimpleAtoi(name, &start) && start < end) {
      files[start] = entry.path().string();
    }
  }
  if (error) return absl::NotFoundError(absl::StrCat(data_dir, ": ", error.message()));
  return files;
}

}  // namespace

absl::Status CompareCommitLogs(const std::string& dir_a, const std::string& dir_b, int64_t end) {
  absl::StatusOr<std::map<int64_t, std::string>> a = CommitLogFiles(dir_a, end);
  if (!a.ok()) return a.status();
  absl::StatusOr<std::map<int64_t, std::string>> b = CommitLogFiles(dir_b, end);
  if (!b.ok()) return b.status();
  if (a->size() != b->size() || a->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(a->size(), " commit-log files in ", dir_a,
                                                      " but ", b->size(), " in ", dir_b,
                                                      " below offset ", end));
  }
  constexpr int64_t kBlockBytes = 1 << 20;
  std::string block_a(kBlockBytes, '\0');
  std::string block_b(kBlockBytes, '\0');
  for (auto it_a = a->begin(), it_b = b->begin(); it_a != a->end(); ++it_a, ++it_b) {
    if (it_a->first != it_b->first) {
      return absl::FailedPreconditionError(absl::StrCat("commit-log file at ", it_a->first, " in ",
                                                        dir_a, " but at ", it_b->first, " in ",
                                                        dir_b));
    }
    int64_t size = std::min<int64_t>(std::filesystem::file_size(it_a->second),
                                     std::filesystem::file_size(it_b->second));
    int64_t length = std::min(size, end - it_a->first);
    std::ifstream in_a(it_a->second, std::ios::binary);
    std::ifstream in_b(it_b->second, std::ios::binary);
    for (int64_t pos = 0; pos < length; pos += kBlockBytes) {
      int64_t n = std::min(kBlockBytes, length - pos);
      if (!in_a.read(block_a.data(), n) || !in_b.read(block_b.data(), n)) {
        return absl::DataLossError(absl::StrCat("cannot read commit-log file at ", it_a->first));
      }
      if (std::memcmp(block_a.data(), block_b.data(), n) != 0) {
        int64_t at = pos;
        while (block_a[at - pos] == block_b[at - pos]) ++at;
        return absl::FailedPreconditionError(
            absl::StrCat("commit logs differ at offset ", it_a->first + at));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace mq::testing
