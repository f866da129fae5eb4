// Leaves nothing behind when the benchmark is interrupted (Ctrl-C, SIGTERM,
// SIGHUP): the servers it started are killed and its data directory (gigabytes
// of commit log) is removed before it exits.
#ifndef MQ_BENCHMARKS_SUITE_CLEANUP_ON_SIGNAL_H_
#define MQ_BENCHMARKS_SUITE_CLEANUP_ON_SIGNAL_H_

#include <string>

namespace mq::bench {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every
// thread started after it: call it first in main) and starts a thread that,
// on one of them, kills this process's children, waits for them, removes
// `dir` and exits with 128 + the signal. Children started with
// testing::ServerProcess get a clean signal mask.
void CleanUpOnSignal(std::string dir);

}  // namespace mq::bench

#endif  // MQ_BENCHMARKS_SUITE_CLEANUP_ON_SIGNAL_H_
