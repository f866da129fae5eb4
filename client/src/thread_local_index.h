// A round-robin counter per (thread, index object), as RocketMQ's ThreadLocalIndex.
#ifndef MQ_CLIENT_SRC_THREAD_LOCAL_INDEX_H_
#define MQ_CLIENT_SRC_THREAD_LOCAL_INDEX_H_

#include <cstdint>

namespace mq::client_internal {

// Each thread sees its own counter for each ThreadLocalIndex, starting at a
// random value, so threads do not contend and do not all start on the same
// queue. Every object gets a never-reused id; a thread keeps one small map
// entry per object it has used. Thread-safe.
class ThreadLocalIndex {
 public:
  ThreadLocalIndex();

  ThreadLocalIndex(const ThreadLocalIndex&) = delete;
  ThreadLocalIndex& operator=(const ThreadLocalIndex&) = delete;

  // This thread's next value, in [0, 2^31).
  uint32_t IncrementAndGet() const;

 private:
  const uint64_t id_;
};

}  // namespace mq::client_internal

#endif  // MQ_CLIENT_SRC_THREAD_LOCAL_INDEX_H_
