// TEST ONLY. The real in-process store in a fresh temporary directory, sized
// for tests (small files and index), for broker tests that exercise store
// behaviour: dispatch, queue offsets, tag filtering, watch events, metadata.
#ifndef MQ_SERVICES_BROKER_TESTING_MESSAGE_STORE_FOR_TEST_H_
#define MQ_SERVICES_BROKER_TESTING_MESSAGE_STORE_FOR_TEST_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "services/store/message_store.h"

namespace mq::broker::testing {

// Options for a store in `dir` with small files.
store::MessageStoreOptions SmallStoreOptions(const std::string& dir);

// Opens a store with SmallStoreOptions(dir); fails the test (and returns
// null) if it cannot.
std::unique_ptr<store::MessageStore> OpenSmallStore(const std::string& dir);

// Waits until everything appended so far is dispatched to the consume queues
// (reads see it). False after `timeout`.
bool WaitForDispatch(const store::MessageStore& store, absl::Duration timeout = absl::Seconds(10));

}  // namespace mq::broker::testing

#endif  // MQ_SERVICES_BROKER_TESTING_MESSAGE_STORE_FOR_TEST_H_
