#include "common/metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace mq::metrics {
namespace {

// Fields of /proc/self/stat after the command name (which may hold spaces):
// index 0 is the state (field 3 of proc(5)).
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const size_t end_of_name = line.rfind(')');
  if (end_of_name == std::string::npos) return {};
  return absl::StrSplit(line.substr(end_of_name + 2), ' ', absl::SkipEmpty());
}

double OpenFds() {
  std::error_code error;
  double count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  return count;
}

}  // namespace

void AddProcessCollector(Registry* registry) {
  const double start_time = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  registry->AddCollector([start_time](Collection* collection) {
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    const std::vector<std::string> fields = StatFields();
    // utime and stime are fields 14 and 15, rss field 24 (proc(5)).
    if (fields.size() > 21) {
      const double cpu = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
      collection->Counter("process_cpu_seconds_total",
                          "User and system CPU time spent, in seconds.", {}, {}, cpu);
      collection->Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {}, {},
                        std::stod(fields[21]) * page);
    }
    collection->Gauge("process_open_fds", "Open file descriptors.", {}, {}, OpenFds());
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      collection->Gauge("process_max_fds", "The most file descriptors the process may open.", {},
                        {}, static_cast<double>(limit.rlim_cur));
    }
    collection->Gauge("process_start_time_seconds",
                      "Start time of the process since the Unix epoch, in seconds.", {}, {},
                      start_time);
  });
}

}  // namespace mq::metrics
