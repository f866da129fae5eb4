// The real in-process store sized for tests (small files and index): the one
// set of small store options of the unit tests, and a store opened with them
// for broker tests that exercise store behaviour (dispatch, queue offsets, tag
// filtering, watch events, metadata). Server processes started by tests use
// tools/small_store.flags instead (testing/cluster_processes.h).
#ifndef MQ_TESTING_SMALL_STORE_H_
#define MQ_TESTING_SMALL_STORE_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "services/store/message_store.h"

namespace mq::testing {

// Options for a store in `dir` with small files, no clean-up in the first
// hour and a disk that is 10% used.
store::MessageStoreOptions SmallStoreOptions(const std::string& dir);

// Opens a store with SmallStoreOptions(dir); fails the test (and returns
// null) if it cannot.
std::unique_ptr<store::MessageStore> OpenSmallStore(const std::string& dir);

// Waits until everything appended so far is dispatched to the consume queues
// (reads see it). False after `timeout`.
bool WaitForDispatch(const store::MessageStore& store, absl::Duration timeout = absl::Seconds(10));

}  // namespace mq::testing

#endif  // MQ_TESTING_SMALL_STORE_H_
