#include "benchmarks/suite/cleanup_on_signal.h"

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"

namespace mq::bench {
namespace {

// Kills and reaps every child of this process (found in /proc: ServerProcess
// keeps no list, and the children may be reaped by their owners meanwhile).
void KillChildren() {
  const pid_t self = getpid();
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // "pid (comm) state ppid ...": comm may hold spaces, so parse after ')'.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == self) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
}

}  // namespace

void CleanUpOnSignal(std::string dir) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals, dir = std::move(dir)] {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) return;
    std::cerr << "signal " << signal << ": stopping the servers and removing " << dir << std::endl;
    KillChildren();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    _exit(128 + signal);
  }).detach();
}

}  // namespace mq::bench
