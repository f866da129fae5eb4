// Network namespaces for tests that need several "hosts" on one machine.
//
// A namespace lives as long as a process is in it: NetworkNamespace forks a
// holder process into a fresh namespace and keeps it sleeping there. Deleting
// the object (or the test dying: the holder has PR_SET_PDEATHSIG) kills the
// holder, and once the programs started in the namespace have exited too, the
// kernel deletes the namespace with every interface in it (a veth pair goes
// when either end goes). Nothing is named in /run/netns and nothing is left in
// the test's own namespace, so no cleanup can be forgotten.
#ifndef MQ_TESTING_NETWORK_NAMESPACE_H_
#define MQ_TESTING_NETWORK_NAMESPACE_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mq::testing {

// Runs `argv` (argv[0] looked up in PATH) in the test's own namespace and
// waits; an error carries the exit status. Its output goes to the test's stderr.
absl::Status RunCommand(const std::vector<std::string>& argv);

// OK if this process may create network namespaces, veth pairs and bridges
// (root, or CAP_SYS_ADMIN + CAP_NET_ADMIN, and a kernel that allows them) and
// has the `ip` and `nsenter` tools; otherwise the reason.
absl::Status CheckNetworkNamespacesAllowed();

// One network namespace, with only a loopback interface (down) at first.
// Not thread-safe.
class NetworkNamespace {
 public:
  // `name` is only for messages.
  static absl::StatusOr<std::unique_ptr<NetworkNamespace>> Create(std::string name);

  // Kills the holder process.
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  const std::string& name() const { return name_; }
  // The holder's pid: `ip link ... netns <pid>` moves an interface here.
  pid_t pid() const { return pid_; }

  // Runs `argv` inside the namespace and waits, like RunCommand.
  absl::Status Run(const std::vector<std::string>& argv) const;

  // The command that runs `binary` with `args` inside the namespace, as
  // (program, arguments) for ServerProcess: nsenter execs the binary, so the
  // started process is the binary itself (signals reach it directly).
  std::pair<std::string, std::vector<std::string>> Enter(
      const std::string& binary, const std::vector<std::string>& args) const;

 private:
  NetworkNamespace(std::string name, pid_t pid) : name_(std::move(name)), pid_(pid) {}

  const std::string name_;
  const pid_t pid_;
};

}  // namespace mq::testing

#endif  // MQ_TESTING_NETWORK_NAMESPACE_H_
