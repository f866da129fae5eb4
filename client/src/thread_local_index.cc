#include "client/src/thread_local_index.h"

#include <atomic>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"

namespace mq::client_internal {
namespace {

std::atomic<uint64_t> next_index_id{1};

}  // namespace

ThreadLocalIndex::ThreadLocalIndex() : id_(next_index_id.fetch_add(1)) {}

uint32_t ThreadLocalIndex::IncrementAndGet() const {
  thread_local absl::flat_hash_map<uint64_t, uint32_t> counters;
  auto [it, inserted] = counters.try_emplace(id_, 0);
  if (inserted) {
    thread_local absl::BitGen gen;
    it->second = absl::Uniform<uint32_t>(gen);
  }
  return ++it->second & 0x7FFFFFFFu;
}

}  // namespace mq::client_internal
