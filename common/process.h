// Start-up and shutdown of a server process: flags, logging, signals.
#ifndef MQ_COMMON_PROCESS_H_
#define MQ_COMMON_PROCESS_H_

namespace mq {

// Parses absl flags (exits with a usage message on a bad flag), sends glog
// output to stderr, and blocks SIGINT and SIGTERM in this thread and every
// thread started after it, so WaitForShutdownSignal() can take them.
// Call first in main().
void InitServerProcess(int argc, char** argv, const char* usage);

// Blocks until SIGINT or SIGTERM arrives; returns the signal number.
int WaitForShutdownSignal();

}  // namespace mq

#endif  // MQ_COMMON_PROCESS_H_
