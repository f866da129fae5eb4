#include "testing/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace mq::testing {

std::string RunfilePath(const std::string& workspace_relative_path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return workspace_relative_path;
  return absl::StrCat(srcdir, "/", workspace, "/", workspace_relative_path);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Spawn(
    const std::string& name, const std::string& binary, const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    // Die with the test, so a crashed test leaves no server behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // A clean signal mask: the parent may block signals to wait for them.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(binary.c_str(), argv.data());
    std::fprintf(stderr, "exec %s: %s\n", binary.c_str(), std::strerror(errno));
    _exit(127);
  }
  close(pipe_fds[1]);
  return std::unique_ptr<ServerProcess>(new ServerProcess(name, pid, pipe_fds[0]));
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::string& name, const std::string& binary, const std::vector<std::string>& args,
    absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> spawned = Spawn(name, binary, args);
  if (!spawned.ok()) return spawned.status();
  std::unique_ptr<ServerProcess> process = *std::move(spawned);

  const std::string marker = "listening on ";
  if (!process->WaitForOutput(marker, timeout)) {
    process->Kill();
    return absl::DeadlineExceededError(absl::StrCat(name, " (", binary,
                                                    ") did not report its address within ",
                                                    absl::FormatDuration(timeout), " or exited"));
  }
  absl::MutexLock lock(&process->mu_);
  for (const std::string& line : process->lines_) {
    size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    size_t colon = line.rfind(':');
    int port = 0;
    if (colon != std::string::npos && absl::SimpleAtoi(line.substr(colon + 1), &port)) {
      process->port_ = port;
    }
    break;
  }
  if (process->port_ == 0) {
    return absl::InternalError(absl::StrCat(name, " printed no port"));
  }
  return process;
}

ServerProcess::ServerProcess(std::string name, pid_t pid, int stdout_fd)
    : name_(std::move(name)), pid_(pid), stdout_fd_(stdout_fd) {
  reader_ = std::thread([this] { ReadOutput(); });
}

ServerProcess::~ServerProcess() {
  if (!reaped_) Kill();
  if (reader_.joinable()) reader_.join();
  close(stdout_fd_);
}

void ServerProcess::ReadOutput() {
  std::string pending;
  char buffer[4096];
  while (true) {
    ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, n);
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      std::cerr << "[" << name_ << "] " << line << "\n";
      absl::MutexLock lock(&mu_);
      lines_.push_back(std::move(line));
    }
  }
  absl::MutexLock lock(&mu_);
  eof_ = true;
}

bool ServerProcess::WaitForOutput(const std::string& text, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const std::string& line : lines_) {
      if (line.find(text) != std::string::npos) return true;
    }
    return eof_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  for (const std::string& line : lines_) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

std::vector<std::string> ServerProcess::Lines() {
  absl::MutexLock lock(&mu_);
  return lines_;
}

int ServerProcess::Reap(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    if (r < 0) {
      reaped_ = true;
      return -1;
    }
    if (absl::Now() >= deadline) return -1;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

absl::Status ServerProcess::Stop(absl::Duration timeout) {
  if (reaped_) return absl::FailedPreconditionError(absl::StrCat(name_, " already stopped"));
  kill(pid_, SIGTERM);
  int status = Reap(timeout);
  if (!reaped_) {
    Kill();
    return absl::DeadlineExceededError(
        absl::StrCat(name_, " did not exit within ", absl::FormatDuration(timeout)));
  }
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(name_, " exited with wait status ", status));
  }
  return absl::OkStatus();
}

void ServerProcess::Kill() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  Reap(absl::Seconds(30));
}

absl::StatusOr<ToolResult> RunTool(const std::string& binary, const std::vector<std::string>& args,
                                   absl::Duration timeout) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  ToolResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  const absl::Time deadline = absl::Now() + timeout;
  bool timed_out = false;
  while (open_fds > 0) {
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms <= 0) {
      timed_out = true;
      break;
    }
    const int ready = poll(fds, 2, static_cast<int>(wait_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        sinks[i]->append(buffer, n);
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(binary, " did not finish within ",
                                                    absl::FormatDuration(timeout),
                                                    "; output so far: ", result.out, result.err));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    absl::Status failed = absl::ErrnoToStatus(errno, "binding 127.0.0.1:0");
    close(fd);
    return failed;
  }
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace mq::testing
