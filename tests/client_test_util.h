// Helpers of the client end-to-end tests: a standalone server, topics created
// on brokers, waiting for routes, and running a command-line tool to
// completion with its output captured.
#ifndef MQ_TESTS_CLIENT_TEST_UTIL_H_
#define MQ_TESTS_CLIENT_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/server_process.h"

namespace mq::testing {

// The standalone server (name server + broker "broker-a" + store) on a
// loopback port over `data_dir`, with small files; `extra` adds flags.
absl::StatusOr<std::unique_ptr<ServerProcess>> StartStandalone(
    const std::string& data_dir, const std::vector<std::string>& extra = {});

// CreateOrUpdateTopic on the broker at `broker_address`: `queue_nums` read and
// write queues, read-write permission.
absl::Status CreateTopic(const std::string& broker_address, const std::string& topic,
                         int queue_nums);

// Waits until the name server's route of `topic` names `broker_groups` broker
// groups (brokers register a new topic at once, asynchronously).
absl::Status WaitForRoute(const std::string& namesrv_address, const std::string& topic,
                          int broker_groups, absl::Duration timeout = absl::Seconds(20));

struct ToolResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `binary` with `args` to completion (killed after `timeout`, which is
// then an error) and returns its exit code and output.
absl::StatusOr<ToolResult> RunTool(const std::string& binary, const std::vector<std::string>& args,
                                   absl::Duration timeout = absl::Seconds(30));

}  // namespace mq::testing

#endif  // MQ_TESTS_CLIENT_TEST_UTIL_H_
