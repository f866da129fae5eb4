// What encoding and checking a record costs per message: the CRC the store
// computes for every append (RecordTailCrc), and the checked decode plus body
// CRC a consumer does for every pulled record. 1 KiB bodies, a short topic
// and the properties a Producer sets (a unique key and a tag).
#include <string>

#include "benchmark/benchmark.h"
#include "common/format/crc32.h"
#include "common/format/record_format.h"
#include "glog/logging.h"

namespace mq::format {
namespace {

constexpr absl::string_view kProperties =
    "UNIQ_KEY\x01"
    "7F0000010B3418B4AAC2148E8A4E0000\x02TAGS\x01TagA";

std::string Bytes(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i * 131 + 7);
  return bytes;
}

MessageRecord Record(const std::string& body) {
  MessageRecord record;
  record.topic = "Bench";
  record.body = body;
  record.properties = kProperties;
  record.queue_offset = 12345;
  record.physical_offset = 1 << 30;
  return record;
}

void BM_Crc32(benchmark::State& state) {
  const std::string data = Bytes(static_cast<size_t>(state.range(0)));
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = Crc32(crc, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32)->Arg(2)->Arg(8)->Arg(15)->Arg(72)->Arg(1024)->Arg(1115);

void BM_RecordTailCrc(benchmark::State& state) {
  const std::string body = Bytes(1024);
  const MessageRecord record = Record(body);
  for (auto _ : state) benchmark::DoNotOptimize(RecordTailCrc(record));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordTailCrc);

// A pulled record as the consumer checks it: decoded with its CRC, and the
// body's CRC for MessageExt::body_crc.
void BM_DecodeCheckedWithBodyCrc(benchmark::State& state) {
  const std::string body = Bytes(1024);
  const MessageRecord record = Record(body);
  std::string encoded(RecordSize(record), '\0');
  EncodeRecord(record, encoded.data());
  for (auto _ : state) {
    DecodedRecord decoded = DecodeRecord(encoded, /*check_crc=*/true);
    CHECK(decoded.kind == RecordKind::kMessage) << decoded.error;
    benchmark::DoNotOptimize(decoded.body_crc);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeCheckedWithBodyCrc);

}  // namespace
}  // namespace mq::format

BENCHMARK_MAIN();
