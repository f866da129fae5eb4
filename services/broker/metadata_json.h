// JSON encoding of the tables the broker keeps in its store's metadata
// (broker_metadata.proto): readable by an operator, tolerant of fields added
// later.
#ifndef MQ_SERVICES_BROKER_METADATA_JSON_H_
#define MQ_SERVICES_BROKER_METADATA_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace mq::broker {

// Pretty JSON with the proto field names. INTERNAL if the message cannot be
// printed (never for the broker's tables).
absl::StatusOr<std::string> ToMetadataJson(const google::protobuf::Message& message);

// Parses JSON written by ToMetadataJson, ignoring unknown fields.
// INVALID_ARGUMENT when `json` is not such a message.
absl::Status ParseMetadataJson(absl::string_view json, google::protobuf::Message* message);

}  // namespace mq::broker

#endif  // MQ_SERVICES_BROKER_METADATA_JSON_H_
