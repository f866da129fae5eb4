#include "client/src/offset_store.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"

namespace mq::client_internal {

void OffsetStore::Update(const MessageQueue& queue, int64_t offset, bool increase_only) {
  if (offset < 0) return;
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = offsets_.emplace(queue, offset);
  if (!inserted && (!increase_only || offset > it->second)) it->second = offset;
}

absl::optional<int64_t> OffsetStore::ReadFromMemory(const MessageQueue& queue) const {
  absl::MutexLock lock(&mu_);
  auto it = offsets_.find(queue);
  if (it == offsets_.end()) return absl::nullopt;
  return it->second;
}

std::map<MessageQueue, int64_t> OffsetStore::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return offsets_;
}

void OffsetStore::Forget(const MessageQueue& queue) {
  absl::MutexLock lock(&mu_);
  offsets_.erase(queue);
}

RemoteOffsetStore::RemoteOffsetStore(QueryFn query, UpdateFn update)
    : query_(std::move(query)), update_(std::move(update)) {}

absl::StatusOr<int64_t> RemoteOffsetStore::ReadFromStore(const MessageQueue& queue) {
  absl::StatusOr<int64_t> offset = query_(queue);
  if (offset.ok()) {
    absl::MutexLock lock(&persisted_mu_);
    persisted_[queue] = *offset;
  }
  return offset;
}

void RemoteOffsetStore::Persist(const std::vector<MessageQueue>& queues) {
  for (const MessageQueue& queue : queues) {
    absl::optional<int64_t> offset = ReadFromMemory(queue);
    if (!offset.has_value()) continue;
    {
      absl::MutexLock lock(&persisted_mu_);
      auto it = persisted_.find(queue);
      if (it != persisted_.end() && it->second == *offset) continue;
    }
    absl::Status status = update_(queue, *offset);
    if (!status.ok()) {
      LOG(WARNING) << "committing offset " << *offset << " of " << queue.ToString()
                   << " failed: " << status;
      continue;
    }
    absl::MutexLock lock(&persisted_mu_);
    persisted_[queue] = *offset;
  }
}

void RemoteOffsetStore::PersistAndRemove(const MessageQueue& queue) {
  Persist({queue});
  Forget(queue);
  absl::MutexLock lock(&persisted_mu_);
  persisted_.erase(queue);
}

LocalOffsetStore::LocalOffsetStore(std::string path) : path_(std::move(path)) {}

absl::Status LocalOffsetStore::Load() {
  std::error_code error;
  if (!std::filesystem::exists(path_, error) && !error) return absl::OkStatus();
  std::ifstream in(path_);
  if (!in.is_open()) return absl::UnavailableError(absl::StrCat("cannot open offset file ", path_));
  std::map<MessageQueue, int64_t> loaded;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    MessageQueue queue;
    int64_t offset = 0;
    if (fields.size() != 4 || !absl::SimpleAtoi(fields[2], &queue.queue_id) ||
        !absl::SimpleAtoi(fields[3], &offset) || offset < 0) {
      return absl::DataLossError(
          absl::StrCat("offset file ", path_, " line ", line_number, " is malformed: ", line));
    }
    queue.topic = fields[0];
    queue.broker_name = fields[1];
    loaded[queue] = offset;
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [queue, offset] : loaded) offsets_[queue] = offset;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> LocalOffsetStore::ReadFromStore(const MessageQueue& queue) {
  absl::optional<int64_t> offset = ReadFromMemory(queue);
  if (!offset.has_value()) {
    return absl::NotFoundError(absl::StrCat("no local offset for ", queue.ToString()));
  }
  return *offset;
}

absl::Status LocalOffsetStore::WriteFile() {
  std::ostringstream content;
  content << "# consume offsets: topic, broker name, queue id, next offset\n";
  for (const auto& [queue, offset] : Snapshot()) {
    content << queue.topic << '\t' << queue.broker_name << '\t' << queue.queue_id << '\t' << offset
            << '\n';
  }
  absl::MutexLock lock(&file_mu_);
  std::error_code error;
  const std::filesystem::path path(path_);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create the directory of ", path_, ": ", error.message()));
  }
  const std::string temp = path_ + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << content.str();
    out.flush();
    if (!out.good()) return absl::UnavailableError(absl::StrCat("cannot write ", temp));
  }
  if (std::rename(temp.c_str(), path_.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", temp, " to ", path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void LocalOffsetStore::Persist(const std::vector<MessageQueue>&) {
  absl::Status status = WriteFile();
  if (!status.ok()) LOG(WARNING) << "persisting offsets: " << status;
}

void LocalOffsetStore::PersistAndRemove(const MessageQueue& queue) { Persist({queue}); }

}  // namespace mq::client_internal
