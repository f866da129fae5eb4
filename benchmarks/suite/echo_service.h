// The null echo server of the benchmark suite, on gRPC's callback API as the
// broker's service, so both pay the same server-side transport costs.
#ifndef MQ_BENCHMARKS_SUITE_ECHO_SERVICE_H_
#define MQ_BENCHMARKS_SUITE_ECHO_SERVICE_H_

namespace mq::bench {

// Serves Echo on an ephemeral loopback port, prints "echo listening on
// 127.0.0.1:PORT" and runs until killed. Returns a process exit code.
int ServeEcho();

}  // namespace mq::bench

#endif  // MQ_BENCHMARKS_SUITE_ECHO_SERVICE_H_
