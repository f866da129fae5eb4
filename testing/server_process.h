// Starts a server binary of this project as a child process for integration
// tests, waits until it prints the line saying where it listens, and stops it;
// runs a command-line tool to completion with its output captured.
#ifndef MQ_TESTING_SERVER_PROCESS_H_
#define MQ_TESTING_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace mq::testing {

// Path of a binary built by Bazel and listed in the test's `data`, e.g.
// "services/namesrv/namesrv".
std::string RunfilePath(const std::string& workspace_relative_path);

// One child process. Its stdout is read line by line (and echoed to the test's
// stderr with a prefix); its stderr goes to the test's stderr. The destructor
// kills the process if it still runs. Not thread-safe except where noted.
class ServerProcess {
 public:
  // Starts `binary` with `args`; returns once it printed a line containing
  // "listening on HOST:PORT" (the port is then port()), or an error if it exited
  // or stayed silent for `timeout`.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::string& name, const std::string& binary, const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(60));

  // Starts `binary` with `args` and returns at once, without waiting for any
  // output (port() stays 0): for clients and drivers rather than servers.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Spawn(const std::string& name,
                                                              const std::string& binary,
                                                              const std::vector<std::string>& args);

  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

  // Sends SIGTERM and waits up to `timeout` for a clean exit; returns the exit
  // status as an error if it was not 0, or if it had to be killed.
  absl::Status Stop(absl::Duration timeout = absl::Seconds(30));

  // SIGKILL, then reaps the process.
  void Kill();

  // Waits until a stdout line contains `text`. Thread-safe.
  bool WaitForOutput(const std::string& text, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // Every stdout line so far, oldest first. Thread-safe.
  std::vector<std::string> Lines() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  ServerProcess(std::string name, pid_t pid, int stdout_fd);
  void ReadOutput() ABSL_LOCKS_EXCLUDED(mu_);
  // Reaps the child within `timeout`; returns its wait status or -1.
  int Reap(absl::Duration timeout);

  const std::string name_;
  const pid_t pid_;
  const int stdout_fd_;
  int port_ = 0;
  bool reaped_ = false;
  std::thread reader_;

  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
};

struct ToolResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `binary` with `args` to completion (killed after `timeout`, which is
// then an error) and returns its exit code and output.
absl::StatusOr<ToolResult> RunTool(const std::string& binary, const std::vector<std::string>& args,
                                   absl::Duration timeout = absl::Seconds(30));

// A TCP port of 127.0.0.1 free when asked (the kernel's pick), for a server
// flag that takes no 0 (--metrics_port).
absl::StatusOr<int> FreeLoopbackPort();

}  // namespace mq::testing

#endif  // MQ_TESTING_SERVER_PROCESS_H_
