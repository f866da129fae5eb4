#include "mq/client_options.h"

namespace mq {

const char* ServiceStateName(ServiceState state) {
  switch (state) {
    case ServiceState::kCreateJust:
      return "CREATE_JUST";
    case ServiceState::kRunning:
      return "RUNNING";
    case ServiceState::kStartFailed:
      return "START_FAILED";
    case ServiceState::kShutdownAlready:
      return "SHUTDOWN_ALREADY";
  }
  return "UNKNOWN";
}

}  // namespace mq
