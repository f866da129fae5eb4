// Sets or unsets an environment variable for a test's scope and restores the
// value it had, so a test does not depend on the environment it runs in.
#ifndef MQ_TESTING_SCOPED_ENV_H_
#define MQ_TESTING_SCOPED_ENV_H_

#include <cstdlib>
#include <optional>
#include <string>

namespace mq::testing {

class ScopedEnv {
 public:
  // Unsets `name` while this lives.
  explicit ScopedEnv(std::string name) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str()); old != nullptr) old_ = old;
    unsetenv(name_.c_str());
  }
  // Sets `name` to `value` while this lives.
  ScopedEnv(std::string name, const std::string& value) : ScopedEnv(std::move(name)) {
    setenv(name_.c_str(), value.c_str(), 1);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_.has_value()) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  const std::string name_;
  std::optional<std::string> old_;
};

}  // namespace mq::testing

#endif  // MQ_TESTING_SCOPED_ENV_H_
