#include "benchmarks/suite/server_memory.h"

#include <algorithm>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mq::bench {
namespace {

// The value in KiB of `field` ("RssAnon:") in /proc/PID/status, or 0.
int64_t StatusKib(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, field)) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, " kB");
    int64_t kib = 0;
    return absl::SimpleAtoi(rest, &kib) ? kib : 0;
  }
  return 0;
}

}  // namespace

MemorySampler::MemorySampler(std::vector<pid_t> pids)
    : pids_(std::move(pids)), thread_([this] {
        do {
          Sample();
        } while (!stop_.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
      }) {}

MemorySampler::~MemorySampler() { Stop(); }

void MemorySampler::Sample() {
  int64_t anon = 0;
  int64_t file = 0;
  for (pid_t pid : pids_) {
    anon += StatusKib(pid, "RssAnon:");
    file += StatusKib(pid, "RssFile:");
  }
  absl::MutexLock lock(&mu_);
  peak_.anon_mib = std::max(peak_.anon_mib, anon / 1024.0);
  peak_.file_mib = std::max(peak_.file_mib, file / 1024.0);
}

MemoryPeak MemorySampler::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  return peak_;
}

}  // namespace mq::bench
