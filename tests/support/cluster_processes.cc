#include "tests/support/cluster_processes.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_options.h"

namespace mq::testing {

absl::StatusOr<std::unique_ptr<ServerProcess>> StartNamesrv(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--port=0", "--listen_address=127.0.0.1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::Start("namesrv", RunfilePath("services/namesrv/namesrv"), args);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> StartStore(const std::string& name,
                                                          const std::string& data_dir,
                                                          int64_t file_size,
                                                          const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--port=0",
                                   "--listen_address=127.0.0.1",
                                   absl::StrCat("--data_dir=", data_dir),
                                   absl::StrCat("--commit_log_file_size=", file_size),
                                   "--broker_name=broker-a",
                                   "--consume_queue_units_per_file=20000",
                                   "--index_slot_count=20000",
                                   "--index_max_entries=200000",
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

absl::StatusOr<store::v1::GetStatsResponse> StoreStats(const std::string& address) {
  std::unique_ptr<store::v1::Store::Stub> stub = store::v1::Store::NewStub(CreateChannel(address));
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
