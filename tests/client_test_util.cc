#include "tests/client_test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_options.h"
#include "common/status.h"
#include "proto/broker.grpc.pb.h"
#include "proto/namesrv.grpc.pb.h"

namespace mq::testing {
namespace {

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return context;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> StartStandalone(
    const std::string& data_dir, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--port=0",
                                   "--listen_address=127.0.0.1",
                                   absl::StrCat("--data_dir=", data_dir),
                                   "--broker_name=broker-a",
                                   "--commit_log_file_size=16777216",
                                   "--consume_queue_units_per_file=20000",
                                   "--index_slot_count=20000",
                                   "--index_max_entries=200000",
                                   "--shutdown_grace=1s"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::Start("standalone", RunfilePath("services/standalone/standalone"), args);
}

absl::Status CreateTopic(const std::string& broker_address, const std::string& topic,
                         int queue_nums) {
  std::unique_ptr<broker::v1::Broker::Stub> stub =
      broker::v1::Broker::NewStub(CreateChannel(broker_address));
  broker::v1::CreateOrUpdateTopicRequest request;
  common::v1::TopicConfig* config = request.mutable_config();
  config->set_topic_name(topic);
  config->set_read_queue_nums(queue_nums);
  config->set_write_queue_nums(queue_nums);
  config->set_perm(common::v1::PERM_READ | common::v1::PERM_WRITE);
  broker::v1::CreateOrUpdateTopicResponse response;
  std::unique_ptr<grpc::ClientContext> context = Context();
  return FromGrpcStatus(stub->CreateOrUpdateTopic(context.get(), request, &response), *context);
}

absl::Status WaitForRoute(const std::string& namesrv_address, const std::string& topic,
                          int broker_groups, absl::Duration timeout) {
  std::unique_ptr<namesrv::v1::NameServer::Stub> stub =
      namesrv::v1::NameServer::NewStub(CreateChannel(namesrv_address));
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  while (absl::Now() < deadline) {
    namesrv::v1::GetRouteInfoByTopicRequest request;
    request.set_topic(topic);
    namesrv::v1::GetRouteInfoByTopicResponse response;
    std::unique_ptr<grpc::ClientContext> context = Context();
    last = FromGrpcStatus(stub->GetRouteInfoByTopic(context.get(), request, &response), *context);
    if (last.ok() && response.route().queue_datas_size() >= broker_groups) return last;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "the route of ", topic, " did not list ", broker_groups, " broker group(s) within ",
      absl::FormatDuration(timeout), ": ", last.ToString()));
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

}  // namespace mq::testing
