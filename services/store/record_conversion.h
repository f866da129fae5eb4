// From the store.proto append entry the store's API takes to the commit-log
// record (common/format). The way back is format::ToMessageExtProto.
#ifndef MQ_SERVICES_STORE_RECORD_CONVERSION_H_
#define MQ_SERVICES_STORE_RECORD_CONVERSION_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "common/format/record_format.h"
#include "proto/common.pb.h"
#include "proto/store.pb.h"

namespace mq::store {

// A record to append, with the storage its views point into.
struct PendingRecord {
  format::MessageRecord record;
  std::string properties;
};

// The store's own rules for an entry, whoever sent it (the store is a public
// gRPC service): a valid topic name, a queue id in 0..1023, only the sys_flag
// bits the store implements, no negative born time or reconsume count.
// INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateAppendEntry(const v1::AppendEntry& entry);

// Fills `out` from an append entry once ValidateAppendEntry() passed;
// `out->record`'s views point into `entry` and `out->properties`, which must
// outlive it. INVALID_ARGUMENT (the entry's rules, properties with separator
// characters, hosts that are not IPv4 "a.b.c.d:port").
absl::Status ToPendingRecord(const v1::AppendEntry& entry, PendingRecord* out);

}  // namespace mq::store

#endif  // MQ_SERVICES_STORE_RECORD_CONVERSION_H_
