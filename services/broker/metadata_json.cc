#include "services/broker/metadata_json.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace mq::broker {

absl::StatusOr<std::string> ToMetadataJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot encode ", message.GetTypeName(), " as JSON: ", status.ToString()));
  }
  return json;
}

absl::Status ParseMetadataJson(absl::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a ", message->GetTypeName(), " in JSON: ", status.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace mq::broker
