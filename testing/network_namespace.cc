#include "testing/network_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace mq::testing {

namespace {

// The full path of `program` found in PATH, or "" if it is not there.
std::string FindInPath(absl::string_view program) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Forks, enters the network namespace at `netns_path` (if not empty) and
// execs `argv`; returns its wait status or an error.
absl::Status ForkAndRun(const std::string& netns_path, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::string command = absl::StrJoin(argv, " ");

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    dup2(STDERR_FILENO, STDOUT_FILENO);
    if (!netns_path.empty()) {
      int fd = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(126);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 126) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot enter ", netns_path, " for `", command, "`"));
  }
  return absl::InternalError(absl::StrCat("`", command, "` failed with wait status ", status));
}

}  // namespace

absl::Status RunCommand(const std::vector<std::string>& argv) { return ForkAndRun("", argv); }

absl::Status CheckNetworkNamespacesAllowed() {
  for (const char* tool : {"ip", "nsenter"}) {
    if (FindInPath(tool).empty())
      return absl::NotFoundError(absl::StrCat("no `", tool, "` on PATH"));
  }
  absl::StatusOr<std::unique_ptr<NetworkNamespace>> probe = NetworkNamespace::Create("probe");
  if (!probe.ok()) return probe.status();
  if (absl::Status veth = (*probe)->Run(
          {"ip", "link", "add", "name", "probe0", "type", "veth", "peer", "name", "probe1"});
      !veth.ok()) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create a veth pair: ", veth.message()));
  }
  if (absl::Status bridge =
          (*probe)->Run({"ip", "link", "add", "name", "probebr", "type", "bridge"});
      !bridge.ok()) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create a bridge: ", bridge.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NetworkNamespace>> NetworkNamespace::Create(std::string name) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    // The holder: dies with the test, reports whether unshare worked, sleeps.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int error = unshare(CLONE_NEWNET) == 0 ? 0 : errno;
    (void)!write(pipe_fds[1], &error, sizeof(error));
    if (error != 0) _exit(1);
    while (true) pause();
  }
  close(pipe_fds[1]);
  int error = -1;
  ssize_t n;
  do {
    n = read(pipe_fds[0], &error, sizeof(error));
  } while (n < 0 && errno == EINTR);
  close(pipe_fds[0]);
  std::unique_ptr<NetworkNamespace> ns(new NetworkNamespace(std::move(name), pid));
  if (n != sizeof(error) || error != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "unshare(CLONE_NEWNET): ", n == sizeof(error) ? std::strerror(error) : "the holder died"));
  }
  return ns;
}

NetworkNamespace::~NetworkNamespace() {
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

absl::Status NetworkNamespace::Run(const std::vector<std::string>& argv) const {
  return ForkAndRun(absl::StrCat("/proc/", pid_, "/ns/net"), argv);
}

std::pair<std::string, std::vector<std::string>> NetworkNamespace::Enter(
    const std::string& binary, const std::vector<std::string>& args) const {
  std::vector<std::string> nsenter_args = {absl::StrCat("--net=/proc/", pid_, "/ns/net"), "--",
                                           binary};
  nsenter_args.insert(nsenter_args.end(), args.begin(), args.end());
  return {FindInPath("nsenter"), nsenter_args};
}

}  // namespace mq::testing
