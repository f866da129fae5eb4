// What a consumer pays per pulled message to turn a stored-records answer into
// MessageExt: the checked decode (record CRC), the properties, the body copy,
// the ids and the hosts. One answer of 128 records as a Producer stores them:
// 1 KiB bodies, a unique key and a tag.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/src/pulled_message.h"
#include "client/src/subscription.h"
#include "common/format/record_format.h"
#include "common/units.h"
#include "glog/logging.h"

namespace mq::client_internal {
namespace {

broker::v1::PullMessageResponse Answer(int records) {
  broker::v1::PullMessageResponse answer;
  std::string body(1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 131 + 7);
  for (int i = 0; i < records; ++i) {
    std::string properties =
        *format::EncodeProperties(std::vector<std::pair<std::string, std::string>>{
            {"UNIQ_KEY", "7F0000010B3418B4AAC2148E8A4E" + std::to_string(1000 + i)},
            {"TAGS", "TagA"}});
    format::MessageRecord record;
    record.queue_id = 3;
    record.queue_offset = i;
    record.physical_offset = int64_t{1} << 30 | i;
    record.born_host = {0x7F000001, 40000};
    record.store_host = {0x7F000001, 10911};
    record.body = body;
    record.topic = "Bench";
    record.properties = properties;
    std::string bytes(format::RecordSize(record), '\0');
    format::EncodeRecord(record, bytes.data());
    answer.mutable_records()->append(bytes);
  }
  return answer;
}

void BM_MatchingMessages(benchmark::State& state) {
  const int records = static_cast<int>(state.range(0));
  const broker::v1::PullMessageResponse answer = Answer(records);
  const broker::v1::SubscriptionData all = ParseSubscription("Bench", "*");
  for (auto _ : state) {
    absl::StatusOr<std::vector<MessageExt>> messages =
        MatchingMessages(answer, all, "broker-a", 4_MiB);
    CHECK(messages.ok() && messages->size() == static_cast<size_t>(records)) << messages.status();
    benchmark::DoNotOptimize(messages);
  }
  state.SetItemsProcessed(state.iterations() * records);
}
BENCHMARK(BM_MatchingMessages)->Arg(128);

}  // namespace
}  // namespace mq::client_internal

BENCHMARK_MAIN();
