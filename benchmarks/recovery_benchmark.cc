// Recovery time of a store after an unclean stop: a child process fills a
// store with --gib GiB of 1 KiB messages (async flush, a few topics and
// queues, keys indexed) and exits without shutting it down, as `kill -9`
// would leave it. The parent then times MessageStore::Open, which verifies
// the commit log from the checkpoint (CRC of every record), truncates, and
// rebuilds consume queues and index up to the end before returning.
// Prints seconds per GiB.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "services/store/message_store.h"

ABSL_FLAG(std::string, dir, "/tmp", "Directory under which the store is created (and deleted).");
ABSL_FLAG(double, gib, 1.0, "GiB of messages to write before the unclean stop.");
ABSL_FLAG(int32_t, body_bytes, 1024, "Message body size.");
ABSL_FLAG(int64_t, file_size, int64_t{1} << 30, "Commit-log file size.");

namespace mq::store {
namespace {

MessageStoreOptions Options(const std::string& root) {
  MessageStoreOptions options;
  options.root_dir = root;
  options.commit_log_file_size = absl::GetFlag(FLAGS_file_size);
  options.clean_initial_delay = absl::Hours(1);
  return options;
}

// Runs in the child: writes and leaves without a clean shutdown.
[[noreturn]] void Fill(const std::string& root) {
  absl::StatusOr<std::unique_ptr<MessageStore>> store = MessageStore::Open(Options(root));
  CHECK(store.ok()) << store.status();
  const int32_t body = absl::GetFlag(FLAGS_body_bytes);
  const int64_t target = static_cast<int64_t>(absl::GetFlag(FLAGS_gib) * (1 << 30));
  constexpr int kBatch = 64;
  int64_t n = 0;
  while ((*store)->max_physical_offset() < target) {
    v1::AppendBatchRequest request;
    for (int i = 0; i < kBatch; ++i, ++n) {
      v1::AppendEntry* entry = request.add_entries();
      entry->mutable_message()->set_topic(absl::StrCat("Bench", n % 4));
      entry->mutable_message()->set_body(std::string(body, 'b'));
      (*entry->mutable_message()->mutable_properties())["KEYS"] = absl::StrCat("k", n);
      (*entry->mutable_message()->mutable_properties())["UNIQ_KEY"] = absl::StrCat("U", n);
      entry->set_queue_id(static_cast<int32_t>(n % 8));
      entry->set_store_host("127.0.0.1:10911");
    }
    CHECK((*store)->AppendBatch(request).ok());
  }
  std::printf("wrote %ld messages, %.3f GiB of commit log\n", static_cast<long>(n),
              static_cast<double>((*store)->max_physical_offset()) / (1 << 30));
  std::fflush(stdout);
  _exit(0);
}

int Main() {
  std::string root = absl::StrCat(absl::GetFlag(FLAGS_dir), "/recovery_bench_", getpid());
  pid_t child = fork();
  CHECK_GE(child, 0);
  if (child == 0) Fill(root);
  int status = 0;
  CHECK_EQ(waitpid(child, &status, 0), child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "filler failed: " << status;

  // The page cache still holds the files, as after a process crash (not a
  // machine crash, which would add the time to read them from disk).
  absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<MessageStore>> store = MessageStore::Open(Options(root));
  absl::Duration took = absl::Now() - start;
  CHECK(store.ok()) << store.status();
  double gib = static_cast<double>((*store)->max_physical_offset()) / (1 << 30);
  std::printf("unclean recovery of %.3f GiB: %.2f s (%.2f s per GiB), dispatched to %ld\n", gib,
              absl::ToDoubleSeconds(took), absl::ToDoubleSeconds(took) / gib,
              static_cast<long>((*store)->dispatched_offset()));
  CHECK((*store)->Shutdown().ok());
  store->reset();
  std::filesystem::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace mq::store

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  return mq::store::Main();
}
