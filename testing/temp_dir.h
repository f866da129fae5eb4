// Fresh directories for tests.
#ifndef MQ_TESTING_TEMP_DIR_H_
#define MQ_TESTING_TEMP_DIR_H_

#include <string>

namespace mq::testing {

// A new empty directory under the test's temporary directory ($TEST_TMPDIR,
// else /tmp), named `prefix` and a unique suffix. Aborts if it cannot.
std::string MakeTempDir(const std::string& prefix = "test_");

}  // namespace mq::testing

#endif  // MQ_TESTING_TEMP_DIR_H_
