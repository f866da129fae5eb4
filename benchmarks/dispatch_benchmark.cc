// What the dispatcher and the readers pay per message in the consume queue
// and the index, with RocketMQ's default file sizes, on real files under
// $TEST_TMPDIR (or /tmp).
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "glog/logging.h"
#include "services/store/consume_queue.h"
#include "services/store/index_service.h"

namespace mq::store {
namespace {

std::string MakeDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/dispatch_bench_XXXXXX");
  CHECK(mkdtemp(pattern.data()) != nullptr) << pattern;
  return pattern;
}

void BM_ConsumeQueuePutUnit(benchmark::State& state) {
  ConsumeQueue queue("T", 0, MakeDir());
  CHECK(queue.Load().ok());
  int64_t q = 0;
  for (auto _ : state) {
    CHECK(queue.PutUnit(QueueOffset(q), PhysicalOffset(q * 300), 300, q % 16).ok());
    ++q;
  }
  state.SetItemsProcessed(state.iterations());
  CHECK(queue.Destroy().ok());
}
BENCHMARK(BM_ConsumeQueuePutUnit);

void BM_ConsumeQueueGetUnits32(benchmark::State& state) {
  ConsumeQueue queue("T", 0, MakeDir());
  CHECK(queue.Load().ok());
  constexpr int64_t kUnits = 1'000'000;
  for (int64_t q = 0; q < kUnits; ++q)
    CHECK(queue.PutUnit(QueueOffset(q), PhysicalOffset(q * 300), 300, 0).ok());
  int64_t q = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(queue.GetUnits(QueueOffset(q), 32));
    q = (q + 32) % (kUnits - 32);
  }
  state.SetItemsProcessed(state.iterations() * 32);
  CHECK(queue.Destroy().ok());
}
BENCHMARK(BM_ConsumeQueueGetUnits32);

// Two index keys per message (a unique id and one key), as a typical send.
void BM_IndexPut(benchmark::State& state) {
  IndexServiceOptions options;
  options.dir = MakeDir();
  auto index = IndexService::Open(options);
  CHECK(index.ok());
  int64_t i = 0;
  for (auto _ : state) {
    CHECK((*index)
              ->Put("TopicTest", absl::StrCat("order-", i % 100'000),
                    absl::StrCat("7F0000010001", i), i * 300, 1'700'000'000'000 + i)
              .ok());
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  CHECK((*index)->TruncateByPhysicalOffset(0).ok());
}
BENCHMARK(BM_IndexPut);

void BM_IndexQuery(benchmark::State& state) {
  IndexServiceOptions options;
  options.dir = MakeDir();
  auto index = IndexService::Open(options);
  CHECK(index.ok());
  constexpr int kMessages = 1'000'000;
  for (int i = 0; i < kMessages; ++i) {
    CHECK((*index)
              ->Put("TopicTest", absl::StrCat("order-", i % 100'000),
                    absl::StrCat("7F0000010001", i), int64_t{i} * 300, 1'700'000'000'000 + i)
              .ok());
  }
  int i = 0;
  for (auto _ : state) {
    std::vector<int64_t> found =
        (*index)->Query("TopicTest", absl::StrCat("order-", i % 100'000), 64);
    CHECK_GE(found.size(), 10u);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  CHECK((*index)->TruncateByPhysicalOffset(0).ok());
}
BENCHMARK(BM_IndexQuery);

}  // namespace
}  // namespace mq::store

BENCHMARK_MAIN();
