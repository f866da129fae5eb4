#include "tests/support/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mq::testing {

std::string RunfilePath(const std::string& workspace_relative_path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return workspace_relative_path;
  return absl::StrCat(srcdir, "/", workspace, "/", workspace_relative_path);
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/", prefix, "XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    std::cerr << "mkdtemp " << pattern << ": " << std::strerror(errno) << "\n";
    std::abort();
  }
  return std::string(buffer.data());
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

}  // namespace mq::testing
