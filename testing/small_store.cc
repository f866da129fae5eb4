#include "testing/small_store.h"

#include <gtest/gtest.h>

#include <utility>

#include "testing/wait.h"
#include "common/units.h"

namespace mq::testing {

store::MessageStoreOptions SmallStoreOptions(const std::string& dir) {
  store::MessageStoreOptions options;
  options.root_dir = dir;
  options.commit_log_file_size = 1_MiB;
  options.max_message_body_bytes = 256_KiB;
  options.consume_queue_units_per_file = 1000;
  options.index_slot_count = 1000;
  options.index_max_entries = 4000;
  options.clean_initial_delay = absl::Hours(1);
  options.disk_used_ratio = [](const std::string&) -> absl::StatusOr<double> { return 0.1; };
  return options;
}

std::unique_ptr<store::MessageStore> OpenSmallStore(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<store::MessageStore>> store =
      store::MessageStore::Open(SmallStoreOptions(dir));
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

bool WaitForDispatch(const store::MessageStore& store, absl::Duration timeout) {
  return WaitUntil([&store] { return store.dispatched_offset() >= store.max_physical_offset(); },
                   timeout);
}

}  // namespace mq::testing
